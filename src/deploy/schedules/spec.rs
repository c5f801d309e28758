//! A schedule as the tool manages it: the members of CreateSchedule/UpdateSchedule it sets (REFERENCE A1), built
//! from the config and read back from GetSchedule, so the two compare field by field.

use std::collections::BTreeMap;

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, EcsParameters,
    FlexibleTimeWindow, FlexibleTimeWindowMode, LaunchType, NetworkConfiguration, ScheduleState, Target,
};
use serde::Serialize;
use serde_json::json;

use crate::Error;
use crate::deploy::appspec::{Awsvpc, CapacityProvider};
use crate::deploy::run_task::Launch;

/// Everything a schedule the tool owns says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleSpec {
    pub name: String,
    /// `cron(...)`, `rate(...)` or `at(...)`.
    pub expression: String,
    pub timezone: Option<String>,
    /// 0: `FlexibleTimeWindow {Mode: OFF}`.
    pub flexible_minutes: u32,
    pub enabled: bool,
    pub description: Option<String>,
    /// `ActionAfterCompletion: DELETE` (one-time runs).
    pub delete_after: bool,
    pub cluster_arn: String,
    pub role_arn: String,
    /// `None` until known: the revision the release registers.
    pub task_definition: Option<String>,
    pub launch: Launch,
    pub network: Option<Awsvpc>,
    /// The RunTask overrides as TaskOverride JSON (the ECS target's `Input`); `None` when nothing is overridden.
    #[serde(skip)]
    pub input: Option<String>,
}

/// The target's Input: `{"containerOverrides": [{name, command, environment}]}`, keys in a fixed order so that an
/// unchanged payload compares equal. Values are data, never a shell line.
pub fn overrides_input(container: &str, command: &[String], env: &BTreeMap<String, String>) -> Option<String> {
    if command.is_empty() && env.is_empty() {
        return None;
    }
    let mut item = json!({ "name": container });
    if !command.is_empty() {
        item["command"] = json!(command);
    }
    if !env.is_empty() {
        item["environment"] = json!(env.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>());
    }
    Some(json!({ "containerOverrides": [item] }).to_string())
}

impl ScheduleSpec {
    /// The SDK target (ECS RunTask); `task_definition` is the revision to run.
    pub fn target(&self, task_definition: &str) -> Result<Target, Error> {
        let build = |e: aws_sdk_scheduler::error::BuildError| Error::JobSetup {
            message: format!("schedule `{}`: {e}", self.name),
            help: "check the task's network and capacity settings".into(),
        };
        let mut ecs = EcsParameters::builder()
            .task_definition_arn(task_definition)
            .task_count(1)
            .set_launch_type(self.launch.launch_type.as_deref().map(LaunchType::from))
            .set_platform_version(self.launch.platform_version.clone());
        for c in &self.launch.capacity_providers {
            ecs = ecs.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(&c.name)
                    .base(c.base)
                    .weight(c.weight)
                    .build()
                    .map_err(build)?,
            );
        }
        if let Some(net) = &self.network {
            let vpc = AwsVpcConfiguration::builder()
                .set_subnets(Some(net.subnets.clone()))
                .set_security_groups((!net.security_groups.is_empty()).then(|| net.security_groups.clone()))
                .set_assign_public_ip(net.assign_public_ip.as_deref().map(AssignPublicIp::from))
                .build()
                .map_err(build)?;
            ecs = ecs.network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build());
        }
        Target::builder()
            .arn(&self.cluster_arn)
            .role_arn(&self.role_arn)
            .set_input(self.input.clone())
            .ecs_parameters(ecs.build().map_err(build)?)
            .build()
            .map_err(build)
    }

    pub fn window(&self) -> Result<FlexibleTimeWindow, Error> {
        let mode =
            if self.flexible_minutes == 0 { FlexibleTimeWindowMode::Off } else { FlexibleTimeWindowMode::Flexible };
        FlexibleTimeWindow::builder()
            .mode(mode)
            .set_maximum_window_in_minutes((self.flexible_minutes > 0).then_some(self.flexible_minutes as i32))
            .build()
            .map_err(|e| Error::JobSetup { message: e.to_string(), help: String::new() })
    }

    pub fn state(&self) -> ScheduleState {
        if self.enabled { ScheduleState::Enabled } else { ScheduleState::Disabled }
    }

    pub fn after_completion(&self) -> ActionAfterCompletion {
        if self.delete_after { ActionAfterCompletion::Delete } else { ActionAfterCompletion::None }
    }

    /// A schedule as GetSchedule describes it.
    pub fn from_sdk(name: &str, out: &aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput) -> Self {
        let target = out.target();
        let ecs = target.and_then(|t| t.ecs_parameters());
        let vpc = ecs.and_then(|e| e.network_configuration()).and_then(|n| n.awsvpc_configuration());
        let window = out.flexible_time_window();
        ScheduleSpec {
            name: name.to_owned(),
            expression: out.schedule_expression().unwrap_or_default().to_owned(),
            timezone: out.schedule_expression_timezone().map(str::to_owned),
            flexible_minutes: window
                .filter(|w| *w.mode() == FlexibleTimeWindowMode::Flexible)
                .and_then(|w| w.maximum_window_in_minutes())
                .map_or(0, |m| m.max(0) as u32),
            enabled: out.state() != Some(&ScheduleState::Disabled),
            description: out.description().map(str::to_owned),
            delete_after: out.action_after_completion() == Some(&ActionAfterCompletion::Delete),
            cluster_arn: target.map(|t| t.arn().to_owned()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_owned()).unwrap_or_default(),
            task_definition: ecs.map(|e| e.task_definition_arn().to_owned()),
            launch: Launch {
                launch_type: ecs.and_then(|e| e.launch_type()).map(|l| l.as_str().to_owned()),
                capacity_providers: ecs
                    .map(|e| e.capacity_provider_strategy())
                    .unwrap_or_default()
                    .iter()
                    .map(|c| CapacityProvider {
                        name: c.capacity_provider().to_owned(),
                        base: c.base(),
                        weight: c.weight(),
                    })
                    .collect(),
                platform_version: ecs.and_then(|e| e.platform_version()).map(str::to_owned),
            },
            network: vpc.map(|v| Awsvpc {
                subnets: v.subnets().to_vec(),
                security_groups: v.security_groups().to_vec(),
                assign_public_ip: v.assign_public_ip().map(|a| a.as_str().to_owned()),
            }),
            input: target.and_then(|t| t.input()).map(str::to_owned),
        }
    }
}

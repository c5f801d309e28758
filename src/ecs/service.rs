//! The live service, described once before a deployment: its controller, what it runs, its load
//! balancing and networking (carried into AppSpecs), and its deployments.

use aws_sdk_ecs::types::{Deployment, Service};

use crate::Error;
use crate::deploy::appspec::{Awsvpc, CapacityProvider};
use crate::deploy::strategy::{Controller, ControllerKind};
use crate::deploy::verdict::{DeploymentStatus, DeploymentView, RolloutState};

#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetGroupRef {
    pub arn: String,
    pub container_name: String,
    pub container_port: i32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceInfo {
    pub cluster: String,
    pub name: String,
    pub arn: String,
    pub controller: Controller,
    pub task_definition: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub target_groups: Vec<TargetGroupRef>,
    pub network: Option<Awsvpc>,
    pub capacity_providers: Vec<CapacityProvider>,
    /// The service's launch type (absent when it uses capacity providers).
    pub launch_type: Option<String>,
    pub platform_version: Option<String>,
    pub deployments: Vec<DeploymentView>,
    /// The task definition of the PRIMARY task set (CODE_DEPLOY services: the blue one).
    pub primary_task_set: Option<String>,
    /// The task definitions of its ACTIVE task sets (CODE_DEPLOY: a replacement beside the PRIMARY one; a DRAINING one
    /// is on its way out and serves no traffic).
    pub active_task_sets: Vec<String>,
    /// The last service events, newest first (for diagnostics).
    pub events: Vec<String>,
    /// `deploymentConfiguration.alarms`: ECS's own alarm watch over its deployments.
    pub deployment_alarms: Option<DeploymentAlarms>,
    /// `deploymentConfiguration.deploymentCircuitBreaker`.
    pub circuit_breaker: Option<CircuitBreaker>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeploymentAlarms {
    pub names: Vec<String>,
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

impl ServiceInfo {
    /// What runs now: for a CODE_DEPLOY service its PRIMARY task set's revision, else its PRIMARY
    /// deployment's; the service's own `taskDefinition` when neither is listed.
    pub fn running(&self) -> &str {
        let primary_deployment = self.deployments.iter().find(|d| d.is_primary()).map(|d| d.task_definition.as_str());
        let found = match self.controller.kind {
            ControllerKind::CodeDeploy => self.primary_task_set.as_deref().or(primary_deployment),
            _ => primary_deployment,
        };
        found.filter(|td| !td.is_empty()).unwrap_or(&self.task_definition)
    }
}

pub async fn describe(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<ServiceInfo, Error> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeServices", format!("{cluster}/{service}"), e))?;
    let found = out.services().iter().find(|s| s.status() != Some("INACTIVE"));
    let Some(svc) = found else {
        return Err(Error::ServiceNotFound { cluster: cluster.to_owned(), service: service.to_owned() });
    };
    Ok(info(cluster, svc))
}

/// What the tool reads of a described service.
pub(crate) fn info(cluster: &str, svc: &Service) -> ServiceInfo {
    let config = svc.deployment_configuration();
    let controller = Controller {
        kind: svc.deployment_controller().map_or(ControllerKind::Ecs, |c| ControllerKind::parse(c.r#type().as_str())),
        ecs_strategy: config.and_then(|c| c.strategy()).map(|s| s.as_str().to_owned()),
    };
    // ECS-native blue/green serves the new revision from the alternate target group: the guard watches both.
    let target_groups = svc
        .load_balancers()
        .iter()
        .flat_map(|lb| {
            let alternate = lb.advanced_configuration().and_then(|a| a.alternate_target_group_arn());
            [lb.target_group_arn(), alternate].into_iter().flatten().filter_map(|arn| {
                Some(TargetGroupRef {
                    arn: arn.to_owned(),
                    container_name: lb.container_name()?.to_owned(),
                    container_port: lb.container_port()?,
                })
            })
        })
        .collect();
    let network = svc.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|v| Awsvpc {
        subnets: v.subnets().to_vec(),
        security_groups: v.security_groups().to_vec(),
        assign_public_ip: v.assign_public_ip().map(|a| a.as_str().to_owned()),
    });
    let capacity_providers = svc
        .capacity_provider_strategy()
        .iter()
        .map(|c| CapacityProvider { name: c.capacity_provider().to_owned(), base: c.base(), weight: c.weight() })
        .collect();
    ServiceInfo {
        cluster: cluster.to_owned(),
        name: svc.service_name().unwrap_or_default().to_owned(),
        arn: svc.service_arn().unwrap_or_default().to_owned(),
        controller,
        task_definition: svc.task_definition().unwrap_or_default().to_owned(),
        desired_count: svc.desired_count(),
        running_count: svc.running_count(),
        target_groups,
        network,
        capacity_providers,
        launch_type: svc.launch_type().map(|l| l.as_str().to_owned()),
        platform_version: svc.platform_version().map(str::to_owned),
        deployments: svc.deployments().iter().map(view).collect(),
        primary_task_set: svc
            .task_sets()
            .iter()
            .find(|t| t.status() == Some("PRIMARY"))
            .and_then(|t| t.task_definition())
            .map(str::to_owned),
        active_task_sets: svc
            .task_sets()
            .iter()
            .filter(|t| t.status() == Some("ACTIVE"))
            .map(|t| t.task_definition().unwrap_or_default().to_owned())
            .collect(),
        events: svc.events().iter().take(10).filter_map(|e| e.message().map(str::to_owned)).collect(),
        deployment_alarms: config.and_then(|c| c.alarms()).map(|a| DeploymentAlarms {
            names: a.alarm_names().to_vec(),
            enable: a.enable(),
            rollback: a.rollback(),
        }),
        circuit_breaker: config
            .and_then(|c| c.deployment_circuit_breaker())
            .map(|b| CircuitBreaker { enable: b.enable(), rollback: b.rollback() }),
    }
}

pub fn view(d: &Deployment) -> DeploymentView {
    DeploymentView {
        id: d.id().unwrap_or_default().to_owned(),
        status: DeploymentStatus::parse(d.status().unwrap_or_default()),
        task_definition: d.task_definition().unwrap_or_default().to_owned(),
        rollout_state: d.rollout_state().and_then(|s| RolloutState::parse(s.as_str())),
        rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
        running: d.running_count(),
        desired: d.desired_count(),
        failed_tasks: d.failed_tasks(),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{Deployment, DeploymentController, DeploymentControllerType, Service, TaskSet};

    use super::info;

    fn deployment(status: &str, td: &str) -> Deployment {
        Deployment::builder().id(format!("ecs-svc/{td}")).status(status).task_definition(td).build()
    }

    #[test]
    fn what_runs_is_the_primary_deployment_or_the_primary_task_set() {
        // A rolling deployment in flight: the PRIMARY one is what the service runs.
        let rolling = Service::builder()
            .task_definition("web:3")
            .deployments(deployment("ACTIVE", "web:2"))
            .deployments(deployment("PRIMARY", "web:3"))
            .build();
        assert_eq!(info("prod", &rolling).running(), "web:3");
        // CodeDeploy: the blue (PRIMARY) task set, whatever the service-level field says.
        let controller = DeploymentController::builder().r#type(DeploymentControllerType::CodeDeploy).build().unwrap();
        let blue_green = Service::builder()
            .task_definition("web:5")
            .deployment_controller(controller)
            .task_sets(TaskSet::builder().status("ACTIVE").task_definition("web:5").build())
            .task_sets(TaskSet::builder().status("PRIMARY").task_definition("web:4").build())
            .build();
        assert_eq!(info("prod", &blue_green).running(), "web:4");
        assert_eq!(info("prod", &blue_green).active_task_sets, ["web:5"], "the replacement beside it");
        let bare = Service::builder().task_definition("web:1").build();
        assert_eq!(info("prod", &bare).running(), "web:1");
    }
}

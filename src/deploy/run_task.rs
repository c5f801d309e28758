//! One-off tasks (migrations, data loads): RunTask with container overrides, the launch type or capacity
//! providers and the network, `failures[]` checked, wait for STOPPED, success only on exit code 0 of the essential
//! container (REFERENCE 2.8). Environment values travel as RunTask overrides, never through a shell.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride, KeyValuePair, LaunchType,
    NetworkConfiguration, TaskOverride,
};

use super::appspec::{Awsvpc, CapacityProvider};
use super::cancel::Cancel;
use crate::Error;
use crate::report::{Reporter, Stage};

#[derive(Debug, Clone)]
pub struct RunTaskRequest {
    pub name: String,
    pub cluster: String,
    pub task_definition: String,
    pub container: String,
    /// Empty: the task definition's own command.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub network: Option<Awsvpc>,
    pub launch: Launch,
    pub poll: Duration,
    pub timeout: Duration,
    /// DescribeTasks is retried through transient faults this long (`guard.transient-window`).
    pub transient_window: Duration,
}

/// Where ECS places the task: a launch type or a capacity provider strategy (never both), and the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Launch {
    pub launch_type: Option<String>,
    pub capacity_providers: Vec<CapacityProvider>,
    pub platform_version: Option<String>,
}

/// How a stopped task ended, for the verdict and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnd {
    pub exit_code: Option<i32>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub container_reason: Option<String>,
}

impl TaskEnd {
    /// How a described task ended: the exit code of `container` when given and essential, else of the first
    /// essential container that exited non-zero, else of the first essential one.
    pub fn of(task: &aws_sdk_ecs::types::Task, essential: &[String], container: Option<&str>) -> Self {
        let containers = task.containers();
        let is_essential = |c: &&aws_sdk_ecs::types::Container| {
            essential.is_empty() || c.name().is_some_and(|n| essential.iter().any(|e| e == n))
        };
        let chosen = container
            .and_then(|name| containers.iter().filter(is_essential).find(|c| c.name() == Some(name)))
            .or_else(|| containers.iter().filter(is_essential).find(|c| c.exit_code().is_some_and(|x| x != 0)))
            .or_else(|| containers.iter().find(is_essential));
        TaskEnd {
            exit_code: chosen.and_then(|c| c.exit_code()),
            stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
            stopped_reason: task.stopped_reason().map(str::to_owned),
            container_reason: chosen.and_then(|c| c.reason()).map(str::to_owned),
        }
    }

    /// Success only when the container ran and exited 0.
    pub fn verdict(&self) -> Result<(), String> {
        match self.exit_code {
            Some(0) => Ok(()),
            Some(code) => Err(format!("exited with code {code}{}", self.why())),
            // No exit code: the container never ran (image pull, resources, ...).
            None => Err(format!("never ran{}", self.why())),
        }
    }

    fn why(&self) -> String {
        let parts: Vec<&str> = [&self.stop_code, &self.stopped_reason, &self.container_reason]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(": ")) }
    }
}

/// Runs the task and waits for it; any end but exit code 0 is a `TaskFailed` (before-deploy tasks).
pub async fn run(
    ecs: &aws_sdk_ecs::Client,
    req: &RunTaskRequest,
    cancel: &mut Cancel,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let task_arn = start(ecs, req, reporter).await?;
    let end = wait_stopped(ecs, req, &task_arn, cancel).await?;
    match end.verdict() {
        Ok(()) => {
            reporter.finished(Stage::Task, format!("task `{}` exited 0", req.name));
            Ok(())
        }
        Err(reason) => Err(Error::TaskFailed { task: req.name.clone(), reason: format!("{task_arn} {reason}") }),
    }
}

/// RunTask with the overrides, placement and network of the request; the started task's ARN.
pub async fn start(ecs: &aws_sdk_ecs::Client, req: &RunTaskRequest, reporter: &mut Reporter) -> Result<String, Error> {
    reporter.started(Stage::Task, format!("running task `{}` ({})", req.name, req.task_definition));
    let mut call = ecs
        .run_task()
        .cluster(&req.cluster)
        .task_definition(&req.task_definition)
        .count(1)
        .started_by(started_by(&req.name))
        .set_launch_type(req.launch.launch_type.as_deref().map(LaunchType::from))
        .set_platform_version(req.launch.platform_version.clone());
    if !req.launch.capacity_providers.is_empty() {
        let items = req
            .launch
            .capacity_providers
            .iter()
            .map(|c| {
                CapacityProviderStrategyItem::builder().capacity_provider(&c.name).base(c.base).weight(c.weight).build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::TaskFailed { task: req.name.clone(), reason: e.to_string() })?;
        call = call.set_capacity_provider_strategy(Some(items));
    }
    if !req.command.is_empty() || !req.env.is_empty() {
        let overrides = ContainerOverride::builder()
            .name(&req.container)
            .set_command((!req.command.is_empty()).then(|| req.command.clone()))
            .set_environment(Some(
                req.env.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect(),
            ))
            .build();
        call = call.overrides(TaskOverride::builder().container_overrides(overrides).build());
    }
    if let Some(net) = &req.network {
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(net.subnets.clone()))
            .set_security_groups((!net.security_groups.is_empty()).then(|| net.security_groups.clone()))
            .set_assign_public_ip(net.assign_public_ip.as_deref().map(AssignPublicIp::from))
            .build()
            .map_err(|e| Error::TaskFailed { task: req.name.clone(), reason: e.to_string() })?;
        call = call.network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build());
    }
    let out = call.send().await.map_err(|e| Error::aws("RunTask", &req.task_definition, e))?;
    // RunTask answers 200 with failures[] when it could not place the task.
    if let Some(f) = out.failures().first() {
        let reason =
            format!("{}{}", f.reason().unwrap_or("unknown"), f.detail().map(|d| format!(": {d}")).unwrap_or_default());
        return Err(Error::TaskFailed { task: req.name.clone(), reason: format!("RunTask failed: {reason}") });
    }
    out.tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(str::to_owned)
        .ok_or_else(|| Error::TaskFailed { task: req.name.clone(), reason: "RunTask started no task".into() })
}

/// `startedBy` of the tasks a job starts (ListTasks finds them by it), within ECS's 128 characters.
pub fn started_by(name: &str) -> String {
    format!("pipeline-{name}").chars().take(128).collect()
}

/// Polls DescribeTasks until the task is STOPPED; stops it at the request's timeout or on a cancel.
pub async fn wait_stopped(
    ecs: &aws_sdk_ecs::Client,
    req: &RunTaskRequest,
    task_arn: &str,
    cancel: &mut Cancel,
) -> Result<TaskEnd, Error> {
    let deadline = tokio::time::Instant::now() + req.timeout;
    let transient = super::transient::Transient::new(req.transient_window);
    loop {
        let describe = || async {
            ecs.describe_tasks()
                .cluster(&req.cluster)
                .tasks(task_arn)
                .send()
                .await
                .map_err(|e| Error::aws("DescribeTasks", task_arn, e))
        };
        let out = match transient.read(describe).await {
            Ok(out) => out,
            Err(e) => {
                // The task is ours and must not outlive a run that can no longer follow it.
                stop(ecs, req, task_arn, "pipeline: could not follow the task").await;
                return Err(e);
            }
        };
        if let Some(task) = out.tasks().first()
            && task.last_status() == Some("STOPPED")
        {
            return Ok(TaskEnd::of(task, &[], Some(req.container.as_str())));
        }
        if tokio::time::Instant::now() >= deadline {
            stop(ecs, req, task_arn, "pipeline: timed out").await;
            return Err(Error::TaskFailed {
                task: req.name.clone(),
                reason: format!("{task_arn} did not stop within {:?}; stopped it", req.timeout),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(req.poll) => {}
            _ = cancel.cancelled() => {
                stop(ecs, req, task_arn, "pipeline: cancelled").await;
                return Err(Error::Cancelled { what: format!("task `{}` ({task_arn}) was stopped", req.name) });
            }
        }
    }
}

/// Best effort: the task is ours and must not outlive the run.
async fn stop(ecs: &aws_sdk_ecs::Client, req: &RunTaskRequest, task_arn: &str, reason: &str) {
    let _ = ecs.stop_task().cluster(&req.cluster).task(task_arn).reason(reason).send().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(exit: Option<i32>) -> TaskEnd {
        TaskEnd {
            exit_code: exit,
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            container_reason: None,
        }
    }

    #[test]
    fn only_exit_zero_is_success() {
        assert_eq!(end(Some(0)).verdict(), Ok(()));
        let e = end(Some(3)).verdict().unwrap_err();
        assert!(e.contains("code 3") && e.contains("EssentialContainerExited"), "{e}");
        assert!(end(None).verdict().unwrap_err().contains("never ran"));
    }
}

//! CodeDeploy blue/green (deployment controller CODE_DEPLOY, REFERENCE 3): an AppSpec per release,
//! CreateDeployment with the guard alarms and auto-rollback attached, then watched to the end:
//! Succeeded only; an alarm, a timeout or a cancel stop it with rollback.

use std::time::Duration;

use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, DeploymentStatus,
    RevisionLocation, RevisionLocationType,
};

use super::appspec::{self, AppSpecInput};
use super::watcher::{Interrupt, Watcher, cancel_wins};
use crate::Error;
use crate::ecs::service::ServiceInfo;
use crate::report::{Reporter, Stage};

#[derive(Debug, Clone, serde::Serialize)]
pub struct CodeDeploySettings {
    pub application: String,
    pub deployment_group: String,
    pub config: Option<String>,
    /// When the group already runs a deployment: wait for it (true) or fail at once.
    pub wait_when_busy: bool,
    pub hooks: Vec<(String, String)>,
}

/// The AppSpec for this service and revision: container and port from the service's load balancer.
pub fn appspec_for(
    svc: &ServiceInfo,
    task_definition_arn: &str,
    hooks: &[(String, String)],
) -> Result<AppSpecInput, Error> {
    let Some(tg) = svc.target_groups.first() else {
        return Err(Error::StrategyMismatch {
            message: format!(
                "service {}/{} has no load balancer, which CodeDeploy blue/green needs",
                svc.cluster, svc.name
            ),
            help: "use `strategy: rolling` for services without a load balancer".into(),
        });
    };
    Ok(AppSpecInput {
        task_definition_arn: task_definition_arn.to_owned(),
        container_name: tg.container_name.clone(),
        container_port: tg.container_port,
        platform_version: svc.platform_version.clone(),
        network: svc.network.clone(),
        capacity_providers: svc.capacity_providers.clone(),
        hooks: hooks.to_vec(),
    })
}

/// Creates the deployment (one CreateDeployment call when the group is free). Returns its id.
pub async fn start(
    cd: &aws_sdk_codedeploy::Client,
    settings: &CodeDeploySettings,
    spec: &AppSpecInput,
    alarms: &[String],
    description: &str,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<String, Error> {
    let (content, sha) = appspec::render(spec);
    loop {
        let mut request = cd
            .create_deployment()
            .application_name(&settings.application)
            .deployment_group_name(&settings.deployment_group)
            .set_deployment_config_name(settings.config.clone())
            .description(description)
            .revision(
                RevisionLocation::builder()
                    .revision_type(RevisionLocationType::AppSpecContent)
                    .app_spec_content(AppSpecContent::builder().content(&content).sha256(&sha).build())
                    .build(),
            )
            .auto_rollback_configuration(
                AutoRollbackConfiguration::builder()
                    .enabled(true)
                    .events(AutoRollbackEvent::DeploymentFailure)
                    .events(AutoRollbackEvent::DeploymentStopOnAlarm)
                    .events(AutoRollbackEvent::DeploymentStopOnRequest)
                    .build(),
            );
        if !alarms.is_empty() {
            let mut config = AlarmConfiguration::builder().enabled(true).ignore_poll_alarm_failure(false);
            for name in alarms {
                config = config.alarms(Alarm::builder().name(name).build());
            }
            request = request.override_alarm_configuration(config.build());
        }
        match request.send().await {
            Ok(out) => return Ok(out.deployment_id().unwrap_or_default().to_owned()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_deployment_limit_exceeded_exception()) => {
                let message = e.as_service_error().and_then(|s| s.meta().message()).unwrap_or_default().to_owned();
                let active = active_deployment_id(&message);
                if !settings.wait_when_busy {
                    return Err(Error::GroupBusy { group: settings.deployment_group.clone(), active, message });
                }
                reporter.progress(Stage::Deploy, format!("deployment group busy with {active}; waiting for it"));
                if let Some(interrupt) = watcher.tick().await? {
                    return Err(match interrupt {
                        Interrupt::Cancelled => {
                            Error::Cancelled { what: "cancelled while waiting for the deployment group".into() }
                        }
                        other => Error::GroupBusy {
                            group: settings.deployment_group.clone(),
                            active,
                            message: format!("gave up waiting: {}", other.describe()),
                        },
                    });
                }
            }
            Err(e) => return Err(Error::aws("CreateDeployment", &settings.deployment_group, e)),
        }
    }
}

/// `The Deployment Group 'x' already has an active Deployment 'd-…'` -> `d-…`.
pub fn active_deployment_id(message: &str) -> String {
    message
        .split('\'')
        .find(|part| part.starts_with("d-"))
        .map(str::to_owned)
        .unwrap_or_else(|| "an unknown deployment".into())
}

/// Watches the deployment to Succeeded, then bakes; on any interrupt stops it with rollback.
pub async fn wait(
    cd: &aws_sdk_codedeploy::Client,
    svc: &ServiceInfo,
    deployment: &str,
    previous: &str,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let target = format!("{}:{}", svc.cluster, svc.name);
    let mut last_weight = -1.0;
    loop {
        let info = get(cd, deployment).await?;
        match info.status {
            DeploymentStatus::Succeeded => break,
            DeploymentStatus::Failed | DeploymentStatus::Stopped => {
                return ended_badly(cd, deployment, &info, previous, watcher).await;
            }
            _ => {
                if let Some(weight) = green_weight(cd, deployment, &target).await
                    && (weight - last_weight).abs() >= 0.1
                {
                    reporter.emit(crate::report::Event::Traffic { percent: weight });
                    last_weight = weight;
                }
            }
        }
        if let Some(interrupt) = watcher.tick().await? {
            return stop(cd, deployment, previous, interrupt, watcher, reporter).await;
        }
    }
    reporter.finished(Stage::Deploy, format!("deployment {deployment} succeeded"));
    if let Some(interrupt) = watcher.bake(reporter).await? {
        // CodeDeploy has finished: returning to the previous revision is a new deployment.
        return Err(Error::DeployFailed {
            reason: format!("{} after the deployment succeeded", interrupt.describe()),
            help: format!("run `pipeline rollback` to return to {previous}"),
        });
    }
    Ok(())
}

struct Info {
    status: DeploymentStatus,
    error: Option<String>,
    rollback_id: Option<String>,
}

async fn get(cd: &aws_sdk_codedeploy::Client, id: &str) -> Result<Info, Error> {
    let out = cd.get_deployment().deployment_id(id).send().await.map_err(|e| Error::aws("GetDeployment", id, e))?;
    let d = out.deployment_info();
    Ok(Info {
        status: d.and_then(|d| d.status()).cloned().unwrap_or(DeploymentStatus::InProgress),
        error: d.and_then(|d| d.error_information()).map(|e| {
            format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or("UNKNOWN"), e.message().unwrap_or("no message"))
        }),
        rollback_id: d.and_then(|d| d.rollback_info()).and_then(|r| r.rollback_deployment_id()).map(str::to_owned),
    })
}

/// The traffic weight on the green (replacement) task set, if the deployment has started.
async fn green_weight(cd: &aws_sdk_codedeploy::Client, deployment: &str, target: &str) -> Option<f64> {
    let out = cd.get_deployment_target().deployment_id(deployment).target_id(target).send().await.ok()?;
    let sets = out.deployment_target()?.ecs_target()?.task_sets_info();
    sets.iter().find(|s| s.task_set_label().map(|l| l.as_str()) == Some("Green")).map(|s| s.traffic_weight())
}

async fn stop(
    cd: &aws_sdk_codedeploy::Client,
    deployment: &str,
    previous: &str,
    interrupt: Interrupt,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    if !watcher.rolls_back(&interrupt) {
        return Err(Error::Cancelled {
            what: format!("CodeDeploy deployment {deployment} was left running (on-cancel: leave)"),
        });
    }
    reporter.started(Stage::Rollback, format!("{}; stopping {deployment} with rollback", interrupt.describe()));
    let stopped = cd.stop_deployment().deployment_id(deployment).auto_rollback_enabled(true).send().await;
    match stopped {
        Ok(_) => {}
        // CodeDeploy watches the same alarms and may have stopped it first: then follow its rollback.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_deployment_already_completed_exception()) => {}
        Err(e) => return Err(Error::aws("StopDeployment", deployment, e)),
    }
    let info = settle(cd, deployment, watcher.settings.poll, watcher.settings.timeout).await?;
    let result = ended_badly(cd, deployment, &info, previous, watcher).await;
    let result = match (&interrupt, result) {
        (Interrupt::Alarm { name, reason }, Err(Error::RolledBack { now_running, .. })) => {
            reporter.finished(Stage::Rollback, format!("the service runs {now_running} again"));
            Err(Error::RolledBack { reason: format!("guard alarm `{name}` fired: {reason}"), now_running })
        }
        (_, other) => other,
    };
    cancel_wins(&interrupt, result)
}

/// Waits (bounded) for a deployment to reach a terminal status.
async fn settle(cd: &aws_sdk_codedeploy::Client, id: &str, poll: Duration, limit: Duration) -> Result<Info, Error> {
    let end = tokio::time::Instant::now() + limit;
    loop {
        let info = get(cd, id).await?;
        let terminal =
            matches!(info.status, DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped);
        if terminal || tokio::time::Instant::now() >= end {
            return Ok(info);
        }
        tokio::time::sleep(poll).await;
    }
}

/// A Failed/Stopped deployment: rolled back if CodeDeploy started a rollback deployment and it succeeded.
async fn ended_badly(
    cd: &aws_sdk_codedeploy::Client,
    deployment: &str,
    info: &Info,
    previous: &str,
    watcher: &Watcher<'_>,
) -> Result<(), Error> {
    let reason = info.error.clone().unwrap_or_else(|| format!("deployment {deployment} ended {:?}", info.status));
    let Some(rollback) = &info.rollback_id else {
        return Err(Error::DeployFailed {
            reason,
            help: format!("CodeDeploy did not roll back; run `pipeline rollback` to return to {previous}"),
        });
    };
    let rolled = settle(cd, rollback, watcher.settings.poll, watcher.settings.timeout).await?;
    if rolled.status == DeploymentStatus::Succeeded {
        Err(Error::RolledBack { reason, now_running: previous.to_owned() })
    } else {
        Err(Error::DeployFailed {
            reason: format!("{reason}; the rollback deployment {rollback} ended {:?}", rolled.status),
            help: "look at the deployment group in the CodeDeploy console now".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_active_deployment_is_parsed_from_the_limit_error() {
        let m = "The Deployment Group 'DgpECS-web' already has an active Deployment 'd-ABCDEFGH1'";
        assert_eq!(active_deployment_id(m), "d-ABCDEFGH1");
        assert_eq!(active_deployment_id("busy"), "an unknown deployment");
    }
}

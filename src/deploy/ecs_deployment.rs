//! Rolling deployments (deployment controller ECS): UpdateService, then success only when OUR
//! deployment is PRIMARY, COMPLETED and alone (REFERENCE 2.5). A circuit-breaker rollback, a FAILED
//! rollout or a vanished deployment are failures; an alarm, a timeout or a cancel roll back to the
//! last verified revision.

use super::transient::Transient;
use super::verdict::{RolloutState, Verdict, judge};
use super::watcher::{Interrupt, Watcher, caused_by};
use crate::Error;
use crate::ecs::service::{ServiceInfo, describe};
use crate::report::{Reporter, Stage};

/// Starts the deployment: one UpdateService call (repeated only when AWS throttled it). Returns our
/// deployment id.
pub async fn start(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    task_definition: &str,
    transient: &Transient,
) -> Result<String, Error> {
    let service = update_service(ecs, svc, task_definition, transient).await?;
    primary_id(service.as_ref()).ok_or_else(|| Error::DeployFailed {
        reason: "UpdateService returned no PRIMARY deployment".into(),
        help: format!("look at the service {}/{} in the ECS console", svc.cluster, svc.name),
    })
}

/// One UpdateService call to `task_definition` (repeated only when AWS throttled it): the service as it answered.
pub async fn update_service(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    task_definition: &str,
    transient: &Transient,
) -> Result<Option<aws_sdk_ecs::types::Service>, Error> {
    let call = || async {
        ecs.update_service()
            .cluster(&svc.cluster)
            .service(&svc.name)
            .task_definition(task_definition)
            .send()
            .await
            .map_err(|e| Error::aws("UpdateService", format!("{}/{}", svc.cluster, svc.name), e))
    };
    Ok(transient.write(call).await?.service)
}

/// The id of the service's PRIMARY deployment: the one UpdateService just started.
pub fn primary_id(service: Option<&aws_sdk_ecs::types::Service>) -> Option<String> {
    service
        .and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")))
        .and_then(|d| d.id())
        .map(str::to_owned)
}

/// Waits until no other deployment is in flight on the service, so two releases of one service
/// never overlap: the second starts when the first's rollout has settled (bounded by the timeout).
pub async fn wait_until_settled(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let mut said = false;
    loop {
        let now = watcher.transient.read(|| describe(ecs, &svc.cluster, &svc.name)).await?;
        let in_flight: Vec<&str> = now
            .deployments
            .iter()
            .filter(|d| !d.is_primary() || d.rollout_state == Some(RolloutState::InProgress))
            .map(|d| d.id.as_str())
            .collect();
        if in_flight.is_empty() {
            return Ok(());
        }
        if !said {
            reporter.progress(
                Stage::Deploy,
                format!("waiting for deployment {} in flight to settle", in_flight.join(", ")),
            );
            said = true;
        }
        if let Some(interrupt) = watcher.tick().await {
            return Err(match interrupt {
                Interrupt::Cancelled => Error::Cancelled {
                    what: "cancelled while another deployment was in flight: nothing was deployed".into(),
                },
                Interrupt::SiblingFailed { service } => Error::Stopped { failed: service, now_running: None },
                other => Error::DeployFailed {
                    reason: format!(
                        "another deployment ({}) was still in flight: {}",
                        in_flight.join(", "),
                        other.describe()
                    ),
                    help: "nothing was started; re-run when the service has settled".into(),
                },
            });
        }
    }
}

/// Watches our deployment to the end. `rollback_to` is the revision to return to if we must.
pub async fn wait(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    deployment: &str,
    rollback_to: &str,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let mut last = None;
    loop {
        let now = match watcher.read(|| describe(ecs, &svc.cluster, &svc.name)).await {
            Ok(now) => now,
            Err(interrupt) => {
                return interrupted(ecs, svc, deployment, rollback_to, interrupt, watcher, reporter).await;
            }
        };
        let verdict = judge(deployment, &now.deployments);
        match &verdict {
            Verdict::Completed => break,
            Verdict::InProgress { running, desired, failed_tasks } => {
                let line = format!("{running}/{desired} tasks running, {failed_tasks} failed");
                if last.as_ref() != Some(&line) {
                    reporter.progress(Stage::Deploy, line.clone());
                    last = Some(line);
                }
            }
            Verdict::Replaced { by, task_definition, reason } => {
                // The circuit breaker rolled the service back: stable, but not on our revision.
                return Err(Error::RolledBack {
                    reason: format!("ECS replaced our deployment with {by} ({reason})"),
                    now_running: task_definition.clone(),
                });
            }
            Verdict::Failed { reason } => {
                return roll_back(ecs, svc, rollback_to, &format!("the rollout failed: {reason}"), watcher, reporter)
                    .await;
            }
            Verdict::Vanished => {
                return Err(Error::DeployFailed {
                    reason: format!("deployment {deployment} disappeared and no deployment is PRIMARY"),
                    help: format!("look at the service {}/{} now", svc.cluster, svc.name),
                });
            }
        }
        if let Some(interrupt) = watcher.tick().await {
            return interrupted(ecs, svc, deployment, rollback_to, interrupt, watcher, reporter).await;
        }
    }
    reporter.finished(Stage::Deploy, format!("deployment {deployment} completed"));
    bake(ecs, svc, deployment, rollback_to, watcher, reporter).await
}

/// After the rollout: keep watching the alarms for the bake window.
async fn bake(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    deployment: &str,
    rollback_to: &str,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    match watcher.bake(reporter).await {
        Some(interrupt) => interrupted(ecs, svc, deployment, rollback_to, interrupt, watcher, reporter).await,
        None => Ok(()),
    }
}

async fn interrupted(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    deployment: &str,
    rollback_to: &str,
    interrupt: Interrupt,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    if !watcher.rolls_back(&interrupt) {
        let what =
            format!("deployment {deployment} of {}/{} was left running (on-cancel: leave)", svc.cluster, svc.name);
        return Err(match interrupt {
            Interrupt::Cancelled => Error::Cancelled { what },
            other => Error::DeployFailed {
                reason: format!("{}; {what}, unwatched", other.describe()),
                help: format!(
                    "follow it with `pipeline status`, or return with `pipeline rollback` (to {rollback_to})"
                ),
            },
        });
    }
    let result = roll_back(ecs, svc, rollback_to, &interrupt.describe(), watcher, reporter).await;
    caused_by(&interrupt, result)
}

/// Returns the service to `target` and waits (bounded) until that rollout completes.
pub async fn roll_back(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    target: &str,
    reason: &str,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    watcher.rolling_back(reporter, format!("{reason}; rolling back to {target}"));
    let transient = watcher.transient;
    // The undo is retried through every transient fault (UpdateService to the same revision is idempotent).
    let once = Transient::new(std::time::Duration::ZERO);
    let call = || start(ecs, svc, target, &once);
    let deployment = match transient.read(call).await {
        Ok(id) => id,
        Err(e) => {
            return Err(Error::DeployFailed {
                reason: format!("{reason}; the rollback to {target} could not be started: {e}"),
                help: format!(
                    "the new revision is still deploying on {}/{} and nobody is watching it; run \
                     `pipeline rollback` (or `aws ecs update-service --cluster {} --service {} --task-definition {target}`)",
                    svc.cluster, svc.name, svc.cluster, svc.name
                ),
            });
        }
    };
    // The rollback gets its own budget: the deadline that triggered it may already have passed.
    let deadline = tokio::time::Instant::now() + watcher.settings.timeout;
    loop {
        let now = match transient.read(|| describe(ecs, &svc.cluster, &svc.name)).await {
            Ok(now) => now,
            Err(e) => {
                return Err(Error::DeployFailed {
                    reason: format!(
                        "{reason}; the rollback to {target} ({deployment}) started but could not be followed: {e}"
                    ),
                    help: format!("ECS is rolling {}/{} back; check it with `pipeline status`", svc.cluster, svc.name),
                });
            }
        };
        match judge(&deployment, &now.deployments) {
            Verdict::Completed => {
                reporter.finished(Stage::Rollback, format!("the service runs {target} again"));
                return Err(Error::RolledBack { reason: reason.to_owned(), now_running: target.to_owned() });
            }
            Verdict::InProgress { .. } if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(watcher.settings.poll).await;
            }
            other => {
                return Err(Error::DeployFailed {
                    reason: format!("{reason}; the rollback to {target} did not complete ({other:?})"),
                    help: format!("look at the service {}/{} now", svc.cluster, svc.name),
                });
            }
        }
    }
}

//! CodeDeploy blue/green (deployment controller CODE_DEPLOY, REFERENCE 3): an AppSpec per release,
//! CreateDeployment with the guard alarms and auto-rollback attached, then watched to the end:
//! Succeeded only; an alarm, a timeout, a cancel or AWS unreadable for the transient window stop it
//! with rollback. The bake runs inside the deployment, during the original task set's termination
//! wait, so a rollback then is still a traffic flip.

use std::time::Duration;

use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, DeploymentStatus,
    DeploymentWaitType, RevisionLocation, RevisionLocationType,
};

use super::appspec::{self, AppSpecInput};
use super::watcher::{Interrupt, Watcher, caused_by};
use crate::Error;
use crate::aws::Aws;
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
/// A cancel that arrived before the call means no deployment is created.
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
        watcher.cancel.stop_here(|| "before CreateDeployment: nothing was deployed".into())?;
        let create = || async {
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
            request.send().await.map_err(|e| Error::aws("CreateDeployment", &settings.deployment_group, e))
        };
        match watcher.transient.write(create).await {
            Ok(out) => return Ok(out.deployment_id().unwrap_or_default().to_owned()),
            Err(Error::Aws { code, message, .. }) if code == "DeploymentLimitExceededException" => {
                let active = active_deployment_id(&message);
                if !settings.wait_when_busy {
                    return Err(Error::GroupBusy { group: settings.deployment_group.clone(), active, message });
                }
                reporter.progress(Stage::Deploy, format!("deployment group busy with {active}; waiting for it"));
                if let Some(interrupt) = watcher.tick().await {
                    return Err(match interrupt {
                        Interrupt::Cancelled => {
                            Error::Cancelled { what: "cancelled while waiting for the deployment group".into() }
                        }
                        Interrupt::SiblingFailed { service } => Error::Stopped { failed: service, now_running: None },
                        other => Error::GroupBusy {
                            group: settings.deployment_group.clone(),
                            active,
                            message: format!("gave up waiting: {}", other.describe()),
                        },
                    });
                }
            }
            Err(e) => return Err(e),
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

/// The deployment group's `terminationWaitTimeInMinutes` (REFERENCE A5): how long the original task
/// set keeps running after traffic moved, during which a rollback is still a traffic flip. `None`
/// when the group keeps the original task set alive (KEEP_ALIVE) or sets no wait.
pub async fn termination_wait(
    cd: &aws_sdk_codedeploy::Client,
    settings: &CodeDeploySettings,
) -> Result<Option<Duration>, Error> {
    let out = cd
        .get_deployment_group()
        .application_name(&settings.application)
        .deployment_group_name(&settings.deployment_group)
        .send()
        .await
        .map_err(|e| {
            Error::aws("GetDeploymentGroup", format!("{}/{}", settings.application, settings.deployment_group), e)
        })?;
    let terminate = out
        .deployment_group_info()
        .and_then(|g| g.blue_green_deployment_configuration())
        .and_then(|b| b.terminate_blue_instances_on_deployment_success());
    let Some(terminate) = terminate else { return Ok(None) };
    if terminate.action().map(|a| a.as_str()) == Some("KEEP_ALIVE") {
        return Ok(None);
    }
    let minutes = u64::try_from(terminate.termination_wait_time_in_minutes()).unwrap_or(0);
    Ok((minutes > 0).then(|| Duration::from_secs(minutes * 60)))
}

/// Watches the deployment to Succeeded. With a bake, it bakes during the original task set's
/// termination wait (all traffic on the new revision, the old one still running), so an alarm or
/// a cancel there returns traffic at once; a passed bake ends the wait (ContinueDeployment).
pub async fn wait(
    aws: &Aws,
    svc: &ServiceInfo,
    deployment: &str,
    previous: &str,
    checks: Option<&Checks<'_>>,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let cd = &aws.codedeploy;
    let target = format!("{}:{}", svc.cluster, svc.name);
    let mut last_weight = -1.0;
    let mut baked = watcher.settings.bake.is_zero();
    let mut rerouted = false;
    loop {
        let info = match watcher.read(|| get(cd, deployment)).await {
            Ok(info) => info,
            Err(interrupt) => return stop(aws, svc, deployment, previous, interrupt, watcher, reporter).await,
        };
        match info.status {
            DeploymentStatus::Succeeded => break,
            DeploymentStatus::Ready if !rerouted => {
                rerouted = true;
                match checks {
                    Some(checks) => {
                        if let Err(interrupt) = verify_then_reroute(cd, deployment, checks, watcher, reporter).await {
                            return stop(aws, svc, deployment, previous, interrupt, watcher, reporter).await;
                        }
                    }
                    None => reporter.progress(
                        Stage::Deploy,
                        format!(
                            "{deployment} waits for the traffic reroute (the group's deploymentReadyOption is \
                             STOP_DEPLOYMENT): continue it in CodeDeploy, or add `verify:` to let pipeline do it"
                        ),
                    ),
                }
            }
            DeploymentStatus::Failed | DeploymentStatus::Stopped => {
                return ended_badly(aws, svc, deployment, &info, previous, watcher).await;
            }
            _ if info.termination_wait && !baked => {
                if last_weight < 100.0 {
                    reporter.emit(crate::report::Event::Traffic { percent: 100.0 });
                }
                match bake_in_termination_wait(cd, deployment, watcher, reporter).await {
                    BakeEnd::Passed => {
                        baked = true;
                        end_termination_wait(cd, deployment, watcher, reporter).await;
                        continue;
                    }
                    BakeEnd::Interrupted(interrupt) => {
                        return stop(aws, svc, deployment, previous, interrupt, watcher, reporter).await;
                    }
                    BakeEnd::Ended(info) => {
                        if info.status == DeploymentStatus::Succeeded {
                            break;
                        }
                        return ended_badly(aws, svc, deployment, &info, previous, watcher).await;
                    }
                }
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
        if let Some(interrupt) = watcher.tick().await {
            return stop(aws, svc, deployment, previous, interrupt, watcher, reporter).await;
        }
    }
    reporter.finished(Stage::Deploy, format!("deployment {deployment} succeeded"));
    // Without a bake, `bake` still reads the alarms once more.
    if (!baked || watcher.settings.bake.is_zero())
        && let Some(interrupt) = watcher.bake(reporter).await
    {
        // The termination wait did not cover the bake: CodeDeploy has finished, and returning to the
        // previous revision is a new deployment. After a sibling's failure the release makes it, as for every
        // service of the stage that finished.
        if matches!(interrupt, Interrupt::SiblingFailed { .. }) {
            return Ok(());
        }
        return Err(Error::DeployFailed {
            reason: format!("{} after the deployment succeeded", interrupt.describe()),
            help: format!("run `pipeline rollback` to return to {previous}"),
        });
    }
    Ok(())
}

/// The `verify:` checks of a deployment and how to run their tasks.
pub struct Checks<'a> {
    pub plan: &'a crate::verify::VerifyPlan,
    pub jobs: crate::verify::Jobs<'a>,
}

/// The deployment is Ready: the replacement task set serves the test listener and production traffic has not
/// moved. Runs the checks, then ContinueDeployment(READY_WAIT); a failed check (or a cancel) is the interrupt
/// that stops the deployment with rollback.
async fn verify_then_reroute(
    cd: &aws_sdk_codedeploy::Client,
    deployment: &str,
    checks: &Checks<'_>,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Interrupt> {
    if !checks.plan.skip_checks {
        let outcome = crate::verify::run(checks.plan, &checks.jobs, &mut watcher.cancel, reporter).await;
        if outcome.cancelled {
            return Err(watcher.cancel.why().unwrap_or(Interrupt::Cancelled));
        }
        if let Some(reason) = outcome.failure() {
            return Err(Interrupt::VerifyFailed { reason });
        }
    }
    let call = || async {
        cd.continue_deployment()
            .deployment_id(deployment)
            .deployment_wait_type(DeploymentWaitType::ReadyWait)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("ContinueDeployment", deployment, e))
    };
    // CodeDeploy may have ended the wait itself (waitTimeInMinutes ran out): the next read says how it ended.
    if let Err(e) = watcher.transient.write(call).await {
        return Err(Interrupt::Unreadable { what: format!("ContinueDeployment(READY_WAIT) failed: {e}") });
    }
    reporter
        .progress(Stage::Deploy, format!("{deployment}: production traffic moves now (ContinueDeployment READY_WAIT)"));
    Ok(())
}

enum BakeEnd {
    Passed,
    Interrupted(Interrupt),
    /// CodeDeploy ended the deployment itself (its own alarm check, or the wait ran out).
    Ended(Info),
}

async fn bake_in_termination_wait(
    cd: &aws_sdk_codedeploy::Client,
    deployment: &str,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> BakeEnd {
    let bake = watcher.settings.bake;
    reporter.started(
        Stage::Bake,
        format!("watching the alarms for {}s while the previous revision still runs", bake.as_secs()),
    );
    let end = tokio::time::Instant::now() + bake;
    while tokio::time::Instant::now() < end {
        if let Some(interrupt) = watcher.tick().await {
            return BakeEnd::Interrupted(interrupt);
        }
        match watcher.read(|| get(cd, deployment)).await {
            Ok(info) if !matches!(info.status, DeploymentStatus::InProgress | DeploymentStatus::Baking) => {
                return BakeEnd::Ended(info);
            }
            Ok(_) => {}
            Err(interrupt) => return BakeEnd::Interrupted(interrupt),
        }
    }
    // Once more at the end, so the bake never passes on alarms read up to a poll interval before.
    if let Some(interrupt) = watcher.alarms().await {
        return BakeEnd::Interrupted(interrupt);
    }
    reporter.finished(Stage::Bake, "no alarm fired");
    BakeEnd::Passed
}

/// After a passed bake: ContinueDeployment(TERMINATION_WAIT) ends the wait now. If it cannot be
/// called, the wait simply runs its course.
async fn end_termination_wait(
    cd: &aws_sdk_codedeploy::Client,
    deployment: &str,
    watcher: &Watcher<'_>,
    reporter: &mut Reporter,
) {
    let call = || async {
        match cd
            .continue_deployment()
            .deployment_id(deployment)
            .deployment_wait_type(DeploymentWaitType::TerminationWait)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_deployment_already_completed_exception()) => Ok(()),
            Err(e) => Err(Error::aws("ContinueDeployment", deployment, e)),
        }
    };
    if let Err(e) = watcher.transient.read(call).await {
        reporter.warn(format!("could not end the termination wait early ({e}); waiting for it to run out"));
    }
}

struct Info {
    status: DeploymentStatus,
    error: Option<String>,
    rollback_id: Option<String>,
    /// All traffic is on the replacement and the original task set waits for termination.
    termination_wait: bool,
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
        termination_wait: d.is_some_and(|d| d.instance_termination_wait_time_started()),
    })
}

/// The traffic weight on the green (replacement) task set, if the deployment has started.
async fn green_weight(cd: &aws_sdk_codedeploy::Client, deployment: &str, target: &str) -> Option<f64> {
    let out = cd.get_deployment_target().deployment_id(deployment).target_id(target).send().await.ok()?;
    let sets = out.deployment_target()?.ecs_target()?.task_sets_info();
    sets.iter().find(|s| s.task_set_label().map(|l| l.as_str()) == Some("Green")).map(|s| s.traffic_weight())
}

/// What to tell the user when a deployment is left running and unwatched.
fn still_running(deployment: &str, why: &str) -> Error {
    Error::DeployFailed {
        reason: format!("{why}; CodeDeploy deployment {deployment} is still running and nobody is watching it"),
        help: format!(
            "stop it with rollback: `aws deploy stop-deployment --deployment-id {deployment} --auto-rollback-enabled`, \
             then check with `pipeline status`"
        ),
    }
}

async fn stop(
    aws: &Aws,
    svc: &ServiceInfo,
    deployment: &str,
    previous: &str,
    interrupt: Interrupt,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let cd = &aws.codedeploy;
    if !watcher.rolls_back(&interrupt) {
        return Err(match interrupt {
            Interrupt::Cancelled => Error::Cancelled {
                what: format!("CodeDeploy deployment {deployment} was left running (on-cancel: leave)"),
            },
            other => still_running(deployment, &format!("{} (on-cancel: leave)", other.describe())),
        });
    }
    watcher.rolling_back(reporter, format!("{}; stopping {deployment} with rollback", interrupt.describe()));
    let call = || async {
        match cd.stop_deployment().deployment_id(deployment).auto_rollback_enabled(true).send().await {
            Ok(_) => Ok(()),
            // CodeDeploy watches the same alarms and may have stopped it first: then follow its rollback.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_deployment_already_completed_exception()) => Ok(()),
            Err(e) => Err(Error::aws("StopDeployment", deployment, e)),
        }
    };
    if let Err(e) = watcher.transient.read(call).await {
        return Err(still_running(deployment, &format!("{}; StopDeployment failed: {e}", interrupt.describe())));
    }
    let settled = settle(cd, deployment, watcher).await;
    // Rolled back with no rollback deployment: stopped before the replacement existed (see `ended_badly`).
    let unmoved = settled.as_ref().is_ok_and(|info| info.rollback_id.is_none());
    let result = match settled {
        Ok(info) => ended_badly(aws, svc, deployment, &info, previous, watcher).await,
        Err(e) => confirm_on_service(aws, svc, previous, &interrupt.describe(), &e).await,
    };
    let back = |now_running: &str| {
        if unmoved { nothing_moved(now_running) } else { format!("the service runs {now_running} again") }
    };
    let result = match (&interrupt, result) {
        (Interrupt::Alarm { name, reason }, Err(Error::RolledBack { now_running, .. })) => {
            reporter.finished(Stage::Rollback, back(&now_running));
            let mut reason = format!("guard alarm `{name}` fired: {reason}");
            if unmoved {
                reason = format!("{reason}; {}", nothing_moved(&now_running));
            }
            Err(Error::RolledBack { reason, now_running })
        }
        // Stopped while Ready: production traffic had not moved, so no user request reached the release.
        (Interrupt::VerifyFailed { reason }, Err(Error::RolledBack { now_running, .. })) => {
            reporter.finished(Stage::Rollback, back(&now_running));
            Err(Error::RolledBack {
                reason: format!("{reason}; no production request reached the new release"),
                now_running,
            })
        }
        (_, other) => other,
    };
    caused_by(&interrupt, result)
}

/// Waits (bounded by the timeout) for a deployment to reach a terminal status; reads retried
/// through transient faults.
async fn settle(cd: &aws_sdk_codedeploy::Client, id: &str, watcher: &Watcher<'_>) -> Result<Info, Error> {
    let end = tokio::time::Instant::now() + watcher.settings.timeout;
    loop {
        let info = watcher.transient.read(|| get(cd, id)).await?;
        let terminal =
            matches!(info.status, DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped);
        if terminal || tokio::time::Instant::now() >= end {
            return Ok(info);
        }
        tokio::time::sleep(watcher.settings.poll).await;
    }
}

/// When CodeDeploy cannot be read after a rollback was asked for, ECS tells what the service runs.
async fn confirm_on_service(
    aws: &Aws,
    svc: &ServiceInfo,
    previous: &str,
    reason: &str,
    unread: &Error,
) -> Result<(), Error> {
    let transient = super::transient::Transient::new(std::time::Duration::from_secs(30));
    match transient.read(|| crate::ecs::service::describe(&aws.ecs, &svc.cluster, &svc.name)).await {
        Ok(now) if now.task_definition == previous => {
            Err(Error::RolledBack { reason: reason.to_owned(), now_running: previous.to_owned() })
        }
        Ok(now) => Err(Error::DeployFailed {
            reason: format!(
                "{reason}; the deployment ended before it could be stopped and the service runs {}",
                now.task_definition
            ),
            help: format!(
                "CodeDeploy could not be read ({unread}); return to the previous revision with `pipeline rollback` \
                 ({previous}), and check with `pipeline status`"
            ),
        }),
        Err(e) => Err(Error::DeployFailed {
            reason: format!("{reason}; a rollback was requested but could not be confirmed ({e})"),
            help: "look at the deployment group and `pipeline status` now".into(),
        }),
    }
}

/// A Failed/Stopped deployment: rolled back if CodeDeploy started a rollback deployment and it succeeded, or if it
/// needed none because nothing had moved ([`unmoved`]).
async fn ended_badly(
    aws: &Aws,
    svc: &ServiceInfo,
    deployment: &str,
    info: &Info,
    previous: &str,
    watcher: &Watcher<'_>,
) -> Result<(), Error> {
    let reason = info.error.clone().unwrap_or_else(|| format!("deployment {deployment} ended {:?}", info.status));
    let Some(rollback) = &info.rollback_id else {
        if unmoved(aws, svc, info, previous, watcher).await {
            return Err(Error::RolledBack {
                reason: format!("{reason}; {}", nothing_moved(previous)),
                now_running: previous.to_owned(),
            });
        }
        return Err(Error::DeployFailed {
            reason,
            help: format!("CodeDeploy did not roll back; run `pipeline rollback` to return to {previous}"),
        });
    };
    let rolled = match settle(&aws.codedeploy, rollback, watcher).await {
        Ok(rolled) => rolled,
        Err(e) => return confirm_on_service(aws, svc, previous, &reason, &e).await,
    };
    if rolled.status == DeploymentStatus::Succeeded {
        Err(Error::RolledBack { reason, now_running: previous.to_owned() })
    } else {
        Err(Error::DeployFailed {
            reason: format!("{reason}; the rollback deployment {rollback} ended {:?}", rolled.status),
            help: "look at the deployment group in the CodeDeploy console now".into(),
        })
    }
}

/// Whether a deployment that ended with no rollback deployment left the service as it was. CodeDeploy makes none
/// when it stops before Install created the replacement task set: "Rollback before Install is impossible"
/// (REFERENCE 3.2), and StopDeployment's `autoRollbackEnabled` (3.6) then has nothing to return from. What the
/// service runs decides (DescribeServices): the deployment ended, its PRIMARY task set (or its `taskDefinition`)
/// still `previous`, and no other ACTIVE task set (2.3) that could take traffic.
async fn unmoved(aws: &Aws, svc: &ServiceInfo, info: &Info, previous: &str, watcher: &Watcher<'_>) -> bool {
    if !matches!(info.status, DeploymentStatus::Failed | DeploymentStatus::Stopped) {
        return false;
    }
    let read = || crate::ecs::service::describe(&aws.ecs, &svc.cluster, &svc.name);
    match watcher.transient.read(read).await {
        Ok(now) => now.running() == previous && now.active_task_sets.is_empty(),
        Err(_) => false,
    }
}

fn nothing_moved(previous: &str) -> String {
    format!("nothing had moved; the service still runs {previous}")
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

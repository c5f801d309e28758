//! ECS-native blue/green, linear and canary deployments (REFERENCE 2.6, 2.7, A7): UpdateService starts a
//! service deployment that ECS walks through its lifecycle stages, shifting the listener rules' weights itself.
//! The tool follows it through DescribeServiceDeployments: each lifecycle stage and production split is
//! reported (`PRODUCTION_TRAFFIC_SHIFT 75% -> 25%`, old revision -> new), the guard alarms are watched through
//! the shift and the bake, and an alarm, a cancel or the timeout stops it with StopServiceDeployment ROLLBACK
//! (an instant traffic flip back) and waits for the rollback. Hooks that failed are named in the error.
//!
//! Checks on test traffic plug in at one seam: with a [`TestTrafficGate`], the service gets a PAUSE hook at
//! POST_TEST_TRAFFIC_SHIFT (added by UpdateService when it lacks one); when the deployment waits there, the gate
//! runs once and the tool answers ContinueServiceDeployment CONTINUE, or ROLLBACK on failure, before any
//! production traffic has moved.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHook, DeploymentLifecycleHookAction, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentLifecycleHookTimeoutConfiguration, ServiceDeployment,
    ServiceDeploymentStatus, StopServiceDeploymentStopType,
};

use super::cancel::Cancel;
use super::transient::Transient;
use super::watcher::{Interrupt, Watcher, caused_by};
use crate::Error;
use crate::ecs::service::ServiceInfo;
use crate::report::{Event, Reporter, Stage};

/// The stage where the tool's own PAUSE hook waits: the new revision takes test traffic, production has not moved.
pub const GATE_STAGE: &str = "POST_TEST_TRAFFIC_SHIFT";

/// Where the deployment waits for the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    pub service_deployment: String,
    pub hook_id: String,
    /// The new revision (`targetServiceRevision.arn`).
    pub target_revision: String,
}

/// The checks run on test traffic while the deployment waits at [`GATE_STAGE`]: `Ok(summary)` continues the
/// deployment, `Err(reason)` rolls it back.
pub trait TestTrafficGate {
    fn check<'a>(
        &'a mut self,
        at: &'a Paused,
        reporter: &'a mut Reporter,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + 'a>>;
}

/// `verify:` as the gate: the checks of `verify/` (HTTP probes of the test listener, one-off tasks).
pub struct VerifyGate<'a> {
    pub plan: &'a crate::verify::VerifyPlan,
    pub jobs: crate::verify::Jobs<'a>,
    pub cancel: Cancel,
}

impl TestTrafficGate for VerifyGate<'_> {
    fn check<'b>(
        &'b mut self,
        _at: &'b Paused,
        reporter: &'b mut Reporter,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + 'b>> {
        Box::pin(async move {
            if self.plan.skip_checks {
                return Ok("(skipped: a rollback returns to a verified release)".into());
            }
            let outcome = crate::verify::run(self.plan, &self.jobs, &mut self.cancel, reporter).await;
            if outcome.cancelled {
                return Err("cancelled while checking".into());
            }
            match outcome.failure() {
                Some(failure) => Err(failure),
                None => Ok(format!("({} check(s))", outcome.checks.len())),
            }
        })
    }
}

/// One lifecycle hook run, as `lifecycleHookDetails[]` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookView {
    pub id: String,
    pub target_type: String,
    pub target_arn: Option<String>,
    pub status: String,
}

/// What the tool reads of a service deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub status: String,
    pub reason: Option<String>,
    pub stage: Option<String>,
    /// Production traffic share of the new revision, 0..=100.
    pub production: Option<f64>,
    pub target_revision: String,
    pub hooks: Vec<HookView>,
    pub rollback_reason: Option<String>,
}

impl Snapshot {
    fn from_sdk(sd: &ServiceDeployment) -> Self {
        let target = sd.target_service_revision();
        Snapshot {
            status: sd.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            reason: sd.status_reason().map(str::to_owned),
            stage: sd.lifecycle_stage().map(|s| s.as_str().to_owned()),
            production: target.and_then(|t| t.requested_production_traffic_weight()),
            target_revision: target.and_then(|t| t.arn()).unwrap_or_default().to_owned(),
            hooks: sd
                .lifecycle_hook_details()
                .iter()
                .map(|h| HookView {
                    id: h.hook_id().unwrap_or_default().to_owned(),
                    target_type: h.target_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                    target_arn: h.target_arn().map(str::to_owned),
                    status: h.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                })
                .collect(),
            rollback_reason: sd.rollback().and_then(|r| r.reason()).map(str::to_owned),
        }
    }

    /// The hooks that failed or timed out, as lines for the error.
    pub fn failed_hooks(&self) -> Vec<String> {
        self.hooks
            .iter()
            .filter(|h| matches!(h.status.as_str(), "FAILED" | "TIMED_OUT"))
            .map(|h| match &h.target_arn {
                Some(arn) => format!("lifecycle hook {} ({} {arn}) {}", h.id, h.target_type, h.status),
                None => format!("lifecycle hook {} ({}) {}", h.id, h.target_type, h.status),
            })
            .collect()
    }

    /// The terminal line: stage and production split, old revision -> new.
    pub fn progress_line(&self) -> String {
        let stage = self.stage.as_deref().unwrap_or("PENDING");
        match self.production {
            Some(p) => format!("{stage} {}% -> {}%", fmt_pct(100.0 - p), fmt_pct(p)),
            None => stage.to_owned(),
        }
    }
}

fn fmt_pct(p: f64) -> String {
    if (p - p.round()).abs() < 0.05 { format!("{:.0}", p) } else { format!("{:.1}", p) }
}

/// What to do after one read of the deployment (pure, so each case is a unit test).
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Wait,
    Succeeded,
    /// ECS rolled back (its alarms, a hook, a ROLLBACK answer) and the rollback finished.
    RolledBack {
        reason: String,
    },
    /// ECS is rolling back: keep watching until it ends.
    RollingBack,
    Failed {
        reason: String,
    },
    /// Our PAUSE hook waits: run the gate.
    Gate(Paused),
    /// Somebody else's PAUSE hook waits (a hook the service has for other reasons).
    AwaitingOther {
        hook: String,
        stage: String,
    },
}

pub fn next(arn: &str, s: &Snapshot, with_gate: bool, gate_done: bool) -> Next {
    let explain = |default: &str| {
        let mut parts: Vec<String> = Vec::new();
        parts.push(s.rollback_reason.clone().or_else(|| s.reason.clone()).unwrap_or_else(|| default.to_owned()));
        parts.extend(s.failed_hooks());
        parts.join("; ")
    };
    match s.status.as_str() {
        "SUCCESSFUL" => Next::Succeeded,
        "ROLLBACK_SUCCESSFUL" => Next::RolledBack { reason: explain("ECS rolled the deployment back") },
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => Next::RollingBack,
        "ROLLBACK_FAILED" => Next::Failed { reason: explain("the rollback failed") },
        "STOPPED" | "STOP_REQUESTED" => Next::Failed { reason: explain("the deployment was stopped") },
        _ => {
            let awaiting = s.hooks.iter().find(|h| h.target_type == "PAUSE" && h.status == "AWAITING_ACTION");
            match (awaiting, s.stage.as_deref()) {
                (Some(h), Some(GATE_STAGE)) if with_gate && !gate_done => Next::Gate(Paused {
                    service_deployment: arn.to_owned(),
                    hook_id: h.id.clone(),
                    target_revision: s.target_revision.clone(),
                }),
                (Some(h), stage) if !(with_gate && gate_done && stage == Some(GATE_STAGE)) => {
                    Next::AwaitingOther { hook: h.id.clone(), stage: stage.unwrap_or("?").to_owned() }
                }
                _ => Next::Wait,
            }
        }
    }
}

/// Whether the service already has a PAUSE hook at [`GATE_STAGE`].
fn has_gate_hook(config: Option<&aws_sdk_ecs::types::DeploymentConfiguration>) -> bool {
    config.is_some_and(|c| {
        c.lifecycle_hooks().iter().any(|h| {
            h.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause)
                && h.lifecycle_stages().contains(&DeploymentLifecycleHookStage::PostTestTrafficShift)
        })
    })
}

/// Adds the tool's PAUSE hook at POST_TEST_TRAFFIC_SHIFT when the service lacks one (UpdateService with the
/// whole deploymentConfiguration, so nothing else changes; this alone starts no deployment, REFERENCE 2.2).
/// The hook times out after the watch timeout and then rolls back, so a run that dies leaves nothing waiting.
pub async fn ensure_gate_hook(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    timeout_minutes: i32,
    transient: &Transient,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let read = || async {
        ecs.describe_services()
            .cluster(&svc.cluster)
            .services(&svc.name)
            .send()
            .await
            .map_err(|e| Error::aws("DescribeServices", format!("{}/{}", svc.cluster, svc.name), e))
    };
    let out = transient.read(read).await?;
    let config = out.services().first().and_then(|s| s.deployment_configuration()).cloned();
    if has_gate_hook(config.as_ref()) {
        return Ok(());
    }
    let hook = DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
        .timeout_configuration(
            DeploymentLifecycleHookTimeoutConfiguration::builder()
                .timeout_in_minutes(timeout_minutes.max(1))
                .action(DeploymentLifecycleHookAction::Rollback)
                .build(),
        )
        .build();
    let mut hooks = config.as_ref().map(|c| c.lifecycle_hooks().to_vec()).unwrap_or_default();
    hooks.push(hook);
    let mut config = config.unwrap_or_else(|| aws_sdk_ecs::types::DeploymentConfiguration::builder().build());
    config.lifecycle_hooks = Some(hooks);
    let call = || async {
        ecs.update_service()
            .cluster(&svc.cluster)
            .service(&svc.name)
            .deployment_configuration(config.clone())
            .send()
            .await
            .map_err(|e| Error::aws("UpdateService", format!("{}/{}", svc.cluster, svc.name), e))
    };
    transient.write(call).await?;
    reporter.progress(Stage::Deploy, format!("added a PAUSE hook at {GATE_STAGE} to {}/{}", svc.cluster, svc.name));
    Ok(())
}

/// UpdateService; returns (deployment id, service deployment ARN).
pub async fn start(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    task_definition: &str,
    transient: &Transient,
) -> Result<(String, String), Error> {
    let service = super::ecs_deployment::update_service(ecs, svc, task_definition, transient).await?;
    let service = service.as_ref();
    let id = super::ecs_deployment::primary_id(service);
    let arn = service.and_then(|s| s.current_service_deployment()).map(str::to_owned);
    match (id, arn) {
        (Some(id), Some(arn)) => Ok((id, arn)),
        _ => Err(Error::DeployFailed {
            reason: "UpdateService returned no PRIMARY deployment or currentServiceDeployment".into(),
            help: format!("look at the service {}/{} in the ECS console", svc.cluster, svc.name),
        }),
    }
}

async fn read(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<Snapshot, Error> {
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeServiceDeployments", arn, e))?;
    out.service_deployments().first().map(Snapshot::from_sdk).ok_or_else(|| Error::DeployFailed {
        reason: format!("service deployment {arn} is not found"),
        help: "look at the service's deployments in the ECS console".into(),
    })
}

/// Follows the service deployment `arn` to its end. `previous` is what runs now (what a rollback returns to).
pub async fn wait(
    ecs: &aws_sdk_ecs::Client,
    svc: &ServiceInfo,
    arn: &str,
    previous: &str,
    mut gate: Option<&mut dyn TestTrafficGate>,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let mut last_line = String::new();
    let mut last_weight: Option<f64> = None;
    let mut gate_done = false;
    let mut said_awaiting = None;
    loop {
        let snap = match watcher.read(|| read(ecs, arn)).await {
            Ok(s) => s,
            Err(interrupt) => return interrupted(ecs, arn, previous, interrupt, watcher, reporter).await,
        };
        let line = snap.progress_line();
        if line != last_line {
            reporter.progress(Stage::Traffic, line.clone());
            last_line = line;
        }
        if let Some(p) = snap.production
            && last_weight.is_none_or(|l| (l - p).abs() >= 0.1)
            && (p > 0.0 || last_weight.is_some())
        {
            reporter.emit(Event::Traffic { percent: p });
            last_weight = Some(p);
        }
        match next(arn, &snap, gate.is_some(), gate_done) {
            Next::Succeeded => break,
            Next::RolledBack { reason } => {
                return Err(Error::RolledBack { reason, now_running: previous.to_owned() });
            }
            Next::Failed { reason } => {
                return Err(Error::DeployFailed {
                    reason: format!("service deployment {arn}: {reason}"),
                    help: format!("look at the service {}/{} now (`pipeline status`)", svc.cluster, svc.name),
                });
            }
            Next::Gate(paused) => {
                gate_done = true;
                let verdict = match gate.as_deref_mut() {
                    Some(g) => g.check(&paused, reporter).await,
                    None => Ok(String::new()),
                };
                match verdict {
                    Ok(summary) => {
                        reporter.progress(
                            Stage::Deploy,
                            format!("test-traffic checks passed {summary}").trim_end().to_owned(),
                        );
                        answer(ecs, &paused, "CONTINUE", watcher).await?;
                    }
                    Err(reason) => {
                        let reason = format!(
                            "the checks on test traffic failed ({reason}); no production request reached the new release"
                        );
                        watcher.rolling_back(reporter, format!("{reason}; rolling back"));
                        answer(ecs, &paused, "ROLLBACK", watcher).await?;
                        let result = follow_rollback(ecs, arn, previous, &reason, watcher, reporter).await;
                        // Checks cut short by a cancel or a sibling's failure: the rollback is reported as that.
                        if let Some(interrupt) = watcher.cancel.why() {
                            return caused_by(&interrupt, result);
                        }
                        return result;
                    }
                }
            }
            Next::AwaitingOther { hook, stage } => {
                if said_awaiting.as_ref() != Some(&hook) {
                    reporter.progress(
                        Stage::Deploy,
                        format!("lifecycle hook {hook} awaits action at {stage} (ContinueServiceDeployment)"),
                    );
                    said_awaiting = Some(hook);
                }
            }
            Next::Wait | Next::RollingBack => {}
        }
        if let Some(interrupt) = watcher.tick().await {
            return interrupted(ecs, arn, previous, interrupt, watcher, reporter).await;
        }
    }
    reporter.finished(Stage::Deploy, format!("service deployment {arn} succeeded"));
    Ok(())
}

/// ContinueServiceDeployment with CONTINUE or ROLLBACK for our hook.
async fn answer(ecs: &aws_sdk_ecs::Client, at: &Paused, action: &str, watcher: &Watcher<'_>) -> Result<(), Error> {
    let action = DeploymentLifecycleHookAction::from(action);
    let call = || async {
        ecs.continue_service_deployment()
            .service_deployment_arn(&at.service_deployment)
            .hook_id(&at.hook_id)
            .action(action.clone())
            .send()
            .await
            .map_err(|e| Error::aws("ContinueServiceDeployment", &at.service_deployment, e))
    };
    watcher.transient.write(call).await.map(|_| ())
}

async fn interrupted(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
    previous: &str,
    interrupt: Interrupt,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    if !watcher.rolls_back(&interrupt) {
        let what = format!("service deployment {arn} was left running (on-cancel: leave)");
        return Err(match interrupt {
            Interrupt::Cancelled => Error::Cancelled { what },
            other => Error::DeployFailed {
                reason: format!("{}; {what}, unwatched", other.describe()),
                help: format!(
                    "follow it with `pipeline status`, or stop it with `aws ecs stop-service-deployment --service-deployment-arn {arn} --stop-type ROLLBACK`"
                ),
            },
        });
    }
    let reason = interrupt.describe();
    watcher.rolling_back(reporter, format!("{reason}; stopping {arn} with rollback"));
    let call = || async {
        ecs.stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map_err(|e| Error::aws("StopServiceDeployment", arn, e))
    };
    // The undo is retried through every transient fault; a conflict means ECS is already ending it.
    if let Err(e) = watcher.transient.read(call).await
        && !matches!(&e, Error::Aws { code, .. } if code == "ConflictException")
    {
        return Err(Error::DeployFailed {
            reason: format!("{reason}; StopServiceDeployment could not be sent: {e}"),
            help: format!(
                "stop it yourself: `aws ecs stop-service-deployment --service-deployment-arn {arn} --stop-type ROLLBACK`"
            ),
        });
    }
    let result = follow_rollback(ecs, arn, previous, &reason, watcher, reporter).await;
    caused_by(&interrupt, result)
}

/// Waits (with its own budget) until the rollback of `arn` ends; the result is the failure to report.
async fn follow_rollback(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
    previous: &str,
    reason: &str,
    watcher: &mut Watcher<'_>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + watcher.settings.timeout;
    let transient = watcher.transient;
    loop {
        let snap = match transient.read(|| read(ecs, arn)).await {
            Ok(s) => s,
            Err(e) => {
                return Err(Error::DeployFailed {
                    reason: format!("{reason}; the rollback of {arn} could not be followed: {e}"),
                    help: "ECS is rolling back; check it with `pipeline status`".into(),
                });
            }
        };
        let status = ServiceDeploymentStatus::from(snap.status.as_str());
        match status {
            ServiceDeploymentStatus::RollbackSuccessful => {
                reporter.emit(Event::Traffic { percent: 0.0 });
                reporter.finished(Stage::Rollback, format!("traffic is back on {previous}"));
                let mut why = vec![reason.to_owned()];
                why.extend(snap.failed_hooks());
                return Err(Error::RolledBack { reason: why.join("; "), now_running: previous.to_owned() });
            }
            ServiceDeploymentStatus::RollbackFailed | ServiceDeploymentStatus::Successful => {
                return Err(Error::DeployFailed {
                    reason: format!("{reason}; the rollback of {arn} ended {}", snap.status),
                    help: format!(
                        "the service may run the new revision; return with `pipeline rollback` (to {previous})"
                    ),
                });
            }
            _ if tokio::time::Instant::now() >= deadline => {
                return Err(Error::DeployFailed {
                    reason: format!("{reason}; the rollback of {arn} did not end in time ({})", snap.status),
                    help: "check it with `pipeline status`".into(),
                });
            }
            _ => tokio::time::sleep(watcher.settings.poll).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(status: &str, stage: &str, hooks: &[(&str, &str, &str)]) -> Snapshot {
        Snapshot {
            status: status.into(),
            reason: None,
            stage: Some(stage.into()),
            production: Some(0.0),
            target_revision: "rev-green".into(),
            hooks: hooks
                .iter()
                .map(|(id, kind, st)| HookView {
                    id: (*id).into(),
                    target_type: (*kind).into(),
                    target_arn: (*kind == "AWS_LAMBDA").then(|| "arn:aws:lambda:us-east-1:1:function:smoke".into()),
                    status: (*st).into(),
                })
                .collect(),
            rollback_reason: None,
        }
    }

    #[test]
    fn our_pause_hook_at_post_test_traffic_shift_runs_the_gate_once() {
        let s = snap("IN_PROGRESS", GATE_STAGE, &[("ecs-pause-1", "PAUSE", "AWAITING_ACTION")]);
        let want = Paused {
            service_deployment: "sd".into(),
            hook_id: "ecs-pause-1".into(),
            target_revision: "rev-green".into(),
        };
        assert_eq!(next("sd", &s, true, false), Next::Gate(want));
        // After the gate answered, the same snapshot (ECS not yet moved on) is only a wait.
        assert_eq!(next("sd", &s, true, true), Next::Wait);
        // Without a gate the PAUSE hook is somebody else's: reported, not answered.
        assert!(matches!(next("sd", &s, false, false), Next::AwaitingOther { .. }));
    }

    #[test]
    fn a_pause_elsewhere_is_not_ours() {
        let s = snap("IN_PROGRESS", "POST_SCALE_UP", &[("ecs-pause-2", "PAUSE", "AWAITING_ACTION")]);
        assert_eq!(
            next("sd", &s, true, false),
            Next::AwaitingOther { hook: "ecs-pause-2".into(), stage: "POST_SCALE_UP".into() }
        );
    }

    #[test]
    fn terminal_states_and_failed_hooks() {
        assert_eq!(next("sd", &snap("SUCCESSFUL", "CLEAN_UP", &[]), false, false), Next::Succeeded);
        assert_eq!(
            next("sd", &snap("ROLLBACK_IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", &[]), false, false),
            Next::RollingBack
        );
        let mut s = snap("ROLLBACK_SUCCESSFUL", "CLEAN_UP", &[("ecs-lambda-1", "AWS_LAMBDA", "FAILED")]);
        s.rollback_reason = Some("lifecycle hook ecs-lambda-1 failed at POST_SCALE_UP.".into());
        let Next::RolledBack { reason } = next("sd", &s, false, false) else { panic!() };
        assert!(reason.contains("failed at POST_SCALE_UP"), "{reason}");
        assert!(reason.contains("AWS_LAMBDA arn:aws:lambda:us-east-1:1:function:smoke) FAILED"), "{reason}");
        assert!(matches!(next("sd", &snap("ROLLBACK_FAILED", "CLEAN_UP", &[]), false, false), Next::Failed { .. }));
    }

    #[test]
    fn the_progress_line_names_stage_and_split() {
        let mut s = snap("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", &[]);
        s.production = Some(70.0);
        assert_eq!(s.progress_line(), "PRODUCTION_TRAFFIC_SHIFT 30% -> 70%");
        s.production = Some(10.5);
        assert_eq!(s.progress_line(), "PRODUCTION_TRAFFIC_SHIFT 89.5% -> 10.5%");
        s.production = None;
        assert_eq!(s.progress_line(), "PRODUCTION_TRAFFIC_SHIFT");
    }

    struct Gate(Result<String, String>, Vec<Paused>);
    impl TestTrafficGate for Gate {
        fn check<'a>(
            &'a mut self,
            at: &'a Paused,
            _reporter: &'a mut Reporter,
        ) -> Pin<Box<dyn Future<Output = Result<String, String>> + 'a>> {
            self.1.push(at.clone());
            let out = self.0.clone();
            Box::pin(async move { out })
        }
    }

    #[tokio::test]
    async fn the_seam_takes_any_gate() {
        let mut reporter = Reporter::new(Vec::new());
        let mut gate = Gate(Err("3/20 requests failed".into()), Vec::new());
        let at = Paused { service_deployment: "sd".into(), hook_id: "h".into(), target_revision: "r".into() };
        let g: &mut dyn TestTrafficGate = &mut gate;
        assert_eq!(g.check(&at, &mut reporter).await, Err("3/20 requests failed".into()));
        assert_eq!(gate.1, vec![at]);
    }
}

//! A release to an environment with `services:`, a layer above the one-service deploy half: each service is planned
//! as a one-service release plans its own (deploy half, AWS checks, diff), then every revision is registered and
//! every guard armed before anything moves, and the services deploy stage by stage (a stage's services at once)
//! from one image. All or nothing: when one fails, the others of its stage still deploying are stopped at once and
//! rolled back, and those that had finished go back to what ran before, each to its own previous revision.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::rollback::ROLLBACK_CODEDEPLOY_CONFIG;
use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::config::{Config, Environment, Task};
use crate::deploy::cancel::Cancel;
use crate::deploy::plan::{DeployPlan, short_arn};
use crate::deploy::services::{ServiceDeploy, ServicesPlan};
use crate::deploy::strategy::Strategy;
use crate::deploy::{diagnostics, stages};
use crate::ecs::service;
use crate::plan::ReleaseLabel;
use crate::report::{Event, Reporter, ServiceLine, ServiceState, Sink, Stage};

/// Plans every service of `env` into `run.plan.services`, one section of plan lines per service.
pub async fn plan(run: &mut Run<'_>, aws: &Aws, config: &Config, name: &str, env: &Environment) -> Result<(), Error> {
    let mut services = Vec::new();
    for (service, one) in env.each_service() {
        run.reporter.progress(Stage::Plan, format!("service `{service}`:"));
        planning::deploy_checked(run, aws, config, name, &one).await?;
        planning::diff(run)?;
        let Some(deploy) = run.plan.deploy.take() else { continue };
        let task_definition_diff = run.plan.task_definition_diff.take();
        services.push(ServiceDeploy { name: service, deploy, task_definition_diff });
    }
    let planned = ServicesPlan { environment: name.to_owned(), order: env.stages(), services };
    run.reporter.progress(Stage::Plan, format!("order: {}; all or nothing", planned.describe_order()));
    if config.schedules.is_some() {
        run.reporter.warn(
            "`schedules:` are not reconciled by a release of several services: run `pipeline schedules apply` after it",
        );
    }
    run.done.services = planned.services.iter().map(|s| line(s, ServiceState::Planned)).collect();
    run.plan.services = Some(planned);
    Ok(())
}

fn line(s: &ServiceDeploy, state: ServiceState) -> ServiceLine {
    ServiceLine {
        name: s.name.clone(),
        service: format!("{}/{}", s.deploy.service.cluster, s.deploy.service.name),
        state,
        task_definition_arn: None,
        deployment_id: None,
        running_now: None,
        because_of: None,
    }
}

/// register (each) -> before-deploy tasks (each) -> guards (each) -> the stages -> verified (each); on a failure, the
/// stage's other services still deploying are stopped and rolled back, and the services that moved are returned to
/// what ran before.
pub async fn deploy_all(
    run: &mut Run<'_>,
    aws: &Aws,
    config: &Config,
    plan: &ServicesPlan,
    image: &str,
    label: &ReleaseLabel,
) -> Result<(), Error> {
    let mut cancel = run.cancel.clone();
    run.done.services = plan.services.iter().map(|s| line(s, ServiceState::Planned)).collect();
    // Nothing moves until every revision is registered, its tasks ran and its guard is armed: a failure up to here
    // leaves every service as it was.
    let mut arns = Vec::new();
    for (i, s) in plan.services.iter().enumerate() {
        cancel.stop_here(|| format!("before registering `{}`: {image} was published, nothing was deployed", s.name))?;
        let (arn, _) = stages::register(aws, &s.deploy, image, label, run.reporter).await?;
        run.done.services[i].task_definition_arn = Some(arn.clone());
        // A service that runs its revision already is not deployed: nothing runs before it, no guard watches it.
        if !s.deploy.already_runs(&arn) {
            stages::before_deploy(aws, &s.deploy, &config.tasks, &arn, &mut cancel, run.reporter).await?;
        }
        arns.push(arn);
    }
    for (s, _) in plan.services.iter().zip(&arns).filter(|(s, arn)| !s.deploy.already_runs(arn)) {
        cancel.stop_here(|| format!("before arming the guard of `{}`: nothing was deployed", s.name))?;
        stages::arm_guard(aws, &s.deploy, run.reporter).await?;
    }

    let mut moved = Vec::new();
    let mut failures: Vec<(usize, Error)> = Vec::new();
    let stages_of = plan.stages();
    let mut started_stages = 0;
    for stage in &stages_of {
        started_stages += 1;
        let since = SystemTime::now() - Duration::from_secs(1);
        for (i, result, started) in
            deploy_stage(aws, plan, stage, &arns, label, &config.tasks, &cancel, run.reporter).await
        {
            let s = &plan.services[i];
            run.done.services[i].deployment_id = started.clone();
            if run.done.deployment_id.is_none() {
                run.done.deployment_id = started;
            }
            match result {
                Ok(Some(_)) => {
                    moved.push(i);
                    run.done.services[i].state = ServiceState::Released;
                }
                Ok(None) => run.done.services[i].state = ServiceState::Unchanged,
                Err(Error::Stopped { failed, now_running }) => {
                    let entry = &mut run.done.services[i];
                    entry.state = if now_running.is_some() { ServiceState::Stopped } else { ServiceState::NotStarted };
                    entry.running_now = now_running;
                    entry.because_of = Some(failed);
                }
                Err(e) => {
                    let entry = &mut run.done.services[i];
                    match &e {
                        Error::RolledBack { now_running, .. } => {
                            entry.state = ServiceState::RolledBack;
                            entry.running_now = Some(now_running.clone());
                        }
                        _ => entry.state = ServiceState::Failed,
                    }
                    let codedeploy = s.deploy.codedeploy.as_ref().filter(|_| s.deploy.strategy == Strategy::CodeDeploy);
                    let found = diagnostics::gather(aws, &s.deploy.service, codedeploy, since).await;
                    if !found.is_empty() {
                        let diagnostics = found.into_iter().map(|d| format!("{}: {d}", s.name)).collect();
                        run.reporter.emit(Event::Failed { stage: Stage::Deploy, diagnostics });
                    }
                    failures.push((i, e));
                }
            }
        }
        if !failures.is_empty() {
            break;
        }
    }

    if failures.is_empty() {
        for (i, s) in plan.services.iter().enumerate() {
            // A re-run of what already runs verified changes nothing, not even a tag.
            if !s.deploy.runs_verified(&arns[i], &label.version) {
                stages::mark_verified(aws, &arns[i], label).await?;
            }
            run.reporter
                .emit(Event::Released { environment: plan.environment.clone(), task_definition_arn: arns[i].clone() });
        }
        return Ok(());
    }

    for stage in stages_of.iter().skip(started_stages) {
        for &i in stage {
            run.done.services[i].state = ServiceState::NotStarted;
        }
    }
    // All or nothing: those that moved go back, each to what it ran before this release.
    let mut not_returned = Vec::new();
    for &i in moved.iter().rev() {
        let s = &plan.services[i];
        match return_to_previous(aws, &s.deploy, label, run.reporter).await {
            Ok(()) => {
                run.done.services[i].state = ServiceState::Returned;
                run.done.services[i].running_now = Some(s.deploy.running.clone());
            }
            Err(e) => {
                run.done.services[i].state = ServiceState::Failed;
                not_returned.push(format!(
                    "`{}` could not be returned to {}: {e}",
                    s.name,
                    short_arn(&s.deploy.running)
                ));
            }
        }
    }
    Err(combined(run, plan, failures, not_returned))
}

/// One error for the run: rolled back (exit 4) when every failed service went back by itself and every moved one was
/// returned; NOT rolled back (exit 5) when one could not be returned; else the failure as it was (a cancel).
fn combined(run: &mut Run<'_>, plan: &ServicesPlan, failures: Vec<(usize, Error)>, not_returned: Vec<String>) -> Error {
    let name = |i: usize| plan.services[i].name.as_str();
    let reasons: Vec<String> = failures
        .iter()
        .map(|(i, e)| match e {
            Error::RolledBack { reason, .. } => format!("`{}`: {reason}", name(*i)),
            other => format!("`{}`: {other}", name(*i)),
        })
        .collect();
    let back_to = |l: &ServiceLine| short_arn(l.running_now.as_deref().unwrap_or_default()).to_owned();
    let returned: Vec<String> = run
        .done
        .services
        .iter()
        .filter_map(|l| match l.state {
            ServiceState::Stopped => Some(format!("`{}` stopped at once and rolled back to {}", l.name, back_to(l))),
            ServiceState::Returned => Some(format!("`{}` returned to {}", l.name, back_to(l))),
            _ => None,
        })
        .collect();
    let mut reason = reasons.join("; ");
    if !returned.is_empty() {
        reason = format!("{reason}; {}", returned.join(", "));
    }
    if !not_returned.is_empty() {
        return Error::DeployFailed {
            reason: format!("{reason}; {}", not_returned.join("; ")),
            help: "look at each service with `pipeline status`; `pipeline rollback` returns one service".into(),
        };
    }
    if failures.iter().all(|(_, e)| matches!(e, Error::RolledBack { .. })) {
        let now_running: Vec<String> = run
            .done
            .services
            .iter()
            .filter_map(|l| l.running_now.as_deref().map(|r| format!("{}: {}", l.name, short_arn(r))))
            .collect();
        let now_running = now_running.join(", ");
        run.done.rolled_back = true;
        run.done.running_now = Some(now_running.clone());
        run.reporter.emit(Event::RolledBack { reason: reason.clone() });
        return Error::RolledBack { reason, now_running };
    }
    if !returned.is_empty() {
        run.reporter.warn(returned.join(", "));
    }
    // The worst as it was: a cancel, or a service that is NOT back on what ran before.
    failures
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| !matches!(e, Error::RolledBack { .. }))
        .unwrap_or(Error::DeployFailed { reason, help: String::new() })
}

/// Deploys the services of one stage at once. Each reports through its own reporter, whose events reach the run's,
/// named after the service, as they happen. Each has a token of the stage ([`Cancel::stage`]): the first to fail
/// stops the others.
#[allow(clippy::too_many_arguments)]
async fn deploy_stage(
    aws: &Aws,
    plan: &ServicesPlan,
    stage: &[usize],
    arns: &[String],
    label: &ReleaseLabel,
    tasks: &BTreeMap<String, Task>,
    cancel: &Cancel,
    reporter: &mut Reporter,
) -> Vec<(usize, Result<Option<String>, Error>, Option<String>)> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let siblings = cancel.stage();
    let deployments: Vec<_> = stage
        .iter()
        .map(|&i| {
            let sink = Named { name: plan.services[i].name.clone(), tx: tx.clone() };
            let cancel = siblings.token(&plan.services[i].name);
            async move {
                let sinks: Vec<Box<dyn Sink>> = vec![Box::new(sink)];
                let mut own = Reporter::new(sinks);
                let mut started = None;
                let result = stages::deploy(
                    aws,
                    &plan.services[i].deploy,
                    &arns[i],
                    label,
                    tasks,
                    cancel.clone(),
                    &mut own,
                    &mut started,
                )
                .await;
                // Usually told already, when its rollback started; a failure without one is told here.
                if result.is_err() {
                    cancel.failed();
                }
                (i, result, started)
            }
        })
        .collect();
    // Each service's sink holds a sender: the channel closes when the last deployment ends.
    drop(tx);
    let all = futures_util::future::join_all(deployments);
    tokio::pin!(all);
    let results = loop {
        tokio::select! {
            Some(event) = rx.recv() => reporter.emit(event),
            results = &mut all => break results,
        }
    };
    while let Ok(event) = rx.try_recv() {
        reporter.emit(event);
    }
    results
}

/// Returns a service whose deployment succeeded to the revision it ran before, the way `pipeline rollback` does: one
/// deployment (CodeDeploy all at once, the revision ran healthy before), watched to the end.
async fn return_to_previous(
    aws: &Aws,
    plan: &DeployPlan,
    label: &ReleaseLabel,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    let svc = &plan.service;
    let now = service::describe(&aws.ecs, &svc.cluster, &svc.name).await?;
    let mut back = plan.clone();
    back.running = now.running().to_owned();
    back.rollback_to = plan.running.clone();
    back.service = now;
    back.watch.bake = Duration::ZERO;
    // The revision ran healthy before: like `pipeline rollback`, its return is not checked again.
    back.verify.skip_checks = true;
    if let Some(codedeploy) = &mut back.codedeploy {
        codedeploy.config = Some(ROLLBACK_CODEDEPLOY_CONFIG.to_owned());
    }
    let target = short_arn(&plan.running);
    reporter.started(Stage::Rollback, format!("returning {}/{} to {target}", svc.cluster, svc.name));
    let mut started = None;
    // A return must end: a cancel now would leave the release half undone.
    stages::deploy(aws, &back, &plan.running, label, &BTreeMap::new(), Cancel::never(), reporter, &mut started).await?;
    reporter.finished(Stage::Rollback, format!("{}/{} runs {target} again", svc.cluster, svc.name));
    Ok(())
}

/// Passes a service's events on to the run's reporter, each line named after the service.
struct Named {
    name: String,
    tx: mpsc::UnboundedSender<Event>,
}

impl Sink for Named {
    fn emit(&mut self, event: &Event) {
        let named = |text: &str| format!("{}: {text}", self.name);
        let event = match event.clone() {
            Event::StageStarted { stage, detail } => Event::StageStarted { stage, detail: named(&detail) },
            Event::StageFinished { stage, detail } => Event::StageFinished { stage, detail: named(&detail) },
            Event::Progress { stage, message } => Event::Progress { stage, message: named(&message) },
            Event::Warning { message } => Event::Warning { message: named(&message) },
            Event::Failed { stage, diagnostics } => {
                Event::Failed { stage, diagnostics: diagnostics.iter().map(|d| named(d.as_str())).collect() }
            }
            // The run's own start and end are the run reporter's.
            Event::RunStarted { .. } | Event::RunFinished { .. } => return,
            other => other,
        };
        let _ = self.tx.send(event);
    }
}

//! Executing the deploy half of a plan for one image: register (or reuse) the revision, run the
//! before-deploy tasks, arm the guard, deploy with the chosen strategy, watch, and mark the
//! revision verified when it ends healthy.

use std::collections::BTreeMap;

use super::cancel::Cancel;
use super::plan::DeployPlan;
use super::run_task;
use super::strategy::Strategy;
use super::transient::Transient;
use super::watcher::Watcher;
use super::{codedeploy, detach, ecs_deployment, ecs_native, job, verified};
use crate::Error;
use crate::aws::Aws;
use crate::guard::{self, ensure_five_xx};
use crate::report::{Reporter, Stage};
use crate::version::ReleaseLabel;

/// Registers the rendered task definition unless the latest revision is equal (one call, or none).
pub async fn register(
    aws: &Aws,
    plan: &DeployPlan,
    image: &str,
    label: &ReleaseLabel,
    reporter: &mut Reporter,
) -> Result<(String, bool), Error> {
    if let Some(arn) = plan.reusable(image)? {
        reporter.finished(Stage::Register, format!("{arn} is unchanged: no new revision"));
        return Ok((arn, false));
    }
    let mut doc = plan.render(image)?;
    let mut tags: BTreeMap<String, String> = doc.tags();
    tags.insert(verified::VERSION.into(), label.version.clone());
    tags.insert(verified::COMMIT.into(), label.commit.clone());
    doc.set_tags(&tags);
    // Its warnings (fields this version does not send) were reported with the plan.
    let input = doc.to_sdk_input()?;
    reporter.started(Stage::Register, format!("registering {}", doc.family()));
    // RegisterTaskDefinition is rate-limited (REFERENCE 2.1): a throttled call is repeated, within the window.
    let transient = Transient::new(plan.watch.transient_window);
    let request = input.fluent(&aws.ecs)?;
    let family = doc.family().to_owned();
    let register = || {
        let (request, family) = (request.clone(), family.clone());
        async move { request.send().await.map_err(|e| Error::aws("RegisterTaskDefinition", family, e)) }
    };
    let out = transient.write(register).await?;
    let arn = out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_owned();
    reporter.finished(Stage::Register, arn.clone());
    Ok((arn, true))
}

/// Runs the named tasks from `config.tasks` with the new revision; any failure stops the release.
pub async fn before_deploy(
    aws: &Aws,
    plan: &DeployPlan,
    tasks: &BTreeMap<String, crate::config::Task>,
    task_definition: &str,
    cancel: &mut Cancel,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    for name in &plan.before_deploy {
        cancel.stop_here(|| format!("before task `{name}`: {task_definition} was registered, nothing was deployed"))?;
        let Some(task) = tasks.get(name) else {
            return Err(Error::TaskFailed {
                task: name.clone(),
                reason: "not defined under `tasks:` in the config".into(),
            });
        };
        // The task's own revision (registered if its file changed), or the one this release registered.
        let defaults = job::Defaults {
            cluster: Some(plan.service.cluster.clone()),
            container: Some(plan.container.clone()),
            poll: Some(plan.watch.poll),
            transient_window: Some(plan.watch.transient_window),
        };
        let job = job::plan(&aws.ecs, name, task, &defaults, Some(&plan.service), &BTreeMap::new(), true).await?;
        let arn = job::ensure_registered(&aws.ecs, &job, Some(task_definition)).await?;
        let request = job.request(&arn);
        run_task::run(&aws.ecs, &request, cancel, reporter).await?;
    }
    Ok(())
}

/// Ensures the 5xx alarms and refuses to start while any guard alarm is in ALARM.
pub async fn arm_guard(aws: &Aws, plan: &DeployPlan, reporter: &mut Reporter) -> Result<(), Error> {
    if plan.alarms.is_empty() {
        return Ok(());
    }
    let transient = Transient::new(plan.watch.transient_window);
    for spec in &plan.ensure_alarms {
        transient.write(|| ensure_five_xx(&aws.cloudwatch, spec, &plan.five_xx)).await?;
    }
    let states = transient.read(|| guard::state::states(&aws.cloudwatch, &plan.alarms)).await?;
    guard::precheck(&plan.alarms, &states).map_err(|reason| Error::GuardBlocked { reason })?;
    reporter.finished(Stage::Guard, format!("watching {}", plan.alarms.join(", ")));
    Ok(())
}

/// Starts the deployment of `task_definition` and watches it to the end (or, with `wait: false`,
/// leaves it to AWS's own alarms). `started` gets the deployment id as soon as there is one, so a
/// failure still reports it. A failure returns the service to what ran before
/// ([`DeployPlan::running`]). Once a deployment exists, no error leaves it unmentioned: an AWS error
/// escaping the watch becomes "NOT rolled back", naming the deployment.
#[allow(clippy::too_many_arguments)]
pub async fn deploy(
    aws: &Aws,
    plan: &DeployPlan,
    task_definition: &str,
    label: &ReleaseLabel,
    tasks: &BTreeMap<String, crate::config::Task>,
    cancel: Cancel,
    reporter: &mut Reporter,
    started: &mut Option<String>,
) -> Result<Option<String>, Error> {
    let svc = &plan.service;
    let previous = plan.running.as_str();
    if plan.already_runs(task_definition) {
        reporter.finished(
            Stage::Deploy,
            format!("{}/{} already runs {task_definition}: nothing to deploy", svc.cluster, svc.name),
        );
        return Ok(None);
    }
    let nothing_deployed = || format!("before the deployment: {task_definition} was registered, nothing was deployed");
    let mut watcher = Watcher::new(&aws.cloudwatch, &plan.watch, cancel);
    let deployment = match plan.strategy {
        Strategy::Rolling => {
            reporter.started(Stage::Deploy, format!("updating {}/{} to {task_definition}", svc.cluster, svc.name));
            ecs_deployment::wait_until_settled(&aws.ecs, svc, &mut watcher, reporter).await?;
            watcher.cancel.stop_here(nothing_deployed)?;
            let id = ecs_deployment::start(&aws.ecs, svc, task_definition, &watcher.transient).await?;
            *started = Some(id.clone());
            reporter.progress(Stage::Deploy, format!("deployment {id} started"));
            watcher.since = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
            if !plan.watch.wait {
                detach::report(plan, &id, reporter);
                return Ok(Some(id));
            }
            let watched = ecs_deployment::wait(&aws.ecs, svc, &id, previous, &mut watcher, reporter).await;
            live(&id, watched)?;
            id
        }
        Strategy::EcsBlueGreen | Strategy::EcsLinear | Strategy::EcsCanary => {
            reporter.started(
                Stage::Deploy,
                format!("updating {}/{} to {task_definition} ({})", svc.cluster, svc.name, plan.strategy),
            );
            ecs_deployment::wait_until_settled(&aws.ecs, svc, &mut watcher, reporter).await?;
            watcher.cancel.stop_here(nothing_deployed)?;
            // The seam for checks on test traffic: a gate here makes the tool own a PAUSE hook at
            // POST_TEST_TRAFFIC_SHIFT and answer it (ecs_native.rs).
            let mut checks = (!plan.verify.is_empty()).then(|| ecs_native::VerifyGate {
                plan: &plan.verify,
                jobs: verify_jobs(aws, plan, tasks, task_definition),
                cancel: watcher.cancel.clone(),
            });
            let mut gate = checks.as_mut().map(|c| c as &mut dyn ecs_native::TestTrafficGate);
            if gate.is_some() {
                let minutes = i32::try_from(plan.watch.timeout.as_secs().div_ceil(60)).unwrap_or(i32::MAX);
                ecs_native::ensure_gate_hook(&aws.ecs, svc, minutes, &watcher.transient, reporter).await?;
            }
            let (id, arn) = ecs_native::start(&aws.ecs, svc, task_definition, &watcher.transient).await?;
            *started = Some(id.clone());
            reporter.progress(Stage::Deploy, format!("deployment {id} started ({arn})"));
            watcher.since = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
            if !plan.watch.wait {
                detach::report(plan, &id, reporter);
                return Ok(Some(id));
            }
            let watched = ecs_native::wait(&aws.ecs, svc, &arn, previous, gate.take(), &mut watcher, reporter).await;
            live(&id, watched)?;
            if let Some(interrupt) = watcher.bake(reporter).await {
                // ECS's own bake is over and the previous revision is gone: returning is a new deployment.
                let reason = interrupt.describe();
                let result = ecs_deployment::roll_back(&aws.ecs, svc, previous, &reason, &mut watcher, reporter).await;
                return Err(super::watcher::caused_by(&interrupt, result)
                    .err()
                    .unwrap_or(Error::RolledBack { reason, now_running: previous.to_owned() }));
            }
            id
        }
        Strategy::CodeDeploy => {
            let Some(settings) = &plan.codedeploy else {
                return Err(Error::StrategyMismatch {
                    message: format!(
                        "environment `{}` deploys with CodeDeploy but has no `codedeploy:` section",
                        plan.environment
                    ),
                    help: "add `codedeploy: { application: ..., deployment-group: ... }` to the environment".into(),
                });
            };
            let spec = codedeploy::appspec_for(svc, task_definition, &settings.hooks)?;
            reporter
                .started(Stage::Deploy, format!("CodeDeploy {} / {}", settings.application, settings.deployment_group));
            let description = format!("pipeline {} ({})", label.version, label.commit);
            watcher.cancel.stop_here(nothing_deployed)?;
            let id =
                codedeploy::start(&aws.codedeploy, settings, &spec, &plan.alarms, &description, &mut watcher, reporter)
                    .await?;
            *started = Some(id.clone());
            reporter.progress(Stage::Deploy, format!("deployment {id} created"));
            if !plan.watch.wait {
                detach::report(plan, &id, reporter);
                return Ok(Some(id));
            }
            // `verify:` runs while the replacement is on the test listener only (the group waits for the reroute).
            let checks = (!plan.verify.is_empty()).then(|| codedeploy::Checks {
                plan: &plan.verify,
                jobs: verify_jobs(aws, plan, tasks, task_definition),
            });
            let watched = codedeploy::wait(aws, svc, &id, previous, checks.as_ref(), &mut watcher, reporter).await;
            live(&id, watched)?;
            id
        }
    };
    Ok(Some(deployment))
}

/// A deployment exists: an error that would read "nothing is deploying" (exit 1) is not true any more.
fn live(deployment: &str, result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Err(e @ Error::Aws { .. }) => Err(Error::DeployFailed {
            reason: format!("{e}, while deployment {deployment} was in flight"),
            help: format!("deployment {deployment} may still be running; check it with `pipeline status`"),
        }),
        other => other,
    }
}

/// Tags the revision as the last known good.
pub async fn mark_verified(aws: &Aws, task_definition: &str, label: &ReleaseLabel) -> Result<(), Error> {
    let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    verified::mark(&aws.ecs, task_definition, &label.version, &label.commit, &at).await
}

/// What `verify:`'s one-off task checks run with: the service's cluster, container and revision.
fn verify_jobs<'a>(
    aws: &'a Aws,
    plan: &'a DeployPlan,
    tasks: &'a BTreeMap<String, crate::config::Task>,
    task_definition: &'a str,
) -> crate::verify::Jobs<'a> {
    let svc = &plan.service;
    crate::verify::Jobs {
        ecs: &aws.ecs,
        tasks,
        defaults: job::Defaults {
            cluster: Some(svc.cluster.clone()),
            container: Some(plan.container.clone()),
            poll: Some(plan.watch.poll),
            transient_window: Some(plan.watch.transient_window),
        },
        service: Some(svc),
        task_definition,
    }
}

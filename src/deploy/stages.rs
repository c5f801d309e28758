//! Executing the deploy half of a plan for one image: register (or reuse) the revision, run the
//! before-deploy tasks, arm the guard, deploy with the chosen strategy, watch, and mark the
//! revision verified when it ends healthy.

use std::collections::BTreeMap;

use super::cancel::Cancel;
use super::plan::DeployPlan;
use super::run_task::{self, RunTaskRequest};
use super::strategy::Strategy;
use super::watcher::Watcher;
use super::{codedeploy, ecs_deployment, verified};
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
    let out =
        input.fluent(&aws.ecs)?.send().await.map_err(|e| Error::aws("RegisterTaskDefinition", doc.family(), e))?;
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
        let Some(task) = tasks.get(name) else {
            return Err(Error::TaskFailed {
                task: name.clone(),
                reason: "not defined under `tasks:` in the config".into(),
            });
        };
        let request = RunTaskRequest {
            name: name.clone(),
            cluster: plan.service.cluster.clone(),
            task_definition: task_definition.to_owned(),
            container: task.container.clone().unwrap_or_else(|| plan.container.clone()),
            command: task.command.clone(),
            env: task.env.clone(),
            network: plan.service.network.clone(),
            poll: plan.watch.poll,
            timeout: plan.watch.timeout,
        };
        run_task::run(&aws.ecs, &request, cancel, reporter).await?;
    }
    Ok(())
}

/// Ensures the 5xx alarms and refuses to start while any guard alarm is in ALARM.
pub async fn arm_guard(aws: &Aws, plan: &DeployPlan, reporter: &mut Reporter) -> Result<(), Error> {
    if plan.alarms.is_empty() {
        return Ok(());
    }
    for spec in &plan.ensure_alarms {
        ensure_five_xx(&aws.cloudwatch, spec, &plan.five_xx).await?;
    }
    let states = guard::state::states(&aws.cloudwatch, &plan.alarms).await?;
    guard::precheck(&plan.alarms, &states).map_err(|reason| Error::GuardBlocked { reason })?;
    reporter.finished(Stage::Guard, format!("watching {}", plan.alarms.join(", ")));
    Ok(())
}

/// Starts the deployment of `task_definition` and watches it to the end.
pub async fn deploy(
    aws: &Aws,
    plan: &DeployPlan,
    task_definition: &str,
    label: &ReleaseLabel,
    cancel: Cancel,
    reporter: &mut Reporter,
) -> Result<Option<String>, Error> {
    let svc = &plan.service;
    let settled =
        svc.task_definition == task_definition && svc.deployments.len() == 1 && svc.deployments[0].is_settled();
    if settled {
        reporter.finished(
            Stage::Deploy,
            format!("{}/{} already runs {task_definition}: nothing to deploy", svc.cluster, svc.name),
        );
        return Ok(None);
    }
    let mut watcher = Watcher::new(&aws.cloudwatch, &plan.watch, cancel);
    let deployment = match plan.strategy {
        Strategy::Rolling | Strategy::EcsBlueGreen => {
            reporter.started(Stage::Deploy, format!("updating {}/{} to {task_definition}", svc.cluster, svc.name));
            ecs_deployment::wait_until_settled(&aws.ecs, svc, &mut watcher, reporter).await?;
            let id = ecs_deployment::start(&aws.ecs, svc, task_definition).await?;
            reporter.progress(Stage::Deploy, format!("deployment {id} started"));
            ecs_deployment::wait(&aws.ecs, svc, &id, &plan.rollback_to, &mut watcher, reporter).await?;
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
            let id =
                codedeploy::start(&aws.codedeploy, settings, &spec, &plan.alarms, &description, &mut watcher, reporter)
                    .await?;
            reporter.progress(Stage::Deploy, format!("deployment {id} created"));
            codedeploy::wait(&aws.codedeploy, svc, &id, &svc.task_definition, &mut watcher, reporter).await?;
            id
        }
    };
    Ok(Some(deployment))
}

/// Tags the revision as the last known good.
pub async fn mark_verified(aws: &Aws, task_definition: &str, label: &ReleaseLabel) -> Result<(), Error> {
    let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    verified::mark(&aws.ecs, task_definition, &label.version, &label.commit, &at).await
}

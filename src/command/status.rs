//! `pipeline status`: what runs now, which release it is, what is in flight; `--task ARN`: how a detached job
//! ended, its exit code becoming pipeline's.

use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::deploy::job;
use crate::deploy::plan::short_arn;
use crate::deploy::run_task::TaskEnd;
use crate::deploy::strategy::ControllerKind;
use crate::deploy::verdict::RolloutState;
use crate::deploy::{detach, verified};
use crate::ecs::{revision, service};
use crate::report::Stage;

pub async fn run(run: &mut Run<'_>, task: Option<&str>) -> Result<(), Error> {
    if let Some(arn) = task {
        return task_status(run, arn).await;
    }
    let config = run.load_config()?;
    let (name, env, aws) = planning::environment(run, &config, "status").await?;
    planning::one_service(name, env, "status")?;
    run.done.environment = Some(name.to_owned());
    let svc = service::describe(&aws.ecs, &env.cluster, &env.service).await?;
    let running_arn = svc.running().to_owned();
    let (_, running) = revision::describe(&aws.ecs, &running_arn).await?;
    let tags = running.tags();
    let release = tags.get(verified::VERSION).map(|v| format!("v{v}")).unwrap_or_else(|| "no pipeline release".into());
    let verified_at = tags.get(verified::VERIFIED_AT).map(|t| format!(", verified {t}")).unwrap_or_default();
    run.done.task_definition_arn = Some(running_arn.clone());
    run.done.version = tags.get(verified::VERSION).cloned();
    run.done.running_now = Some(format!("{running_arn} ({release}{verified_at})"));
    run.reporter.progress(
        Stage::Plan,
        format!(
            "{}/{}: {} of {} tasks running {} ({release}{verified_at})",
            svc.cluster, svc.name, svc.running_count, svc.desired_count, running_arn
        ),
    );
    // The family's latest revision, when it is not what runs (after a rollback or a failed release).
    let (latest, _) = revision::describe(&aws.ecs, running.family()).await?;
    if latest != running_arn {
        run.reporter.progress(
            Stage::Plan,
            format!(
                "the family's latest revision {} is not what runs ({})",
                short_arn(&latest),
                short_arn(&running_arn)
            ),
        );
    }
    for d in &svc.deployments {
        let state = d.rollout_state.as_ref().map_or("-", |s| s.as_str());
        run.reporter.progress(
            Stage::Deploy,
            format!("{} {} {} {state} {}/{} running", d.id, d.status, d.task_definition, d.running, d.desired),
        );
        if d.is_primary() && d.rollout_state == Some(RolloutState::InProgress) {
            run.done.deployment_id = Some(d.id.clone());
        }
    }
    // How the latest deployment ended: the answer to a release started with `wait: false`.
    let codedeploy = env.codedeploy.as_ref().filter(|_| svc.controller.kind == ControllerKind::CodeDeploy).map(|c| {
        crate::deploy::codedeploy::CodeDeploySettings {
            application: c.application.clone(),
            deployment_group: c.deployment_group.clone(),
            config: None,
            wait_when_busy: false,
            hooks: Vec::new(),
        }
    });
    match detach::latest(&aws, &svc, codedeploy.as_ref()).await {
        Ok(Some((line, rolled_back))) => {
            run.done.rolled_back = rolled_back;
            run.reporter.progress(Stage::Deploy, format!("latest: {line}"));
        }
        Ok(None) => {}
        Err(e) => run.reporter.warn(format!("could not read the latest deployment: {e}")),
    }
    Ok(())
}

/// DescribeTasks on a job's task: its status and, once STOPPED, its essential container's exit code. The cluster
/// and region come from the task ARN (`arn:aws:ecs:<region>:<account>:task/<cluster>/<id>`), else from `--env`.
async fn task_status(run: &mut Run<'_>, arn: &str) -> Result<(), Error> {
    let parts: Vec<&str> = arn.split(':').collect();
    let region = parts.get(3).filter(|r| !r.is_empty()).map(|r| (*r).to_owned());
    let resource: Vec<&str> = parts.get(5).map(|r| r.split('/').collect()).unwrap_or_default();
    let cluster = match resource.as_slice() {
        ["task", cluster, _id] => (*cluster).to_owned(),
        _ => {
            let config = run.load_config()?;
            config.environment(run.global.env.as_deref())?.1.cluster.clone()
        }
    };
    let aws = Aws::connect(region.as_deref()).await?;
    let out = aws
        .ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(arn)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeTasks", arn, e))?;
    let Some(task) = out.tasks().first() else {
        return Err(Error::JobSetup {
            message: format!("task {arn} not found in cluster {cluster}"),
            help: "ECS keeps stopped tasks for about an hour; check the ARN (and --env for old-style ARNs)".into(),
        });
    };
    let name = task
        .started_by()
        .and_then(|s| s.strip_prefix("pipeline-"))
        .map(str::to_owned)
        .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn).to_owned());
    let status = task.last_status().unwrap_or("UNKNOWN").to_owned();
    run.done.task_arn = Some(arn.to_owned());
    run.done.task_status = Some(status.clone());
    run.done.task_definition_arn = task.task_definition_arn().map(str::to_owned);
    if status != "STOPPED" {
        run.reporter.progress(Stage::Task, format!("job `{name}` ({arn}) is {status}"));
        return Ok(());
    }
    let essential = match task.task_definition_arn() {
        Some(td) => job::essential_containers(&aws.ecs, td).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let end = TaskEnd::of(task, &essential, None);
    run.done.task_exit_code = end.exit_code;
    match end.verdict() {
        Ok(()) => {
            run.reporter.finished(Stage::Task, format!("job `{name}` ({arn}) exited 0"));
            Ok(())
        }
        Err(reason) => Err(Error::JobFailed { task: name, reason: format!("({arn}) {reason}"), exit: end.exit_code }),
    }
}

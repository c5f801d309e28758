//! `pipeline run-task NAME`: a job from `tasks:`, with its own task definition and image or the environment's
//! service's, its payload as values (`--env-file`, `--var`; never through a shell). Now (waiting for the exit code,
//! which becomes pipeline's), `--detach` (the task ARN, at once), or `--at TIME` (a one-time EventBridge Scheduler
//! schedule that deletes itself after the run).

use std::collections::BTreeMap;

use super::Run;
use super::preflight::Scope;
use crate::Error;
use crate::aws::Aws;
use crate::config::{Config, Environment, Task};
use crate::deploy::cancel::Cancel;
use crate::deploy::job::{self, Defaults, JobPlan};
use crate::deploy::schedules::spec::ScheduleSpec;
use crate::deploy::schedules::{self, at};
use crate::deploy::{payload, run_task};
use crate::ecs::service::{self, ServiceInfo};
use crate::report::Stage;
use crate::request::{JobRequest, OutputFormat};

pub struct Planned {
    aws: Aws,
    job: JobPlan,
    when: When,
}

enum When {
    Now,
    Detached,
    At { group: String, spec: Box<ScheduleSpec> },
}

pub async fn plan(run: &mut Run<'_>, request: &JobRequest) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let task = config.task(&request.name)?;
    let mut values = BTreeMap::new();
    for file in &request.env_files {
        values.extend(payload::read_env_file(file)?);
    }
    for (key, value) in &request.vars {
        if !payload::is_name(key) {
            return Err(Error::Payload {
                message: format!("`--var {key}=...`: `{key}` is not an environment variable name"),
            });
        }
        values.insert(key.clone(), value.clone());
    }
    let env = environment(run, &config, task)?;
    if let Some((_, e)) = env {
        // Only the task's own references are checked: it runs the service's revision or its own file.
        super::planning::check_locally(
            run,
            &config,
            &Scope { tasks: vec![(request.name.as_str(), e)], ..Scope::default() },
        )?;
    }
    let aws = super::planning::connect_for(run, env.map(|(_, e)| e), "run-task").await?;
    if let Some((name, _)) = env {
        run.done.environment = Some(name.to_owned());
    }
    let service = match env {
        Some((name, e)) if job::needs_service(task) => borrowed_service(&aws, name, e, task).await?,
        _ => None,
    };
    let defaults = Defaults::of(env.map(|(_, e)| e));
    let job = job::plan(&aws.ecs, &request.name, task, &defaults, service.as_ref(), &values, false).await?;
    run.reporter.progress(Stage::Plan, job.describe());
    run.plan.job = Some(job.clone());
    if let job::JobDefinition::Registered { arn } = &job.definition {
        run.done.task_definition_arn = Some(arn.clone());
    }
    let when = match &request.at {
        Some(time) => {
            let expression =
                at::one_time_expression(time, time::OffsetDateTime::now_utc()).map_err(|message| Error::JobSetup {
                    message: format!("--at: {message}"),
                    help: "give a future time with an offset, e.g. --at 2026-12-01T03:00Z".into(),
                })?;
            let role = schedules::role_arn(&config)?;
            let spec = schedules::one_time_spec(&aws, &request.name, expression, role, &job).await?;
            let group = schedules::group(&config, env.map(|(n, _)| n));
            run.reporter.progress(
                Stage::Plan,
                format!("one run at {time}: schedule {group}/{} ({})", spec.name, spec.expression),
            );
            When::At { group, spec: Box::new(spec) }
        }
        None if request.detach => When::Detached,
        None => When::Now,
    };
    Ok(Planned { aws, job, when })
}

pub async fn execute(run: &mut Run<'_>, Planned { aws, job, when }: Planned) -> Result<(), Error> {
    if let When::At { group, spec } = &when {
        let arn = schedules::create_one_time(&aws, group, spec, &job).await?;
        run.done.schedule_arn = Some(arn.clone());
        run.reporter.finished(
            Stage::Schedule,
            format!(
                "job `{}` runs at {} UTC ({arn}); the schedule deletes itself after the run",
                job.name,
                &spec.expression[3..spec.expression.len() - 1]
            ),
        );
        return Ok(());
    }
    let task_definition = job::ensure_registered(&aws.ecs, &job, None).await?;
    run.done.task_definition_arn = Some(task_definition.clone());
    let request = job.request(&task_definition);
    let task_arn = run_task::start(&aws.ecs, &request, run.reporter).await?;
    run.done.task_arn = Some(task_arn.clone());
    if matches!(when, When::Detached) {
        // Machine output: the ARN alone on stdout (the JSON document carries it under --output json).
        if run.global.output == OutputFormat::Human {
            println!("{task_arn}");
        }
        run.done.task_status = Some("PROVISIONING".into());
        run.reporter.finished(
            Stage::Task,
            format!("started {task_arn}; `pipeline status --task {task_arn}` tells how it ended"),
        );
        return Ok(());
    }
    let end = run_task::wait_stopped(&aws.ecs, &request, &task_arn, &mut Cancel::on_signals()).await?;
    run.done.task_status = Some("STOPPED".into());
    run.done.task_exit_code = end.exit_code;
    match end.verdict() {
        Ok(()) => {
            run.reporter.finished(Stage::Task, format!("task `{}` exited 0", job.name));
            Ok(())
        }
        Err(reason) => Err(Error::JobFailed {
            task: job.name.clone(),
            reason: format!("({task_arn}) {reason}"),
            exit: end.exit_code,
        }),
    }
}

/// `--env`, or the only environment; none when the task says where it runs by itself (a standalone job).
fn environment<'c>(
    run: &Run<'_>,
    config: &'c Config,
    task: &Task,
) -> Result<Option<(&'c str, &'c Environment)>, Error> {
    let standalone = task.cluster.is_some() && task.task_definition.is_some();
    if run.global.env.is_some() || config.environments.len() == 1 || !standalone {
        if config.environments.is_empty() && run.global.env.is_none() {
            return Ok(None); // job::plan says what is missing
        }
        return Ok(Some(config.environment(run.global.env.as_deref())?));
    }
    Ok(None)
}

/// The environment's service, for the revision, network and placement the task does not give; a task with a
/// task definition of its own runs without it when the service does not exist.
/// An environment with `services:` has no one service to borrow from: the task needs its own.
async fn borrowed_service(aws: &Aws, name: &str, env: &Environment, task: &Task) -> Result<Option<ServiceInfo>, Error> {
    if env.has_services() {
        if task.task_definition.is_some() {
            return Ok(None);
        }
        return Err(Error::SeveralServices {
            environment: name.to_owned(),
            command: "run-task",
            help: "give the task its own `task-definition:` (and `cluster:`) in `tasks:`, as it cannot borrow the \
                   revision of one of several services"
                .into(),
        });
    }
    match service::describe(&aws.ecs, &env.cluster, &env.service).await {
        Ok(svc) => Ok(Some(svc)),
        Err(Error::ServiceNotFound { .. }) if task.task_definition.is_some() => Ok(None),
        Err(e) => Err(e),
    }
}

//! `pipeline run-task NAME`: a one-off task from `tasks:` with the service's running revision and
//! network; waits for its exit code. Values are passed as overrides, never through a shell.

use super::preflight::Scope;
use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::deploy::cancel::Cancel;
use crate::deploy::run_task::{self, RunTaskRequest};
use crate::ecs::service;

pub struct Planned {
    aws: Aws,
    request: RunTaskRequest,
}

pub async fn plan(run: &mut Run<'_>, name: &str, overrides: &[(String, String)]) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let task = config.task(name)?;
    let (_, env) = config.environment(run.global.env.as_deref())?;
    // The task runs with the service's running revision (or its own file): only the task's references are checked.
    planning::check_locally(run, &config, &Scope { tasks: vec![(name, env)], ..Scope::default() })?;
    let (env_name, env, aws) = planning::environment(run, &config).await?;
    run.done.environment = Some(env_name.to_owned());
    let svc = service::describe(&aws.ecs, &env.cluster, &env.service).await?;
    let mut values = task.env.clone();
    values.extend(overrides.iter().cloned());
    let request = RunTaskRequest {
        name: name.to_owned(),
        cluster: env.cluster.clone(),
        task_definition: svc.task_definition.clone(),
        container: task.container(env).to_owned(),
        command: task.command.clone(),
        env: values,
        network: svc.network.clone(),
        poll: env.guard.poll_interval,
        timeout: env.timeout,
    };
    run.done.task_definition_arn = Some(svc.task_definition.clone());
    Ok(Planned { aws, request })
}

pub async fn execute(run: &mut Run<'_>, Planned { aws, request }: Planned) -> Result<(), Error> {
    run_task::run(&aws.ecs, &request, &mut Cancel::on_signals(), run.reporter).await
}

//! `pipeline schedules apply|plan`: `schedules:` from the config reconciled with EventBridge Scheduler, in the
//! one schedule group the tool owns (`release` does the same after a verified release, with the new revision).

use super::Run;
use crate::Error;
use crate::aws::Aws;
use crate::config::{Config, Environment};
use crate::deploy::job::Defaults;
use crate::deploy::schedules::{self, Context, SchedulesPlan};
use crate::ecs::service;
use crate::report::Stage;

pub struct Planned {
    aws: Aws,
    plan: SchedulesPlan,
}

/// `schedules plan`: the changes, read-only; exit 2 when there are some.
pub async fn show(run: &mut Run<'_>) -> Result<(), Error> {
    let Planned { plan, .. } = self::plan(run).await?;
    run.done.changes = plan.changes();
    Ok(())
}

pub async fn plan(run: &mut Run<'_>) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let env = environment(run, &config)?;
    let aws = super::planning::connect_for(run, env.map(|(_, e)| e), "schedules").await?;
    // Jobs that borrow the service's revision, network or placement run what the service runs now.
    let service = match env {
        Some((name, e)) => {
            run.done.environment = Some(name.to_owned());
            // With `services:` there is no one service to borrow from: jobs need their own task definition.
            if e.has_services() {
                None
            } else {
                match service::describe(&aws.ecs, &e.cluster, &e.service).await {
                    Ok(svc) => Some(svc),
                    Err(Error::ServiceNotFound { .. }) => None,
                    Err(err) => return Err(err),
                }
            }
        }
        None => None,
    };
    let ctx = Context {
        environment: env.map(|(n, _)| n),
        defaults: Defaults::of(env.map(|(_, e)| e)),
        service: service.as_ref(),
    };
    let Some(plan) = schedules::plan(&aws, &config, &ctx, None).await? else {
        return Err(Error::JobSetup {
            message: "the config has no `schedules:`".into(),
            help: "add `schedules: { nightly: { task: <a task>, cron: \"0 3 * * ? *\" } }` (and `scheduler.role-arn`); `schedules: {}` deletes the tool's schedules".into(),
        });
    };
    for line in plan.describe() {
        run.reporter.progress(Stage::Plan, line);
    }
    run.plan.schedules = Some(plan.clone());
    Ok(Planned { aws, plan })
}

pub async fn execute(run: &mut Run<'_>, Planned { aws, plan }: Planned) -> Result<(), Error> {
    schedules::apply(&aws, &plan, None, run.reporter).await
}

/// `--env`, or the only environment; none for a config of standalone jobs.
fn environment<'c>(run: &Run<'_>, config: &'c Config) -> Result<Option<(&'c str, &'c Environment)>, Error> {
    if config.environments.is_empty() && run.global.env.is_none() {
        return Ok(None);
    }
    Ok(Some(config.environment(run.global.env.as_deref())?))
}

//! `pipeline rollback`: return the service to the newest verified release other than the running one.

use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::config::Config;
use crate::deploy::cancel::Cancel;
use crate::deploy::plan::DeployPlan;
use crate::deploy::stages;
use crate::notify::{self, Target};
use crate::plan::ReleaseLabel;

pub struct Planned {
    config: Config,
    aws: Aws,
    deploy: DeployPlan,
}

pub async fn plan(run: &mut Run<'_>) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let (name, env, aws) = planning::environment(run, &config).await?;
    let deploy = planning::deploy(run, &aws, name, env).await?;
    let current = &deploy.service.task_definition;
    if &deploy.rollback_to == current {
        return Err(Error::NothingToRollBackTo {
            service: format!("{}/{}", deploy.service.cluster, deploy.service.name),
            current: current.clone(),
        });
    }
    run.done.task_definition_arn = Some(deploy.rollback_to.clone());
    Ok(Planned { config, aws, deploy })
}

pub async fn execute(run: &mut Run<'_>, Planned { config, aws, deploy }: Planned) -> Result<(), Error> {
    let env = &config.environments[&deploy.environment];
    notify::attach(
        &config,
        run.ci,
        &Target { name: &deploy.environment, env, version: None, commit: None },
        run.reporter,
    );
    let label = ReleaseLabel { version: "rollback".into(), commit: "rollback".into() };
    stages::arm_guard(&aws, &deploy, run.reporter).await?;
    let target = deploy.rollback_to.clone();
    run.done.deployment_id = stages::deploy(&aws, &deploy, &target, &label, Cancel::on_signals(), run.reporter).await?;
    run.done.running_now = Some(target);
    Ok(())
}

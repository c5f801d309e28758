//! `pipeline deploy --image REF`: the deploy half of a release for an image already in ECR
//! (promotion by digest).

use super::preflight::Scope;
use super::release::deploy_image;
use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::config::Config;
use crate::deploy::plan::DeployPlan;
use crate::image::existing::{self, ExistingImage};
use crate::notify::{self, Target};
use crate::plan::ImageStep;

pub struct Planned {
    config: Config,
    aws: Aws,
    /// `None` for an environment with `services:` (its plan is `run.plan.services`).
    deploy: Option<DeployPlan>,
    image: ExistingImage,
}

pub async fn plan(run: &mut Run<'_>, image: &str) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let (name, env) = config.environment(run.global.env.as_deref())?;
    let each = env.each_service();
    let mut scope = Scope::release(None);
    scope.image = false;
    for (_, one) in &each {
        scope.environments.push((name, one));
        scope.tasks.extend(one.before_deploy.iter().map(|s| (s.run_task.as_str(), one)));
    }
    planning::check_locally(run, &config, &scope)?;
    let (name, env, aws) = planning::environment(run, &config).await?;
    let deploy =
        if env.has_services() { None } else { Some(planning::deploy_checked(run, &aws, &config, name, env).await?) };
    let found = existing::find(&aws.ecr, image).await?;
    run.plan.label = Some(found.label.clone());
    run.plan.image = ImageStep::Existing { pinned: found.pinned.clone(), digest: found.digest.clone() };
    // Sidecars built for that release are the ones tagged with its commit.
    run.plan.sidecars = crate::image::sidecars::plan_existing(&aws, &config, &found.label).await?;
    if env.has_services() {
        super::services::plan(run, &aws, &config, name, env).await?;
    } else {
        planning::diff(run)?;
    }
    Ok(Planned { config, aws, deploy, image: found })
}

pub async fn execute(run: &mut Run<'_>, Planned { config, aws, deploy, image }: Planned) -> Result<(), Error> {
    let services = run.plan.services.clone();
    let pins = run.plan.planned_sidecars();
    let mut deploy = deploy;
    let mut services = services;
    for plan in deploy.iter_mut().chain(services.iter_mut().flat_map(|s| s.services.iter_mut().map(|s| &mut s.deploy)))
    {
        plan.sidecars = pins.clone();
    }
    let Some(name) = deploy.as_ref().map(|d| &d.environment).or(services.as_ref().map(|s| &s.environment)) else {
        return Ok(());
    };
    let env = &config.environments[name];
    // The Deployment names the image's commit (its OCI revision label), else the workflow's.
    let commit = Some(image.label.commit.clone()).filter(|c| c.len() == 40);
    let target = Target { name, env, version: Some(image.label.version.clone()), commit };
    notify::attach(&config, run.ci, &target, run.reporter);
    match (&deploy, &services) {
        (Some(deploy), _) => deploy_image(run, &aws, &config, deploy, &image.pinned, &image.label).await,
        (None, Some(services)) => {
            super::services::deploy_all(run, &aws, &config, services, &image.pinned, &image.label).await
        }
        (None, None) => Ok(()),
    }
}

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
    deploy: DeployPlan,
    image: ExistingImage,
}

pub async fn plan(run: &mut Run<'_>, image: &str) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let (name, env) = config.environment(run.global.env.as_deref())?;
    let mut scope = Scope::release(Some((name, env)));
    scope.image = false;
    planning::check_locally(run, &config, &scope)?;
    let (name, env, aws) = planning::environment(run, &config).await?;
    let deploy = planning::deploy_checked(run, &aws, &config, name, env).await?;
    let found = existing::find(&aws.ecr, image).await?;
    run.plan.label = Some(found.label.clone());
    run.plan.image = ImageStep::Existing { pinned: found.pinned.clone(), digest: found.digest.clone() };
    planning::diff(run)?;
    Ok(Planned { config, aws, deploy, image: found })
}

pub async fn execute(run: &mut Run<'_>, Planned { config, aws, deploy, image }: Planned) -> Result<(), Error> {
    let env = &config.environments[&deploy.environment];
    // The Deployment names the image's commit (its OCI revision label), else the workflow's.
    let commit = Some(image.label.commit.clone()).filter(|c| c.len() == 40);
    let target = Target { name: &deploy.environment, env, version: Some(image.label.version.clone()), commit };
    notify::attach(&config, run.ci, &target, run.reporter);
    deploy_image(run, &aws, &config, &deploy, &image.pinned, &image.label).await
}

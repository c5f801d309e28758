//! The read-only steps commands plan with. Each fills its part of [`Run::plan`] and reports it as
//! plan lines, so an error in a later step still reports what was decided before it.

use super::Run;
use crate::Error;
use crate::aws::Aws;
use crate::config::{Config, Environment};
use crate::deploy;
use crate::deploy::job::Defaults;
use crate::deploy::plan::DeployPlan;
use crate::deploy::schedules::Context;
use crate::image::plan::{ImagePlan, plan_image};
use crate::plan::{self, ImageStep, ReleaseLabel};
use crate::report::Stage;
use crate::request::VersionRequest;
use crate::version::{self, ReleaseVersion};

/// The version and tags, from `--version` or the git history.
pub fn version(run: &mut Run<'_>, config: &Config, request: &VersionRequest) -> Result<ReleaseVersion, Error> {
    let event = run.ci.event();
    let version = version::resolve(&config.dir, request.explicit.as_deref(), request.allow_dirty, &event)?;
    run.plan.label = Some(ReleaseLabel::from(&version));
    run.plan.tags = version.tags(&config.tags);
    let tags = run.plan.tags.join(", ");
    run.reporter.finished(Stage::Version, format!("{} -> tags {tags}", version.version_tag()));
    Ok(version)
}

/// The environment `--env` names (or the only one), with AWS clients for its region.
pub async fn environment<'c>(run: &Run<'_>, config: &'c Config) -> Result<(&'c str, &'c Environment, Aws), Error> {
    let (name, env) = config.environment(run.global.env.as_deref())?;
    let aws = Aws::connect(env.region.as_deref()).await?;
    Ok((name, env, aws))
}

/// Build or reuse: decided by what ECR holds for this commit.
pub async fn image(run: &mut Run<'_>, aws: &Aws, config: &Config, version: ReleaseVersion) -> Result<ImagePlan, Error> {
    let image = plan_image(&aws.ecr, &config.image.repository, version, run.plan.tags.clone()).await?;
    for line in image.describe() {
        run.reporter.progress(Stage::Plan, line);
    }
    run.plan.image = ImageStep::Publish(image.clone());
    Ok(image)
}

/// The deploy half: the service, its strategy, the template, the guard and the rollback target.
pub async fn deploy(run: &mut Run<'_>, aws: &Aws, name: &str, env: &Environment) -> Result<DeployPlan, Error> {
    run.done.environment = Some(name.to_owned());
    let planned = deploy::plan::plan(aws, name, env).await?;
    for warning in &planned.warnings {
        run.reporter.warn(warning.clone());
    }
    for line in plan::describe_deploy(&planned) {
        run.reporter.progress(Stage::Plan, line);
    }
    run.plan.deploy = Some(planned.clone());
    Ok(planned)
}

/// What registering the planned image would change in the task definition.
pub fn diff(run: &mut Run<'_>) -> Result<(), Error> {
    let (Some(deploy), Some(image)) = (&run.plan.deploy, run.plan.planned_image()) else { return Ok(()) };
    let diff = deploy.diff(&image)?;
    let diff = (!diff.is_empty()).then_some(diff);
    run.reporter.progress(Stage::Plan, plan::describe_diff(diff.as_ref()));
    run.plan.task_definition_diff = diff;
    Ok(())
}

/// Scheduled jobs: what reconciling `schedules:` after this release would change. Jobs that run the service's
/// revision are scheduled with the one this release deploys (known now only when no new revision is needed).
pub async fn schedules(
    run: &mut Run<'_>,
    aws: &Aws,
    config: &Config,
    name: &str,
    env: &Environment,
) -> Result<(), Error> {
    let Some(deploy) = run.plan.deploy.clone().filter(|_| config.schedules.is_some()) else { return Ok(()) };
    let known = run.plan.planned_image().and_then(|image| deploy.reusable(&image).ok().flatten());
    let ctx = Context { environment: Some(name), defaults: Defaults::of(Some(env)), service: Some(&deploy.service) };
    let planned = deploy::schedules::plan(aws, config, &ctx, Some(known)).await?;
    for line in planned.iter().flat_map(|p| p.describe()) {
        run.reporter.progress(Stage::Plan, line);
    }
    run.plan.schedules = planned;
    Ok(())
}

/// `release`, `plan`, `check` (with the deploy half) and `push` (without): version, AWS, image,
/// and the deploy half of the chosen environment.
pub async fn release(
    run: &mut Run<'_>,
    config: &Config,
    request: &VersionRequest,
    with_deploy: bool,
) -> Result<(Aws, ImagePlan), Error> {
    let version = version(run, config, request)?;
    // A release deploys to the chosen environment; the image half only needs one for its region.
    let wants_environment =
        (with_deploy && !config.environments.is_empty()) || run.global.env.is_some() || config.environments.len() == 1;
    let environment = if wants_environment { Some(config.environment(run.global.env.as_deref())?) } else { None };
    let aws = Aws::connect(environment.and_then(|(_, e)| e.region.as_deref())).await?;
    let image = image(run, &aws, config, version).await?;
    if let (true, Some((name, env))) = (with_deploy, environment) {
        deploy(run, &aws, name, env).await?;
        diff(run)?;
        schedules(run, &aws, config, name, env).await?;
    }
    Ok((aws, image))
}

//! The read-only steps commands plan with. Each fills its part of [`Run::plan`] and reports it as
//! plan lines, so an error in a later step still reports what was decided before it. The checks of
//! [`super::preflight`] run first: the local ones before any AWS call, the AWS ones before any write.

use super::Run;
use super::preflight::{self, Scope};
use crate::Error;
use crate::aws::Aws;
use crate::config::{Config, Environment};
use crate::deploy;
use crate::deploy::plan::DeployPlan;
use crate::image::plan::{ImageAction, ImagePlan, plan_image};
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

/// The local checks of `scope`: files, task definitions, references. No AWS call yet.
pub fn check_locally(run: &Run<'_>, config: &Config, scope: &Scope<'_>) -> Result<(), Error> {
    preflight::local::check(config, run.ci, scope)
}

/// Build or reuse: decided by what ECR holds for this commit; a repository that cannot be created, or build
/// secrets that are not set for a build, stop the run here.
pub async fn image(run: &mut Run<'_>, aws: &Aws, config: &Config, version: ReleaseVersion) -> Result<ImagePlan, Error> {
    let image = plan_image(&aws.ecr, &config.image.repository, version, run.plan.tags.clone()).await?;
    for line in image.describe() {
        run.reporter.progress(Stage::Plan, line);
    }
    run.plan.image = ImageStep::Publish(image.clone());
    preflight::remote::repository(config, &image)?;
    if let ImageAction::Build { .. } = image.action {
        let missing = config.image.secrets.iter().filter(|(_, var)| run.ci.secret(var).is_none());
        let mut problems: Vec<Error> =
            missing.map(|(id, var)| Error::MissingSecret { id: id.clone(), var: var.clone() }).collect();
        if let Err(e) = crate::image::build::ping(&run.ci.docker_host()).await {
            problems.push(e.into());
        }
        Error::from_problems(problems)?;
    }
    Ok(image)
}

/// The deploy half: the service, its strategy, the template, the guard and the rollback target.
pub async fn deploy(run: &mut Run<'_>, aws: &Aws, name: &str, env: &Environment) -> Result<DeployPlan, Error> {
    run.done.environment = Some(name.to_owned());
    let planned = deploy::plan::plan(aws, name, env).await?;
    report_deploy(run, &planned);
    Ok(planned)
}

/// [`deploy`] for a release: what is missing in AWS named by the config key that points at it, and
/// what must hold there before anything is registered checked too.
pub async fn deploy_checked(
    run: &mut Run<'_>,
    aws: &Aws,
    config: &Config,
    name: &str,
    env: &Environment,
) -> Result<DeployPlan, Error> {
    run.done.environment = Some(name.to_owned());
    let planned = deploy::plan::plan(aws, name, env)
        .await
        .map_err(|e| preflight::remote::place(config, name, env, &aws.region, e))?;
    report_deploy(run, &planned);
    preflight::remote::check(aws, config, name, env, &planned).await?;
    let running = crate::deploy::verified::family_of(&planned.service.task_definition);
    if let Some(running) = running.filter(|f| *f != planned.template.family()) {
        run.reporter.warn(format!(
            "{}/{} runs family `{running}`; this release registers family `{}`",
            planned.service.cluster,
            planned.service.name,
            planned.template.family()
        ));
    }
    Ok(planned)
}

fn report_deploy(run: &mut Run<'_>, planned: &DeployPlan) {
    for warning in &planned.warnings {
        run.reporter.warn(warning.clone());
    }
    for line in plan::describe_deploy(planned) {
        run.reporter.progress(Stage::Plan, line);
    }
    run.plan.deploy = Some(planned.clone());
}

/// What registering the planned image would change in the task definition; the rendered document
/// is also mapped onto the SDK's request now, so a field it cannot send fails the plan, not the release.
pub fn diff(run: &mut Run<'_>) -> Result<(), Error> {
    let (Some(deploy), Some(image)) = (&run.plan.deploy, run.plan.planned_image()) else { return Ok(()) };
    // Said now, before anything changes, rather than when registering.
    for warning in deploy.render(&image)?.to_sdk_input()?.warnings {
        run.reporter.warn(warning);
    }
    let diff = deploy.diff(&image)?;
    let diff = (!diff.is_empty()).then_some(diff);
    run.reporter.progress(Stage::Plan, plan::describe_diff(diff.as_ref()));
    run.plan.task_definition_diff = diff;
    Ok(())
}

/// `release`, `plan`, `check` (with the deploy half) and `push` (without): local checks, version,
/// AWS, image, and the deploy half of the chosen environment.
pub async fn release(
    run: &mut Run<'_>,
    config: &Config,
    request: &VersionRequest,
    with_deploy: bool,
) -> Result<(Aws, ImagePlan), Error> {
    // A release deploys to the chosen environment; the image half only needs one for its region.
    let wants_environment =
        (with_deploy && !config.environments.is_empty()) || run.global.env.is_some() || config.environments.len() == 1;
    let environment = if wants_environment { Some(config.environment(run.global.env.as_deref())?) } else { None };
    check_locally(run, config, &Scope::release(environment.filter(|_| with_deploy)))?;
    let version = version(run, config, request)?;
    let aws = Aws::connect(environment.and_then(|(_, e)| e.region.as_deref())).await?;
    let image = image(run, &aws, config, version).await?;
    if let (true, Some((name, env))) = (with_deploy, environment) {
        deploy_checked(run, &aws, config, name, env).await?;
        diff(run)?;
    }
    Ok((aws, image))
}

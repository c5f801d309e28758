//! The read-only steps commands plan with. Each fills its part of [`Run::plan`] and reports it as
//! plan lines, so an error in a later step still reports what was decided before it. The checks of
//! [`super::preflight`] run first: the local ones before any AWS call, the AWS ones before any write.

use super::Run;
use super::preflight::{self, Scope};
use crate::Error;
use crate::aws::{Aws, Identity, Role, session_name};
use crate::config::{Config, Environment};
use crate::deploy;
use crate::deploy::job::Defaults;
use crate::deploy::plan::DeployPlan;
use crate::deploy::schedules::Context;
use crate::git::Snapshot;
use crate::image::build::BuildError;
use crate::image::ecr;
use crate::image::plan::{ImageAction, ImagePlan, plan_cache, plan_image};
use crate::image::platform;
use crate::image::reference::Repository;
use crate::image::released;
use crate::image::tag_policy::Mutability;
use crate::plan::{self, ImageStep, ReleaseLabel};
use crate::publish_release;
use crate::report::Stage;
use crate::request::VersionRequest;
use crate::version::{self, ReleaseVersion, Released, Resolution};

/// The version and tags, from `--version` or the history: git tags, and `registry`, the releases
/// ECR holds (empty for `build`, which asks no AWS). `notes`: the commits since the previous release are wanted.
pub fn version(
    run: &mut Run<'_>,
    config: &Config,
    tree: &Snapshot,
    request: &VersionRequest,
    registry: &[Released],
    notes: bool,
) -> Result<Resolution, Error> {
    let event = run.ci.event();
    let resolved = version::resolve(tree, request.explicit.as_deref(), request.allow_dirty, &event, registry, notes)?;
    let version = &resolved.release;
    run.plan.label = Some(ReleaseLabel::from(version));
    run.plan.tags = version.tags(&config.tags);
    for moving in config.moving_tags() {
        if !version.dirty && !run.plan.tags.contains(&moving) {
            run.plan.tags.push(moving);
        }
    }
    let tags = run.plan.tags.join(", ");
    let since = resolved.previous.as_ref().map(|p| format!(" (after {p})")).unwrap_or_default();
    run.reporter.finished(Stage::Version, format!("{} -> tags {tags}{since}", version.version_tag()));
    Ok(resolved)
}

/// The environment `--env` names (or the only one), with AWS clients for its identity; `purpose` names the
/// session of an assumed role (`pipeline-<service>-<purpose>`).
pub async fn environment<'c>(
    run: &mut Run<'_>,
    config: &'c Config,
    purpose: &str,
) -> Result<(&'c str, &'c Environment, Aws), Error> {
    let (name, env) = config.environment(run.global.env.as_deref())?;
    let aws = connect(run, &identity(env, purpose)).await?;
    Ok((name, env, aws))
}

/// The environment's AWS identity: its region and profile, and its `role-arn` with a session named after the
/// release (`pipeline-<service>-<release>`).
pub fn identity(env: &Environment, release: &str) -> Identity {
    Identity {
        region: env.region.clone(),
        profile: env.profile.clone(),
        role: env
            .role_arn
            .as_ref()
            .map(|arn| Role { arn: arn.clone(), session_name: session_name(&env.service, release) }),
    }
}

/// Clients for the chosen environment's identity (`purpose` names an assumed role's session), or plain ones.
pub async fn connect_for(run: &mut Run<'_>, env: Option<&Environment>, purpose: &str) -> Result<Aws, Error> {
    match env {
        Some(env) => connect(run, &identity(env, purpose)).await,
        None => Aws::connect(None).await,
    }
}

/// Clients for `identity`, saying which role the run acts as.
pub async fn connect(run: &mut Run<'_>, identity: &Identity) -> Result<Aws, Error> {
    let aws = Aws::connect_as(identity).await?;
    if let Some(role) = &identity.role {
        run.reporter.progress(Stage::Plan, format!("AWS as role {} (session {})", role.arn, role.session_name));
    }
    Ok(aws)
}

/// The local checks of `scope`: files, task definitions, references. No AWS call yet.
pub fn check_locally(run: &Run<'_>, config: &Config, scope: &Scope<'_>) -> Result<(), Error> {
    preflight::local::check(config, run.ci, scope)
}

/// Build or reuse: decided by what ECR holds for this commit. `found` is the repository (and its
/// tag mutability) as described while planning the version. A repository that cannot be created,
/// or build secrets that are not set for a build, stop the run here.
pub async fn image(
    run: &mut Run<'_>,
    aws: &Aws,
    config: &Config,
    tree: &Snapshot,
    version: ReleaseVersion,
    found: Option<(Repository, Mutability)>,
    registry: &[Released],
) -> Result<ImagePlan, Error> {
    let moving = if version.dirty { Vec::new() } else { config.moving_tags() };
    let tags: Vec<String> = run.plan.tags.iter().filter(|t| !moving.contains(t)).cloned().collect();
    let mut image = plan_image(&aws.ecr, &config.image.repository, found, version, tags, moving).await?;
    if let ImageAction::Build { .. } = image.action {
        // The parent commit's image is the likeliest to share layers; a root commit has none.
        let parent = tree.repo.commit(&format!("{}^", image.version.commit)).ok();
        image.cache = plan_cache(&aws.ecr, &image, &config.image.cache, parent.as_deref(), registry).await?;
    }
    if !image.overwritable.is_empty() {
        run.reporter.warn(format!(
            "ECR repository {} is {}: {} could be overwritten by another writer. pipeline never overwrites a tag and \
             reads each one back after writing it; only an immutable repository rules the race out",
            config.image.repository,
            image.mutability,
            image.overwritable.join(", ")
        ));
    }
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

/// `rollback` and `status` work on one service: an environment with `services:` is refused, saying so.
pub fn one_service(name: &str, env: &Environment, command: &'static str) -> Result<(), Error> {
    if !env.has_services() {
        return Ok(());
    }
    Err(Error::SeveralServices {
        environment: name.to_owned(),
        command,
        help: "a failed release returns each of its services to what ran before by itself; to look at one, use \
               `aws ecs describe-services`"
            .into(),
    })
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

/// The sidecars against every task definition the release to `env` registers, as planned (one-service, or each of
/// `services:`): what the local checks could not see, a `from-service` revision, is known now, before any write.
pub fn sidecars_checked(run: &Run<'_>, config: &Config, name: &str, env: &Environment) -> Result<(), Error> {
    let each = env.each_service();
    let planned: Vec<(&Environment, &DeployPlan)> = match (&run.plan.services, &run.plan.deploy) {
        (Some(services), _) => services
            .services
            .iter()
            .filter_map(|s| each.iter().find(|(n, _)| *n == s.name).map(|(_, one)| (one, &s.deploy)))
            .collect(),
        (None, Some(deploy)) => vec![(env, deploy)],
        (None, None) => return Ok(()),
    };
    preflight::remote::sidecars(config, name, &planned)
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
    let sidecars = run.plan.planned_sidecars();
    if let Some(deploy) = run.plan.deploy.as_mut() {
        deploy.sidecars = sidecars;
    }
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

/// `release`, `plan`, `check` (with the deploy half) and `push` (without): local checks, version
/// (from git and the releases in ECR), AWS, image, and the deploy half of the chosen environment.
pub async fn release(
    run: &mut Run<'_>,
    config: &Config,
    request: &VersionRequest,
    with_deploy: bool,
) -> Result<(Aws, ImagePlan), Error> {
    // What the work tree alone can refuse comes first (a typo, a dirty tree), before any AWS call.
    let tree = version::precheck(&config.dir, request.explicit.as_deref(), request.allow_dirty)?;
    // A release deploys to the chosen environment; the image half only needs one for its region.
    let wants_environment =
        (with_deploy && !config.environments.is_empty()) || run.global.env.is_some() || config.environments.len() == 1;
    let environment = if wants_environment { Some(config.environment(run.global.env.as_deref())?) } else { None };
    // Each service of `services:` is checked as the one-service environment it is deployed as.
    let each = environment.filter(|_| with_deploy).map(|(name, env)| (name, env.each_service()));
    let mut scope = Scope::release(None);
    if let Some((name, all)) = &each {
        scope.deploying(name, all);
    }
    check_locally(run, config, &scope)?;
    let aws = match environment {
        Some((_, env)) => connect(run, &identity(env, &release_name(&tree, request))).await?,
        None => Aws::connect(None).await?,
    };
    let found = ecr::describe_repository(&aws.ecr, &config.image.repository).await?;
    let registry = match &found {
        Some((repo, _)) => released::releases(&aws.ecr, repo).await?,
        None => Vec::new(),
    };
    // Release notes are only published by a deployment.
    let resolved = version(run, config, &tree, request, &registry, with_deploy)?;
    let mut image = image(run, &aws, config, &tree, resolved.release.clone(), found, &registry).await?;
    if !config.image.sidecars.is_empty() {
        run.plan.sidecars = crate::image::sidecars::plan(&aws, config, &resolved.release, &image.tags).await?;
        for line in run.plan.sidecars.iter().flat_map(|s| s.describe()) {
            run.reporter.progress(Stage::Plan, line);
        }
    }
    let settings = publish_release::PublishSettings {
        tags: config.notify.github.tags && run.ci.repository().is_some(),
        releases: config.notify.github.releases,
    };
    // A clone that has the tag needs none; a run that did not create the version (a re-run, a
    // promotion to another environment) still tries, quietly, in case the first run could not.
    let first = image.adds(&resolved.release.version_tag());
    // Only a deployment verifies a release: no environment, nothing to publish.
    if with_deploy
        && environment.is_some()
        && !resolved.git_tagged
        && let Some(publication) =
            publish_release::plan(&resolved.release, resolved.previous.as_ref(), &resolved.commits, settings, first)
    {
        run.reporter.progress(Stage::Plan, publish_release::describe(&publication));
        run.plan.publication = Some(publication);
    }
    if let (true, Some((name, env))) = (with_deploy, environment)
        && env.has_services()
    {
        super::services::plan(run, &aws, config, name, env).await?;
    } else if let (true, Some((name, env))) = (with_deploy, environment) {
        deploy_checked(run, &aws, config, name, env).await?;
        diff(run)?;
        schedules(run, &aws, config, name, env).await?;
    }
    if let (true, Some((name, env))) = (with_deploy, environment) {
        sidecars_checked(run, config, name, env)?;
    }
    build_platform(run, config, environment.map(|(_, env)| env), &mut image).await?;
    Ok((aws, image))
}

/// The build platform, from `image.platform` or the task definition's `runtimePlatform` (the deploy plan's
/// template, else the environment's task-definition file), and whether the engine can build it: refused here,
/// before the first change, when it cannot.
pub async fn build_platform(
    run: &mut Run<'_>,
    config: &Config,
    env: Option<&Environment>,
    image: &mut ImagePlan,
) -> Result<(), Error> {
    if !matches!(image.action, ImageAction::Build { .. }) {
        return Ok(());
    }
    let from_file = match (&run.plan.deploy, env.map(|e| &e.task_definition)) {
        (None, Some(crate::config::TaskDefinitionSource::File(path))) => {
            Some(crate::task_definition::TaskDefinitionDoc::load(path)?.doc)
        }
        _ => None,
    };
    let template = run.plan.deploy.as_ref().map(|d| &d.template).or(from_file.as_ref());
    let choice = platform::decide(config.image.platform.as_deref(), template.map(|t| t.as_map()))
        .map_err(|c| BuildError::PlatformConflict { configured: c.configured, task_definition: c.task_definition })?;
    let Some(choice) = choice else { return Ok(()) };
    run.reporter.progress(Stage::Plan, choice.describe());
    let host = run.ci.docker_host();
    let engine = platform::engine(&host, run.ci.binfmt_misc()).await?;
    platform::check(&engine, &choice)?;
    image.platform = Some(choice);
    run.plan.image = ImageStep::Publish(image.clone());
    Ok(())
}

/// What names a release before its version is resolved: `--version`, else the commit.
fn release_name(tree: &Snapshot, request: &VersionRequest) -> String {
    if let Some(version) = &request.explicit {
        return version.trim_start_matches('v').to_owned();
    }
    tree.head.as_deref().unwrap_or_default().chars().take(7).collect()
}

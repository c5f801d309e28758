//! Runs one request: load config, plan, and (unless dry) execute. Reporting of start and end, on
//! every path, happens in `lib.rs::run`, around this.

use crate::aws::Aws;
use crate::config::{self, Config};
use crate::image::release;
use crate::plan::{self, ImageAction, ImagePlan};
use crate::report::{Outcome, Reporter, Stage, Status};
use crate::request::{Command, Global, Request, VersionRequest};
use crate::version::{self, GithubContext, ReleaseVersion};
use crate::Error;

pub async fn execute(request: &Request, reporter: &mut Reporter, outcome: &mut Outcome) -> Result<(), Error> {
    let global = &request.global;
    match &request.command {
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&config::schema()).unwrap_or_default());
            Ok(())
        }
        Command::Init { force } => init(global, *force),
        Command::Build(v) => {
            let config = load(global)?;
            let version = resolve_version(&config, v, reporter, outcome)?;
            if global.dry_run {
                outcome.image_action = Some("planned-build".into());
                return Ok(());
            }
            release::build_local(&config, &version, &outcome.tags, reporter).await?;
            outcome.image_action = Some("built".into());
            Ok(())
        }
        Command::Plan(v) => {
            let (config, plan, _aws) = plan(global, v, reporter, outcome).await?;
            drop(config);
            if plan.changes() {
                outcome.status = Some(Status::Changes);
            }
            Ok(())
        }
        Command::Push(v) | Command::Release(v) => {
            let (config, plan, aws) = plan(global, v, reporter, outcome).await?;
            if global.dry_run {
                return Ok(());
            }
            let result = release::execute(&plan, &aws, &config, reporter).await?;
            outcome.image_uri = Some(result.repository.pinned(&result.digest));
            outcome.image_digest = Some(result.digest.to_string());
            outcome.image_action = Some(if result.built { "built" } else { "reused" }.into());
            outcome.tags_added = result.tags_added;
            Ok(())
        }
    }
}

fn load(global: &Global) -> Result<Config, Error> {
    Ok(config::load(&global.config, &global.set)?)
}

fn resolve_version(
    config: &Config,
    request: &VersionRequest,
    reporter: &mut Reporter,
    outcome: &mut Outcome,
) -> Result<ReleaseVersion, Error> {
    let github = GithubContext::from_env();
    let version = version::resolve(&config.dir, request.explicit.as_deref(), request.allow_dirty, &github)?;
    outcome.version = Some(version.version.to_string());
    outcome.tags = version.tags(&config.tags);
    reporter.finished(Stage::Version, format!("{} -> tags {}", version.version_tag(), outcome.tags.join(", ")));
    Ok(version)
}

/// Loads config, resolves the version, connects to AWS and computes the image plan (read-only).
async fn plan(
    global: &Global,
    request: &VersionRequest,
    reporter: &mut Reporter,
    outcome: &mut Outcome,
) -> Result<(Config, ImagePlan, Aws), Error> {
    let config = load(global)?;
    let version = resolve_version(&config, request, reporter, outcome)?;
    let aws = Aws::connect(region(&config, global)?.as_deref()).await?;
    let plan = plan::plan_image(&aws.ecr, &config.image.repository, version, outcome.tags.clone()).await?;
    for line in plan.describe() {
        reporter.progress(Stage::Version, format!("plan: {line}"));
    }
    outcome.image_action = Some(
        match plan.action {
            ImageAction::Build { .. } => "planned-build",
            ImageAction::Reuse { .. } => "planned-reuse",
        }
        .into(),
    );
    if let ImageAction::Reuse { manifest, .. } = &plan.action {
        outcome.image_digest = Some(manifest.digest.to_string());
    }
    Ok((config, plan, aws))
}

/// The region of the chosen environment (or of the only one); `None` leaves it to the AWS chain.
fn region(config: &Config, global: &Global) -> Result<Option<String>, Error> {
    if global.env.is_none() && config.environments.len() != 1 {
        return Ok(None);
    }
    let (_, env) = config.environment(global.env.as_deref())?;
    Ok(env.region.clone())
}

fn init(global: &Global, force: bool) -> Result<(), Error> {
    let path = &global.config;
    if path.exists() && !force {
        return Err(Error::InitExists { path: path.display().to_string() });
    }
    std::fs::write(path, config::INIT_TEMPLATE).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    eprintln!("wrote {}: edit image.repository and the environments, then run `pipeline plan`", path.display());
    Ok(())
}

//! Executing the image half of a plan: create the repository if planned, build and push or reuse,
//! then add the remaining tags by manifest. Never overwrites a tag.

use std::collections::BTreeMap;

use super::build::{self, BuildRequest, BuildSecret, Builder};
use super::ecr::{self, Manifest};
use super::plan::{ImageAction, ImagePlan, RepositoryState};
use super::push;
use super::reference::{Digest, Repository};
use crate::Error;
use crate::aws::Aws;
use crate::ci::Ci;
use crate::config::Config;
use crate::report::{Reporter, Stage};
use crate::version::ReleaseVersion;

/// Where the image ended up.
#[derive(Debug, Clone)]
pub struct ImageResult {
    pub repository: Repository,
    pub digest: Digest,
    pub built: bool,
    pub tags_added: Vec<String>,
}

pub async fn execute(
    plan: &ImagePlan,
    aws: &Aws,
    config: &Config,
    ci: &Ci,
    reporter: &mut Reporter,
) -> Result<ImageResult, Error> {
    let repository = match &plan.repository {
        RepositoryState::Exists(repo) => repo.clone(),
        RepositoryState::Create { name } => {
            reporter.started(Stage::Repository, format!("creating ECR repository {name} (IMMUTABLE)"));
            let policy = lifecycle_policy(config)?;
            let repo =
                ecr::ensure_repository(&aws.ecr, name, config.image.create_repository, policy.as_deref()).await?;
            reporter.finished(Stage::Repository, repo.uri());
            repo
        }
    };
    match &plan.action {
        ImageAction::Reuse { manifest, missing } => {
            reporter.finished(Stage::Build, format!("reusing {} from ECR: no build, no push", manifest.digest));
            let tags_added = add_tags(aws, &repository, manifest, missing, reporter).await?;
            Ok(ImageResult { digest: manifest.digest.clone(), repository, built: false, tags_added })
        }
        ImageAction::Build { push_tag, retag } => {
            // Credentials first: a refused login should not cost a build.
            let auth = ecr::registry_auth(&aws.ecr).await?;
            reporter.mask(secrecy::ExposeSecret::expose_secret(&auth.password));
            push::verify_auth(&auth).await?;
            let docker = build::connect(&ci.docker_host())?;
            let local = repository.tagged(push_tag);
            reporter.started(Stage::Build, format!("building {local}"));
            let request = build_request(config, &plan.version, vec![local.clone()], ci)?;
            let image = run_build(&docker, &request, ci, reporter).await?;
            reporter.finished(Stage::Build, image.id.clone());

            reporter.started(Stage::Push, format!("pushing {local}"));
            let mut progress = |line: &str| tracing::debug!(target: "pipeline::push", "{line}");
            let pushed = push::push(&docker, &repository, push_tag, &auth, &mut progress).await;
            let pushed = pushed.map_err(|e| explain_push_race(e, &repository, push_tag))?;
            // Read the digest back from ECR: that, not the engine's word, is what the task definition pins.
            let stored = ecr::existing(&aws.ecr, &repository, std::slice::from_ref(push_tag)).await?;
            let manifest = stored.get(push_tag).cloned().ok_or_else(|| Error::Push {
                image: local.clone(),
                message: "the push finished but ECR does not list the tag".into(),
            })?;
            if manifest.digest != pushed {
                return Err(Error::Push {
                    image: local,
                    message: format!("the engine pushed {pushed} but ECR holds {}", manifest.digest),
                });
            }
            reporter.finished(Stage::Push, manifest.digest.to_string());
            let mut tags_added = vec![push_tag.clone()];
            tags_added.extend(add_tags(aws, &repository, &manifest, retag, reporter).await?);
            Ok(ImageResult { digest: manifest.digest, repository, built: true, tags_added })
        }
    }
}

async fn add_tags(
    aws: &Aws,
    repository: &Repository,
    manifest: &Manifest,
    tags: &[String],
    reporter: &mut Reporter,
) -> Result<Vec<String>, Error> {
    for tag in tags {
        reporter.started(Stage::Tag, format!("{}:{tag} -> {}", repository.name, manifest.digest));
        ecr::retag(&aws.ecr, repository, manifest, tag).await?;
    }
    Ok(tags.to_vec())
}

/// A push refused because the tag appeared meanwhile (two runs of one commit, non-reproducible builds).
fn explain_push_race(e: Error, repository: &Repository, tag: &str) -> Error {
    match e {
        Error::Push { image, message } if message.contains("already exists") => Error::Push {
            image,
            message: format!(
                "{message} (another run pushed {}:{tag} after this one looked; nothing was overwritten - re-run to reuse it)",
                repository.name
            ),
        },
        other => other,
    }
}

/// Builds locally only (`pipeline build`): tagged `<repository>:<tag>` for every release tag.
pub async fn build_local(
    config: &Config,
    version: &ReleaseVersion,
    tags: &[String],
    ci: &Ci,
    reporter: &mut Reporter,
) -> Result<String, Error> {
    let docker = build::connect(&ci.docker_host())?;
    let local: Vec<String> = tags.iter().map(|t| format!("{}:{t}", config.image.repository)).collect();
    reporter.started(Stage::Build, format!("building {}", local.join(", ")));
    let request = build_request(config, version, local, ci)?;
    let image = run_build(&docker, &request, ci, reporter).await?;
    reporter.finished(Stage::Build, image.id.clone());
    Ok(image.id)
}

async fn run_build(
    docker: &bollard::Docker,
    request: &BuildRequest,
    ci: &Ci,
    reporter: &mut Reporter,
) -> Result<build::BuiltImage, Error> {
    let builder = if ci.buildkit_disabled() { Builder::Classic } else { Builder::Auto };
    let mut lines = Vec::new();
    let result = {
        let mut on_log = |line: &str| lines.push(line.to_owned());
        build::build_with(docker, request, builder, &mut on_log).await
    };
    for line in lines {
        reporter.progress(Stage::Build, line);
    }
    Ok(result.map_err(|e| e.on_host(&ci.docker_host()))?)
}

fn build_request(config: &Config, version: &ReleaseVersion, tags: Vec<String>, ci: &Ci) -> Result<BuildRequest, Error> {
    let image = &config.image;
    let mut secrets = Vec::new();
    for (id, var) in &image.secrets {
        let value = ci.secret(var).ok_or_else(|| Error::MissingSecret { id: id.clone(), var: var.clone() })?;
        secrets.push(BuildSecret { id: id.clone(), value });
    }
    let mut labels: BTreeMap<String, String> = image.labels.clone();
    labels.insert("org.opencontainers.image.revision".into(), version.commit.clone());
    labels.insert("org.opencontainers.image.version".into(), version.version.to_string());
    labels.insert("org.opencontainers.image.created".into(), now_rfc3339());
    if let Some(source) = ci.repository_url() {
        labels.insert("org.opencontainers.image.source".into(), source);
    }
    Ok(BuildRequest {
        context: image.context.clone(),
        dockerfile: image.dockerfile.clone(),
        target: image.target.clone(),
        build_args: image.build_args.clone(),
        secrets,
        labels,
        tags,
        platform: image.platform.clone(),
    })
}

fn lifecycle_policy(config: &Config) -> Result<Option<String>, Error> {
    let Some(path) = &config.image.lifecycle_policy else { return Ok(None) };
    std::fs::read_to_string(path).map(Some).map_err(|source| Error::Io { path: path.display().to_string(), source })
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

//! Executing the image half of a plan: create the repository if planned, build and push or reuse,
//! then add the remaining tags by manifest. Never overwrites a tag.

use std::collections::BTreeMap;

use super::build::{self, BuildRequest, BuildSecret, Builder};
use super::ecr::{self, Manifest};
use super::plan::{ImageAction, ImagePlan, RepositoryState};
use super::push;
use super::reference::{Digest, Repository};
use super::tag_policy;
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
    /// The manifest as ECR stores it (moving tags are put with it).
    pub manifest: Manifest,
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
            reporter.started(Stage::Repository, format!("creating ECR repository {name} ({})", plan.mutability));
            let policy = lifecycle_policy(config)?;
            let create = config.image.create_repository;
            let repo = ecr::ensure_repository(&aws.ecr, name, create, policy.as_deref(), &plan.mutability).await?;
            reporter.finished(Stage::Repository, repo.uri());
            repo
        }
    };
    match &plan.action {
        ImageAction::Reuse { manifest, missing } => {
            reporter.finished(Stage::Build, format!("reusing {} from ECR: no build, no push", manifest.digest));
            let tags_added = add_tags(aws, plan, &repository, manifest, missing, reporter).await?;
            still_ours(aws, plan, &repository, &manifest.digest).await?;
            Ok(ImageResult {
                digest: manifest.digest.clone(),
                manifest: manifest.clone(),
                repository,
                built: false,
                tags_added,
            })
        }
        ImageAction::Build { push_tag, retag } => {
            // Credentials first: a refused login should not cost a build.
            let auth = ecr::registry_auth(&aws.ecr).await?;
            reporter.mask(secrecy::ExposeSecret::expose_secret(&auth.password));
            push::verify_auth(&auth).await?;
            let docker = build::connect(&ci.docker_host())?;
            let local = repository.tagged(push_tag);
            reporter.started(Stage::Build, format!("building {local}"));
            let mut request = build_request(config, &plan.version, vec![local.clone()], ci)?;
            request.cache = plan.cache.clone();
            if let Some(platform) = &plan.platform {
                request.platform = Some(platform.platform.clone());
            }
            request.registry_auth = Some(auth.clone());
            let image = run_build(&docker, &request, ci, reporter).await?;
            reporter.finished(Stage::Build, image.id.clone());

            if plan.overwritable(push_tag)
                && let Some(theirs) = ecr::tag_digest(&aws.ecr, &repository, push_tag).await?
            {
                // A MUTABLE repository would take our push over theirs without a word.
                return Err(Error::TagConflict {
                    repository: repository.name.clone(),
                    tag: push_tag.clone(),
                    existing: theirs.to_string(),
                    ours: format!("a new build ({})", image.id),
                });
            }
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
                // Another writer's push landed on the tag after ours: say whose is whose.
                return Err(ecr::race(&repository, push_tag, &manifest.digest, &pushed));
            }
            reporter.finished(Stage::Push, manifest.digest.to_string());
            let mut tags_added = vec![push_tag.clone()];
            tags_added.extend(add_tags(aws, plan, &repository, &manifest, retag, reporter).await?);
            still_ours(aws, plan, &repository, &manifest.digest).await?;
            Ok(ImageResult { digest: manifest.digest.clone(), manifest, repository, built: true, tags_added })
        }
    }
}

async fn add_tags(
    aws: &Aws,
    plan: &ImagePlan,
    repository: &Repository,
    manifest: &Manifest,
    tags: &[String],
    reporter: &mut Reporter,
) -> Result<Vec<String>, Error> {
    for tag in tags {
        reporter.started(Stage::Tag, format!("{}:{tag} -> {}", repository.name, manifest.digest));
        ecr::retag(&aws.ecr, repository, manifest, tag, plan.overwritable(tag)).await?;
    }
    Ok(tags.to_vec())
}

/// In a repository that lets tags be overwritten, every tag of ours is read again once all are
/// written: a writer that raced us between our check and our write is caught here, loudly.
async fn still_ours(aws: &Aws, plan: &ImagePlan, repository: &Repository, ours: &Digest) -> Result<(), Error> {
    if plan.overwritable.is_empty() {
        return Ok(());
    }
    let now = ecr::existing(&aws.ecr, repository, &plan.overwritable).await?;
    for tag in &plan.overwritable {
        match now.get(tag) {
            Some(m) if m.digest == *ours => {}
            Some(m) => return Err(ecr::race(repository, tag, &m.digest, ours)),
            None => {
                return Err(Error::Push {
                    image: repository.tagged(tag),
                    message: "the tag was written but ECR no longer lists it".into(),
                });
            }
        }
    }
    Ok(())
}

/// After a verified release: each moving tag follows it unless it already names a newer release
/// (decided again now: another release may have moved it since the plan). A tag that another writer
/// moved at the same moment is a warning naming both digests: the release itself is verified.
pub async fn move_tags(
    aws: &Aws,
    plan: &ImagePlan,
    repository: &Repository,
    manifest: &Manifest,
    reporter: &mut Reporter,
) -> Result<Vec<String>, Error> {
    let mut moved = Vec::new();
    for tag in &plan.moving {
        let current = ecr::tag_digest(&aws.ecr, repository, tag).await?;
        let current_versions = match &current {
            None => None,
            Some(digest) if *digest == manifest.digest => continue,
            Some(digest) => Some(versions_of(aws, repository, digest).await?),
        };
        if !tag_policy::moves_to(&plan.version.version, current_versions.as_deref()) {
            reporter.progress(Stage::Tag, format!("{tag} stays on a newer release ({})", describe(current.as_ref())));
            continue;
        }
        reporter.started(Stage::Tag, format!("moving {}:{tag} -> {}", repository.name, manifest.digest));
        if let Some(theirs) = ecr::move_tag(&aws.ecr, repository, manifest, tag).await? {
            reporter.warn(format!(
                "{}:{tag} names {theirs}, not {} as just written: another release moved it at the same moment",
                repository.name, manifest.digest
            ));
            continue;
        }
        reporter.finished(Stage::Tag, format!("{tag} -> {}", manifest.digest));
        moved.push(tag.clone());
    }
    Ok(moved)
}

async fn versions_of(aws: &Aws, repository: &Repository, digest: &Digest) -> Result<Vec<semver::Version>, Error> {
    let out = aws
        .ecr
        .describe_images()
        .repository_name(&repository.name)
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(digest.as_str()).build())
        .send()
        .await
        .map_err(|e| Error::aws("DescribeImages", &repository.name, e))?;
    let tags = out.image_details().first().map(|d| d.image_tags().to_vec()).unwrap_or_default();
    Ok(tags.iter().filter_map(|t| crate::version::parse_tag(t)).collect())
}

fn describe(digest: Option<&Digest>) -> String {
    digest.map_or_else(|| "absent".to_owned(), ToString::to_string)
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
        // `pipeline build` has no registry: metadata only (`execute` sets the sources it planned).
        cache: build::CachePlan { inline: image.cache != crate::config::ImageCache::Enabled(false), from: Vec::new() },
        registry_auth: None,
    })
}

pub(crate) fn lifecycle_policy(config: &Config) -> Result<Option<String>, Error> {
    let Some(path) = &config.image.lifecycle_policy else { return Ok(None) };
    std::fs::read_to_string(path).map(Some).map_err(|source| Error::Io { path: path.display().to_string(), source })
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

//! The sidecars of a release (`image.sidecars`): planned beside the app image (built or reused in their own
//! repository with the release's immutable tags, or an image already in ECR resolved to its digest), published
//! with it, and pinned by digest in every task definition with a container of their name.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{ImageAction, ImagePlan, RepositoryState, plan_image};
use super::reference::Digest;
use super::{ecr, existing, publish};
use crate::Error;
use crate::aws::Aws;
use crate::ci::Ci;
use crate::config::{Config, ConfigError, SidecarSource};
use crate::report::{Reporter, Stage};
use crate::version::{ReleaseLabel, ReleaseVersion};

#[derive(Debug, Clone, Serialize)]
pub struct SidecarPlan {
    /// The container it runs as.
    pub container: String,
    pub image: SidecarImage,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
// One per sidecar, read once: boxing the image plan would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum SidecarImage {
    /// Built from its own Dockerfile (or reused: ECR has this commit's image), in its own repository.
    Build(ImagePlan),
    /// An image in ECR, pinned by digest.
    Pinned { pinned: String, digest: Digest },
}

impl SidecarPlan {
    /// The image its container will pin: known for a reuse or a pinned image, a placeholder until a build.
    pub fn planned_image(&self) -> String {
        match &self.image {
            SidecarImage::Pinned { pinned, .. } => pinned.clone(),
            SidecarImage::Build(plan) => match (&plan.action, &plan.repository) {
                (ImageAction::Reuse { manifest, .. }, RepositoryState::Exists(repo)) => repo.pinned(&manifest.digest),
                (_, RepositoryState::Exists(repo)) => format!("{}@<digest of the new build>", repo.uri()),
                (_, RepositoryState::Create { name }) => format!("{name}@<digest of the new build>"),
            },
        }
    }

    pub fn changes(&self) -> bool {
        matches!(&self.image, SidecarImage::Build(plan) if plan.changes())
    }

    pub fn describe(&self) -> Vec<String> {
        match &self.image {
            SidecarImage::Pinned { pinned, .. } => vec![format!("sidecar `{}`: {pinned}", self.container)],
            SidecarImage::Build(plan) => {
                plan.describe().into_iter().skip(1).map(|l| format!("sidecar `{}`: {l}", self.container)).collect()
            }
        }
    }
}

/// Plans every sidecar of a release of `version` with the app image's immutable `tags`. Read-only.
pub async fn plan(
    aws: &Aws,
    config: &Config,
    version: &ReleaseVersion,
    tags: &[String],
) -> Result<Vec<SidecarPlan>, Error> {
    let mut plans = Vec::new();
    for (container, source) in config.sidecars() {
        let image = match source {
            SidecarSource::Pinned(reference) => pinned(aws, reference).await?,
            SidecarSource::Build(image) => {
                if !image.dockerfile.is_file() {
                    return Err(missing_dockerfile(config, container, &image.dockerfile));
                }
                let found = ecr::describe_repository(&aws.ecr, &image.repository).await?;
                let tags = tags.to_vec();
                SidecarImage::Build(
                    plan_image(&aws.ecr, &image.repository, found, version.clone(), tags, Vec::new()).await?,
                )
            }
        };
        plans.push(SidecarPlan { container: container.to_owned(), image });
    }
    Ok(plans)
}

/// `deploy --image`: no build. A built sidecar is the one its repository holds for the image's commit.
pub async fn plan_existing(aws: &Aws, config: &Config, label: &ReleaseLabel) -> Result<Vec<SidecarPlan>, Error> {
    let mut plans = Vec::new();
    for (container, source) in config.sidecars() {
        let image = match source {
            SidecarSource::Pinned(reference) => pinned(aws, reference).await?,
            SidecarSource::Build(image) => {
                let short = label.commit.get(..12).unwrap_or(&label.commit);
                pinned(aws, &format!("{}:sha-{short}", image.repository)).await?
            }
        };
        plans.push(SidecarPlan { container: container.to_owned(), image });
    }
    Ok(plans)
}

async fn pinned(aws: &Aws, reference: &str) -> Result<SidecarImage, Error> {
    let found = existing::find(&aws.ecr, reference).await?;
    Ok(SidecarImage::Pinned { pinned: found.pinned, digest: found.digest })
}

fn missing_dockerfile(config: &Config, container: &str, path: &std::path::Path) -> Error {
    let key = ["image", "sidecars", container, "context"];
    Error::Config(ConfigError::InvalidValue {
        at: Box::new(crate::config::locate(&config.source.path, &config.source.text, &key)),
        field: key.join("."),
        message: format!("the sidecar's Dockerfile {} does not exist", path.display()),
        help: "check `context` and `dockerfile` (relative to the context) of this sidecar".into(),
    })
}

/// Builds and pushes (or reuses) each built sidecar, as the app image is; returns every sidecar's pinned image by
/// container name.
pub async fn publish(
    plans: &[SidecarPlan],
    aws: &Aws,
    config: &Config,
    ci: &Ci,
    reporter: &mut Reporter,
) -> Result<BTreeMap<String, String>, Error> {
    let mut pins = BTreeMap::new();
    let sources = config.sidecars();
    for sidecar in plans {
        let image = match &sidecar.image {
            SidecarImage::Pinned { pinned, .. } => pinned.clone(),
            SidecarImage::Build(plan) => {
                let Some((_, SidecarSource::Build(settings))) = sources.iter().find(|(c, _)| *c == sidecar.container)
                else {
                    continue;
                };
                reporter.progress(Stage::Build, format!("sidecar `{}`", sidecar.container));
                // The same build and push as the app image's, with the sidecar's own image settings.
                let own = Config { image: (**settings).clone(), ..config.clone() };
                let result = publish::execute(plan, aws, &own, ci, reporter).await?;
                result.repository.pinned(&result.digest)
            }
        };
        pins.insert(sidecar.container.clone(), image);
    }
    Ok(pins)
}

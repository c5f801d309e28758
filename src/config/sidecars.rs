//! `image.sidecars`: more containers in the released task definitions, each pinned by digest. A sidecar is built
//! from its own Dockerfile (tagged with the release's version and commit tags in its own ECR repository, by default
//! `<image.repository>-<name>`), or an image already in ECR (`image: repo:tag`), resolved to its digest when planning.
//! It goes into every task definition of the release that has a container of its name.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diagnose::locate;
use super::error::ConfigError;
use super::model::{Config, Image};
use super::normalize::resolve;

/// One sidecar, by container name: `context` (built) or `image` (pinned), not both.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(extend("oneOf" = [{ "required": ["context"] }, { "required": ["image"] }]))]
pub struct Sidecar {
    /// Build context directory, relative to the config file: the sidecar is built from its own Dockerfile.
    #[serde(default)]
    pub context: Option<PathBuf>,
    /// Dockerfile, relative to `context`.
    #[serde(default)]
    #[schemars(extend("default" = "Dockerfile"))]
    pub dockerfile: Option<PathBuf>,
    /// Multi-stage build target.
    #[serde(default)]
    pub target: Option<String>,
    /// ECR repository of the built sidecar; default `<image.repository>-<name>`.
    #[serde(default)]
    pub repository: Option<String>,
    /// An image in the environment's ECR, `repo:tag` or `repo@sha256:...`: pinned by its digest when planning.
    #[serde(default)]
    pub image: Option<String>,
}

/// Where a sidecar's image comes from, once normalised.
pub enum SidecarSource<'a> {
    /// Built: the image settings to build it with (its context, Dockerfile and repository).
    Build(Box<Image>),
    /// Already in ECR.
    Pinned(&'a str),
}

impl Config {
    /// The sidecars by container name, with where each comes from. A built one shares the app image's platform,
    /// labels and repository settings, not its build arguments or secrets.
    pub fn sidecars(&self) -> Vec<(&str, SidecarSource<'_>)> {
        let sidecars = self.image.sidecars.iter();
        sidecars
            .map(|(name, sidecar)| {
                let source = match (&sidecar.image, &sidecar.context) {
                    (Some(image), _) => SidecarSource::Pinned(image),
                    (None, context) => SidecarSource::Build(Box::new(Image {
                        repository: sidecar.repository.clone().unwrap_or_else(|| default_repository(self, name)),
                        context: context.clone().unwrap_or_default(),
                        dockerfile: sidecar.dockerfile.clone().unwrap_or_else(|| PathBuf::from("Dockerfile")),
                        target: sidecar.target.clone(),
                        build_args: Default::default(),
                        secrets: Default::default(),
                        sidecars: Default::default(),
                        lifecycle_policy: None,
                        ..self.image.clone()
                    })),
                };
                (name.as_str(), source)
            })
            .collect()
    }
}

fn default_repository(config: &Config, name: &str) -> String {
    format!("{}-{name}", config.image.repository)
}

/// One of `context` and `image`; paths resolved against the config file's directory (the Dockerfile against the
/// context, as for the app image).
pub(super) fn normalize(config: &mut Config, dir: &std::path::Path, problems: &mut Vec<ConfigError>) {
    let names: Vec<String> = config.image.sidecars.keys().cloned().collect();
    for name in names {
        let sidecar = &config.image.sidecars[&name];
        let at = ["image", "sidecars", name.as_str()];
        let problem = match (&sidecar.context, &sidecar.image) {
            (Some(_), Some(_)) => Some("`context` and `image` are both given"),
            (None, None) => Some("neither `context` (build it) nor `image` (an image in ECR) is given"),
            (None, Some(_)) if sidecar.dockerfile.is_some() || sidecar.repository.is_some() => {
                Some("`dockerfile` and `repository` are for a built sidecar (`context`), not for `image`")
            }
            _ => None,
        };
        if let Some(message) = problem {
            problems.push(ConfigError::InvalidValue {
                at: Box::new(locate(&config.source.path, &config.source.text, &at)),
                field: at.join("."),
                message: message.to_owned(),
                help:
                    "give `context:` (and optionally `dockerfile:`, `repository:`) to build it, or `image: repo:tag` \
                       for an image already in ECR"
                        .to_owned(),
            });
        }
        let Some(sidecar) = config.image.sidecars.get_mut(&name) else { continue };
        if let Some(context) = &mut sidecar.context {
            *context = resolve(dir, context);
            let dockerfile = sidecar.dockerfile.clone().unwrap_or_else(|| PathBuf::from("Dockerfile"));
            sidecar.dockerfile = Some(resolve(context, &dockerfile));
        }
    }
}

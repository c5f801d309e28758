//! The `.pipeline.yml` model. The same structs are the file format (serde, schemars) and, once `load` has
//! normalised them (defaults filled, paths resolved), the `Config` the rest of the crate reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::environment::Environment;
use super::schedule::{Schedule, SchedulerSettings};
use super::task::Task;
use crate::version::TagKind;

/// The config versions this build understands.
pub const SUPPORTED_VERSIONS: &[u64] = &[1];

/// `.pipeline.yml`: how `pipeline` builds, tags, pushes and releases one service.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "pipeline config (.pipeline.yml)")]
// Top-level `x-*` keys hold YAML anchors for `<<:` merge keys (as in Docker Compose); `load` drops them.
#[schemars(extend("patternProperties" = { "^x-": {} }))]
pub struct Config {
    /// Config format version. Only `1` exists.
    #[serde(deserialize_with = "deserialize_version")]
    #[schemars(schema_with = "version_schema")]
    pub version: u64,
    /// The Docker image: how to build it and the ECR repository it goes to.
    pub image: Image,
    /// Immutable tags each release gets: `semver` (`v1.2.3`), `sha` (`sha-<12 hex>`), and `latest` only if listed.
    #[serde(default = "default_tags")]
    #[schemars(extend("default" = ["semver", "sha"]), length(min = 1))]
    pub tags: Vec<TagKind>,
    /// Moving tags besides `latest`, e.g. `[stable]`: each follows the newest verified release and is moved (by
    /// manifest) only after verification. A repository the tool creates excludes them from tag immutability
    /// (IMMUTABLE_WITH_EXCLUSION); version and commit tags stay immutable.
    #[serde(default)]
    #[schemars(length(max = 5))]
    pub moving_tags: Vec<String>,
    /// Deployment targets by name (`staging`, `production`...). Needed by deploy commands, not by build/push.
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
    /// One-off tasks by name, for `pipeline run-task NAME`, `before-deploy` and `schedules`.
    #[serde(default)]
    pub tasks: BTreeMap<String, Task>,
    /// Jobs EventBridge Scheduler runs, reconciled by `release` and `schedules apply`; `{}` deletes them all.
    /// Without this key the tool leaves schedules alone.
    #[serde(default)]
    pub schedules: Option<BTreeMap<String, Schedule>>,
    /// How the tool reaches EventBridge Scheduler (for `schedules` and `run-task --at`).
    #[serde(default)]
    pub scheduler: Option<SchedulerSettings>,
    /// Where releases are reported besides the terminal.
    #[serde(default)]
    pub notify: Notify,
    /// The file this config came from, for error reports. Not part of the file format.
    #[serde(skip)]
    #[schemars(skip)]
    pub source: Source,
    /// The config file's directory (`.` for a bare file name): relative paths were resolved against it, and it is
    /// where git is asked for the release's commit and version. Not part of the file format.
    #[serde(skip)]
    #[schemars(skip)]
    pub dir: PathBuf,
}

/// The config file's path and text, kept for reporting errors found after loading.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

fn default_tags() -> Vec<TagKind> {
    vec![TagKind::Semver, TagKind::Sha]
}

/// Accepts only the supported versions, through a visitor so the error points at the value.
fn deserialize_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct VersionVisitor;
    impl Visitor<'_> for VersionVisitor {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            let list: Vec<String> = SUPPORTED_VERSIONS.iter().map(u64::to_string).collect();
            write!(f, "a supported config version ({})", list.join(", "))
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
            if SUPPORTED_VERSIONS.contains(&value) {
                Ok(value)
            } else {
                Err(E::invalid_value(de::Unexpected::Unsigned(value), &self))
            }
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
            Err(E::invalid_value(de::Unexpected::Signed(value), &self))
        }
    }
    deserializer.deserialize_any(VersionVisitor)
}

fn version_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "description": "Config format version.", "enum": SUPPORTED_VERSIONS })
}

/// Schema stand-in for map values that are strings in the model but may be written as plain YAML numbers or
/// booleans (`PORT: 8080`): the parser reads any scalar's text as the string, so the schema must accept them too.
pub struct ScalarString;

impl JsonSchema for ScalarString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ScalarString".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A string; a plain number or boolean is read as its text.",
            "type": ["string", "number", "boolean"]
        })
    }
}

/// The Docker image: how to build it and where it goes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Image {
    /// ECR repository name; created (IMMUTABLE tags) if missing unless `create-repository: false`.
    pub repository: String,
    /// Build context directory, relative to the config file.
    #[serde(default = "default_context")]
    #[schemars(extend("default" = "."))]
    pub context: PathBuf,
    /// Dockerfile, relative to the build context (as in Docker Compose).
    #[serde(default = "default_dockerfile")]
    #[schemars(extend("default" = "Dockerfile"))]
    pub dockerfile: PathBuf,
    /// Multi-stage build target.
    #[serde(default)]
    pub target: Option<String>,
    /// Build arguments (`--build-arg`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ScalarString>")]
    pub build_args: BTreeMap<String, String>,
    /// Build secrets: secret id (as in `RUN --mount=type=secret,id=...`) -> name of the environment variable holding it.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Target platform, e.g. `linux/amd64`; default: the Docker engine's.
    #[serde(default)]
    pub platform: Option<String>,
    /// Create the ECR repository when it does not exist.
    #[serde(default = "default_true")]
    #[schemars(extend("default" = true))]
    pub create_repository: bool,
    /// A JSON file with an ECR lifecycle policy applied to the repository, relative to the config file.
    #[serde(default)]
    pub lifecycle_policy: Option<PathBuf>,
    /// Image labels.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ScalarString>")]
    pub labels: BTreeMap<String, String>,
    /// More containers of the released task definitions, by container name, each pinned by digest: built from its
    /// own Dockerfile (`context`) into its own repository, or an image already in ECR (`image`).
    #[serde(default)]
    pub sidecars: BTreeMap<String, super::sidecars::Sidecar>,
    /// Layer cache from the registry: `true` (default: the parent commit's image and the newest release),
    /// `false`, or the sources to use instead (tags of this repository, or whole image references).
    #[serde(default)]
    #[schemars(extend("default" = true))]
    pub cache: ImageCache,
}

/// `image.cache`: on, off, or named sources.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ImageCache {
    Enabled(bool),
    From(Vec<String>),
}

impl Default for ImageCache {
    fn default() -> Self {
        ImageCache::Enabled(true)
    }
}

fn default_context() -> PathBuf {
    PathBuf::from(".")
}

fn default_dockerfile() -> PathBuf {
    PathBuf::from("Dockerfile")
}

fn default_true() -> bool {
    true
}

/// Where releases are reported besides the terminal.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Notify {
    /// One Slack message per release, updated in place (bot token) or start/end messages (webhook).
    #[serde(default)]
    pub slack: Option<Slack>,
    /// GitHub Deployments and PR check runs.
    #[serde(default)]
    pub github: GithubNotify,
}

/// Slack reporting. Give `token-env` (a bot token, the default) or `webhook-env`, not both.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Slack {
    /// Channel id, e.g. `C0123456`.
    pub channel: String,
    /// Environment variable holding the bot token; default `SLACK_BOT_TOKEN` when no `webhook-env` is given.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Environment variable holding an incoming-webhook URL.
    #[serde(default)]
    pub webhook_env: Option<String>,
    /// Fail the release when Slack cannot be reached (default: warn and go on).
    #[serde(default)]
    pub required: bool,
}

/// How to reach Slack, once normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackAuth<'a> {
    /// Name of the environment variable with the bot token.
    BotTokenEnv(&'a str),
    /// Name of the environment variable with the webhook URL.
    WebhookEnv(&'a str),
}

impl Slack {
    pub const DEFAULT_TOKEN_ENV: &'static str = "SLACK_BOT_TOKEN";

    /// The bot token wins if both are set; `load` refuses that case anyway.
    pub fn auth(&self) -> SlackAuth<'_> {
        match (&self.token_env, &self.webhook_env) {
            (Some(token), _) => SlackAuth::BotTokenEnv(token),
            (None, Some(webhook)) => SlackAuth::WebhookEnv(webhook),
            (None, None) => SlackAuth::BotTokenEnv(Self::DEFAULT_TOKEN_ENV),
        }
    }
}

/// GitHub reporting.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GithubNotify {
    /// Create a GitHub Deployment per environment with statuses.
    #[serde(default = "default_true")]
    #[schemars(extend("default" = true))]
    pub deployments: bool,
    /// Post `pipeline check` results as a check run on pull requests.
    #[serde(default = "default_true")]
    #[schemars(extend("default" = true))]
    pub checks: bool,
    /// After a verified release, create the `v<version>` git tag on the released commit (needs the workflow
    /// permission `contents: write`; without it, a warning).
    #[serde(default = "default_true")]
    #[schemars(extend("default" = true))]
    pub tags: bool,
    /// After a verified release, also create a GitHub Release whose notes list the conventional commits since the
    /// previous release, grouped by type.
    #[serde(default)]
    pub releases: bool,
    /// Fail the release when GitHub cannot be reached (default: warn and go on).
    #[serde(default)]
    pub required: bool,
}

impl Default for GithubNotify {
    fn default() -> Self {
        GithubNotify { deployments: true, checks: true, tags: true, releases: false, required: false }
    }
}

impl Config {
    /// The moving tags: `latest` when `tags:` lists it, then `moving-tags`, each once.
    pub fn moving_tags(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if self.tags.contains(&TagKind::Latest) {
            out.push("latest".into());
        }
        for tag in &self.moving_tags {
            if !out.contains(tag) {
                out.push(tag.clone());
            }
        }
        out
    }
}

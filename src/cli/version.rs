//! Arguments shared by `release`, `build`, `push` and `plan`.

use crate::request::VersionRequest;

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Release this exact version (e.g. 1.4.0) instead of deriving it from git tags and
    /// conventional commits.
    #[arg(long = "version", env = "PIPELINE_VERSION", value_name = "SEMVER")]
    pub version: Option<String>,
    /// Release a work tree with uncommitted changes (the version is marked `-dirty`).
    #[arg(long, env = "PIPELINE_ALLOW_DIRTY")]
    pub allow_dirty: bool,
}

impl From<VersionArgs> for VersionRequest {
    fn from(a: VersionArgs) -> Self {
        VersionRequest { explicit: a.version, allow_dirty: a.allow_dirty }
    }
}

//! What a user asked for, as plain values: the CLI builds these, the core runs them.

use std::path::PathBuf;

use crate::ci::Ci;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Human,
    Json,
}

/// Options every command shares.
#[derive(Debug, Clone, Default)]
pub struct Global {
    pub config: PathBuf,
    pub env: Option<String>,
    pub dry_run: bool,
    pub output: OutputFormat,
    pub verbose: u8,
    pub no_color: bool,
    /// `key.path=value` config overrides, applied in order.
    pub set: Vec<String>,
}

/// How the release version is chosen.
#[derive(Debug, Clone, Default)]
pub struct VersionRequest {
    /// `--version`: exact; otherwise derived from git tags and conventional commits.
    pub explicit: Option<String>,
    pub allow_dirty: bool,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// The whole chain: version, image, register, deploy, guard, verify.
    Release(VersionRequest),
    /// Build the image locally, no push.
    Build(VersionRequest),
    /// Build if needed, push, tag.
    Push(VersionRequest),
    /// Print what a release would do; exit 2 when it would change something.
    Plan(VersionRequest),
    /// Deploy an image that already exists (promotion by digest).
    Deploy { image: String },
    /// Return the service to the newest verified release other than the current one.
    Rollback,
    /// What runs now, which release, what is in flight.
    Status,
    /// A one-off task from `tasks:`, with extra environment values.
    RunTask { name: String, env: Vec<(String, String)> },
    /// On a pull request: validate, plan, and post the plan as a check run (or commit status).
    Check(VersionRequest),
    /// Print the JSON Schema of `.pipeline.yml`.
    Schema,
    /// Write a starter `.pipeline.yml` from the files present or from a live service (`CLUSTER/SERVICE`).
    Init { force: bool, from_service: Option<String> },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Release(_) => "release",
            Command::Build(_) => "build",
            Command::Push(_) => "push",
            Command::Plan(_) => "plan",
            Command::Deploy { .. } => "deploy",
            Command::Rollback => "rollback",
            Command::Status => "status",
            Command::RunTask { .. } => "run-task",
            Command::Check(_) => "check",
            Command::Schema => "schema",
            Command::Init { .. } => "init",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub global: Global,
    pub command: Command,
    /// Where the run happens (GitHub Actions, the event, named secrets), read once at start.
    pub ci: Ci,
}

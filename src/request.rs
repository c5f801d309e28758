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

/// `run-task NAME`: the job, its payload, and when it runs.
#[derive(Debug, Clone, Default)]
pub struct JobRequest {
    pub name: String,
    /// `--var KEY=VALUE`, in order; they win over the env files.
    pub vars: Vec<(String, String)>,
    /// `--env-file FILE`: `KEY=VALUE` lines, in order.
    pub env_files: Vec<PathBuf>,
    /// Print the task ARN and return at once.
    pub detach: bool,
    /// Run once at this time (with an offset), through EventBridge Scheduler.
    pub at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulesAction {
    Apply,
    Plan,
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
    /// Return the service to the newest verified release other than the current one, or to the
    /// one `to` names (a version, a revision number or an ARN); `force` allows an unverified one.
    Rollback { to: Option<String>, force: bool },
    /// What runs now, which release, what is in flight; or how a detached job ended (`--task`).
    Status { task: Option<String> },
    /// A one-off task from `tasks:`: now, detached, or at a time.
    RunTask(JobRequest),
    /// Reconcile `schedules:` with EventBridge Scheduler, or show what that would do.
    Schedules(SchedulesAction),
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
            Command::Rollback { .. } => "rollback",
            Command::Status { .. } => "status",
            Command::RunTask(_) => "run-task",
            Command::Schedules(SchedulesAction::Apply) => "schedules apply",
            Command::Schedules(SchedulesAction::Plan) => "schedules plan",
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

//! `deploy`, `rollback`, `status`, `run-task`: the deploy half on its own, and jobs.

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The image: `repo@sha256:<digest>` (promotion by digest) or `repo:<tag>` in ECR.
    #[arg(long, env = "PIPELINE_IMAGE", value_name = "REF")]
    pub image: String,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The release to return to: a version (`v1.2.0`), a revision number (`42`), `family:42` or an
    /// ARN. Default: the newest verified release other than the one running.
    #[arg(long, env = "PIPELINE_ROLLBACK_TO", value_name = "RELEASE")]
    pub to: Option<String>,
    /// Roll back to a revision that was never verified healthy.
    #[arg(long, env = "PIPELINE_FORCE")]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunTaskArgs {
    /// A task from `tasks:` in the config.
    pub name: String,
    /// Extra environment for the container, passed as values (no shell), e.g. `--var BATCH=7` (repeatable; wins
    /// over --env-file).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// A file of `KEY=VALUE` lines for the container's environment, values taken as they are (repeatable).
    #[arg(long = "env-file", value_name = "FILE", env = "PIPELINE_ENV_FILE")]
    pub env_files: Vec<std::path::PathBuf>,
    /// Start the task, print its ARN and return; `pipeline status --task ARN` tells how it ended.
    #[arg(long, env = "PIPELINE_DETACH", conflicts_with = "at")]
    pub detach: bool,
    /// Run once at this time through EventBridge Scheduler, e.g. `2026-12-01T03:00Z` (the schedule deletes itself).
    #[arg(long, value_name = "TIME", env = "PIPELINE_AT")]
    pub at: Option<String>,
}

impl From<RunTaskArgs> for crate::request::JobRequest {
    fn from(a: RunTaskArgs) -> Self {
        Self { name: a.name, vars: a.vars, env_files: a.env_files, detach: a.detach, at: a.at }
    }
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// A task (ARN) started by `run-task --detach`: its status, and its exit code once stopped (also pipeline's).
    #[arg(long, value_name = "ARN")]
    pub task: Option<String>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

//! `deploy`, `rollback`, `status`, `run-task`: the deploy half on its own.

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
    /// Extra environment for the container, passed as values (no shell), e.g. `--var BATCH=7` (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

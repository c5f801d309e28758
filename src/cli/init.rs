//! `pipeline init`.

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
    /// Start from a live service: write its running task definition (read-only fields stripped) and
    /// a config with its cluster, strategy, CodeDeploy group and alarms. Region from the AWS config.
    #[arg(long, value_name = "CLUSTER/SERVICE")]
    pub from_service: Option<String>,
}

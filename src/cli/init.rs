//! `pipeline init`.

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

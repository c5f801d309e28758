//! `pipeline completions SHELL`: printed by the CLI itself, since it is all about clap.

use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

pub fn print_completions(shell: clap_complete::Shell) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "pipeline", &mut script);
    crate::stdio::out(&String::from_utf8_lossy(&script));
}

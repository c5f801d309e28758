//! The command line: clap definitions, one file per subcommand. Everything here turns into a
//! plain [`Request`]; the core never imports clap.

mod completions;
mod deploy;
mod init;
mod version;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::ci::Ci;
use crate::request::{Command, Global, OutputFormat, Request, SchedulesAction};

pub use completions::print_completions;

/// From a git commit to production traffic on Amazon ECS: build, tag immutably, push to ECR,
/// register, deploy, guard, report.
#[derive(Debug, Parser)]
#[command(name = "pipeline", version, propagate_version = false, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// The configuration file.
    #[arg(long, short = 'c', global = true, env = "PIPELINE_CONFIG", default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The environment (a key of `environments` in the config).
    #[arg(long, short = 'e', global = true, env = "PIPELINE_ENV")]
    pub env: Option<String>,
    /// Compute and print the plan, change nothing.
    #[arg(long, global = true, env = "PIPELINE_DRY_RUN")]
    pub dry_run: bool,
    /// `human` logs on stderr; `json` also prints one JSON document on stdout.
    #[arg(long, global = true, env = "PIPELINE_OUTPUT", value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// More detail (-v: build and push logs; -vv: debug).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Override a config value, e.g. `--set image.target=runtime` (repeatable).
    #[arg(long = "set", global = true, env = "PIPELINE_SET", value_name = "KEY=VALUE", value_delimiter = ',')]
    pub set: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Create, update and delete schedules in the tool's schedule group so they match `schedules:`.
    Apply,
    /// Print what `apply` would change; exit 0 when nothing, 2 when something.
    Plan,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Release: version -> build (or reuse) -> push -> register -> deploy -> guard -> verified.
    Release(version::VersionArgs),
    /// Build the image on the local Docker engine, without pushing.
    Build(version::VersionArgs),
    /// Build if ECR does not have this commit yet, push, and add the release tags.
    Push(version::VersionArgs),
    /// Print what a release would do; exit 0 when nothing would change, 2 when something would.
    Plan(version::VersionArgs),
    /// Deploy an image that is already in ECR (e.g. promote staging's digest to production).
    Deploy(deploy::DeployArgs),
    /// Return the service to the newest verified release other than the current one, or to the one
    /// named with --to.
    Rollback(deploy::RollbackArgs),
    /// Show what runs now, which release, and what is in flight (or how a detached job ended).
    Status(deploy::StatusArgs),
    /// Run a one-off task from `tasks:` (a migration, a data load) and wait for its exit code, which becomes
    /// pipeline's; or start it detached, or schedule one run at a time.
    RunTask(deploy::RunTaskArgs),
    /// Scheduled jobs: reconcile `schedules:` with EventBridge Scheduler.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// On a pull request: validate the config, plan the release, and post the plan as a check run
    /// on the PR head commit (a commit status when the token cannot create check runs).
    Check(version::VersionArgs),
    /// Print the JSON Schema of .pipeline.yml (for editors).
    Schema,
    /// Write a commented .pipeline.yml from the Dockerfile and task definition found here, or from a
    /// live service (--from-service CLUSTER/SERVICE).
    Init(init::InitArgs),
    /// Print shell completions.
    Completions(completions::CompletionsArgs),
}

impl Cli {
    /// Turns the arguments into a request; `None` for commands handled entirely by the CLI (completions).
    pub fn into_request(self, ci: Ci) -> Option<Request> {
        let g = self.global;
        let global = Global {
            config: g.config,
            env: g.env,
            dry_run: g.dry_run,
            output: match g.output {
                Output::Human => OutputFormat::Human,
                Output::Json => OutputFormat::Json,
            },
            verbose: g.verbose,
            no_color: ci.no_color(),
            set: g.set,
        };
        let command = match self.command {
            Commands::Release(a) => Command::Release(a.into()),
            Commands::Build(a) => Command::Build(a.into()),
            Commands::Push(a) => Command::Push(a.into()),
            Commands::Plan(a) => Command::Plan(a.into()),
            Commands::Deploy(a) => Command::Deploy { image: a.image },
            // An empty `--to` (an unset workflow input) means no target named.
            Commands::Rollback(a) => Command::Rollback { to: a.to.filter(|t| !t.trim().is_empty()), force: a.force },
            Commands::Status(a) => Command::Status { task: a.task },
            Commands::RunTask(a) => Command::RunTask(a.into()),
            Commands::Schedules(SchedulesCommand::Apply) => Command::Schedules(SchedulesAction::Apply),
            Commands::Schedules(SchedulesCommand::Plan) => Command::Schedules(SchedulesAction::Plan),
            Commands::Check(a) => Command::Check(a.into()),
            Commands::Schema => Command::Schema,
            Commands::Init(a) => Command::Init { force: a.force, from_service: a.from_service },
            Commands::Completions(a) => {
                print_completions(a.shell);
                return None;
            }
        };
        Some(Request { global, command, ci })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommand_version_is_the_release_version_not_the_binary_version() {
        let cli = Cli::try_parse_from(["pipeline", "release", "--version", "1.2.3", "--allow-dirty"]).unwrap();
        match cli.into_request(Ci::default()).map(|r| r.command) {
            Some(Command::Release(v)) => {
                assert_eq!(v.explicit.as_deref(), Some("1.2.3"));
                assert!(v.allow_dirty);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

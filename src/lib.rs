//! `pipeline`: from a git commit to production traffic on Amazon ECS.
//!
//! The core never sees clap: `cli` turns arguments into a plain [`request::Request`], [`run`]
//! executes it and reports start and end on every sink, whatever the path.

pub mod aws;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod ecs;
pub mod error;
pub mod git;
pub mod guard;
pub mod image;
pub mod plan;
pub mod report;
pub mod request;
mod run;
pub mod version;

pub use error::{Error, ExitCode};

use report::{ErrorReportExt as _, JsonSink, Outcome, Reporter, Status, TerminalSink};
use request::{OutputFormat, Request};

/// Runs a request to the end and returns the exit code. Every path reports `RunStarted` and
/// `RunFinished`; an error is rendered exactly once, here.
pub async fn run(request: Request) -> ExitCode {
    // Secrets known from the environment are masked before anything is printed.
    let secrets = report::known_secrets_from_env(&["SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL"]);
    let mut sinks = report::sinks_from_env(&secrets);
    sinks.push(Box::new(TerminalSink::new(request.global.verbose > 0, request.global.no_color)));
    if request.global.output == OutputFormat::Json {
        sinks.push(Box::new(JsonSink));
    }
    let mut reporter = Reporter::new(sinks);
    for secret in &secrets {
        reporter.mask(secret);
    }
    let command = request.command.name();
    reporter.emit(report::Event::RunStarted { command: command.into() });

    let mut outcome =
        Outcome { command: command.into(), dry_run: request.global.dry_run.then_some(true), ..Outcome::default() };
    let result = run::execute(&request, &mut reporter, &mut outcome).await;
    let mut code = match &result {
        Ok(()) if outcome.status == Some(Status::Changes) => ExitCode::Changes,
        Ok(()) => {
            outcome.status = Some(Status::Success);
            ExitCode::Success
        }
        Err(e) => {
            outcome.status = Some(Status::Failure);
            outcome.error = Some(e.report());
            e.exit_code()
        }
    };
    reporter.emit(report::Event::RunFinished { outcome });
    // A sink marked `required` that failed turns a success into a failure; it never hides an error.
    let closed = reporter.close().await;
    match (result, closed) {
        (Err(e), _) => eprintln!("{:?}", miette::Report::new(e)),
        (Ok(()), Err(e)) => {
            eprintln!("{:?}", miette::Report::new(e));
            code = ExitCode::Failure;
        }
        (Ok(()), Ok(())) => {}
    }
    code
}

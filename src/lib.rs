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

use report::{ErrorReportExt as _, JsonSink, Outcome, Reporter, Sink, Status, TerminalSink};
use request::{OutputFormat, Request};

/// Runs a request to the end and returns the exit code. Every path reports `RunStarted` and
/// `RunFinished`; an error is rendered exactly once, here.
pub async fn run(request: Request) -> ExitCode {
    let mut sinks: Vec<Box<dyn Sink>> =
        vec![Box::new(TerminalSink::new(request.global.verbose > 0, request.global.no_color))];
    if request.global.output == OutputFormat::Json {
        sinks.push(Box::new(JsonSink));
    }
    let mut reporter = Reporter::new(sinks);
    let command = request.command.name();
    reporter.emit(report::Event::RunStarted { command: command.into() });

    let mut outcome = Outcome { command: command.into(), dry_run: request.global.dry_run.then_some(true), ..Outcome::default() };
    let result = run::execute(&request, &mut reporter, &mut outcome).await;
    let code = match &result {
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
    if let Err(e) = result {
        eprintln!("{:?}", miette::Report::new(e));
    }
    code
}

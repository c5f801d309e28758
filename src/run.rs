//! Runs one request: the sinks first (masks before anything prints), start, the command, end.
//! Commands that change something are planned first; `dispatch` is the one place where
//! `--dry-run` stops a run, after the plan and before the first change.

use crate::command::{self, Run};
use crate::report::{ErrorReportExt as _, Event, JsonSink, Reporter, Status, TerminalSink};
use crate::request::{Command, OutputFormat, Request, SchedulesAction};
use crate::{Error, ExitCode, notify};

/// Runs a request to the end and returns the exit code. Every path reports `RunStarted` and
/// `RunFinished`; an error is rendered exactly once, here.
pub async fn run(request: Request) -> ExitCode {
    let mut reporter = reporter(&request);
    let name = request.command.name();
    reporter.emit(Event::RunStarted { command: name.into() });

    let mut run = Run::new(&request.global, &request.ci, &mut reporter);
    let result = dispatch(&mut run, &request.command).await;
    let mut outcome = run.outcome(name);
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
    reporter.emit(Event::RunFinished { outcome });
    // A sink marked `required` that failed turns a success into a failure; it never hides an error.
    let closed = reporter.close().await;
    match (result, closed) {
        (Err(e), _) => crate::stdio::err(&format!("{:?}\n", miette::Report::new(e))),
        (Ok(()), Err(e)) => {
            crate::stdio::err(&format!("{:?}\n", miette::Report::new(e)));
            code = ExitCode::Failure;
        }
        (Ok(()), Ok(())) => {}
    }
    code
}

/// The sinks every run has: GitHub Actions (in Actions), the terminal, and the JSON document. The
/// secrets the environment holds are masked before the first line.
fn reporter(request: &Request) -> Reporter {
    let secrets = notify::known_secrets(&request.ci);
    let mut sinks: Vec<Box<dyn crate::report::Sink>> = Vec::new();
    if let Some(files) = request.ci.actions_files() {
        let console = crate::report::Console::stderr();
        sinks.push(Box::new(crate::report::GithubActionsSink::new(files, &secrets, console)));
    }
    sinks.push(Box::new(TerminalSink::new(request.global.verbose > 0, request.global.no_color)));
    if request.global.output == OutputFormat::Json {
        sinks.push(Box::new(JsonSink));
    }
    let mut reporter = Reporter::new(sinks);
    for secret in &secrets {
        reporter.mask(secret);
    }
    reporter
}

async fn dispatch(run: &mut Run<'_>, command: &Command) -> Result<(), Error> {
    use command::*;
    let planned = match command {
        // Read-only commands: nothing to gate.
        Command::Schema => return schema::run(),
        Command::Init { force, from_service } => return init::run(run, *force, from_service.as_deref()).await,
        Command::Plan(v) => return plan::run(run, v).await,
        Command::Check(v) => return check::run(run, v).await,
        Command::Status { task } => return status::run(run, task.as_deref()).await,
        Command::Schedules(SchedulesAction::Plan) => return schedules::show(run).await,
        // Commands that change something: plan (read-only) first.
        Command::Build(v) => Planned::Build(build::plan(run, v).await?),
        Command::Push(v) => Planned::Push(push::plan(run, v).await?),
        Command::Release(v) => Planned::Release(release::plan(run, v).await?),
        Command::Deploy { image } => Planned::Deploy(deploy::plan(run, image).await?),
        Command::Rollback { to, force } => Planned::Rollback(rollback::plan(run, to.as_deref(), *force).await?),
        Command::RunTask(job) => Planned::RunTask(run_task::plan(run, job).await?),
        Command::Schedules(SchedulesAction::Apply) => Planned::Schedules(schedules::plan(run).await?),
    };
    // The one dry-run gate: everything above only read.
    if run.global.dry_run {
        return Ok(());
    }
    // From here on a SIGINT/SIGTERM is a cancel the steps honour, never an abrupt end.
    run.cancel = crate::deploy::cancel::Cancel::on_signals();
    match planned {
        Planned::Build(p) => build::execute(run, p).await,
        Planned::Push(p) => push::execute(run, p).await,
        Planned::Release(p) => release::execute(run, p).await,
        Planned::Deploy(p) => deploy::execute(run, p).await,
        Planned::Rollback(p) => rollback::execute(run, p).await,
        Planned::RunTask(p) => run_task::execute(run, p).await,
        Planned::Schedules(p) => schedules::execute(run, p).await,
    }
}

/// A command planned and ready to execute.
enum Planned {
    Build(command::build::Planned),
    Push(command::release::Planned),
    Release(command::release::Planned),
    Deploy(command::deploy::Planned),
    Rollback(command::rollback::Planned),
    RunTask(command::run_task::Planned),
    Schedules(command::schedules::Planned),
}

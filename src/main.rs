//! Thin: parse, set up logging, run, exit.

use clap::Parser;
use pipeline::ci::Ci;
use pipeline::cli::Cli;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let verbose = cli.global.verbose;
    let Some(request) = cli.into_request(Ci::from_process()) else {
        return std::process::ExitCode::SUCCESS;
    };
    init_logging(verbose, request.global.no_color);
    // One line per message, however long: `file:line:column` stays greppable, CI logs are wide, and
    // help texts carry commands to copy (`aws ecr put-image-tag-mutability ...`).
    let _ = miette::set_hook(Box::new(|_| Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            pipeline::stdio::err(&format!("pipeline: cannot start the async runtime: {e}\n"));
            return pipeline::ExitCode::Failure.into();
        }
    };
    runtime.block_on(pipeline::run(request)).into()
}

/// Logs go to stderr; `-vv` or PIPELINE_LOG turns on debug output.
fn init_logging(verbose: u8, no_color: bool) {
    let default = match verbose {
        0 | 1 => "warn",
        _ => "pipeline=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIPELINE_LOG").unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(!no_color && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_env_filter(filter)
        .init();
}

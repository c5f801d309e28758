//! `pipeline-sandbox`: start the emulator and print the environment a client needs.

use std::path::PathBuf;

use clap::Parser;
use pipeline_sandbox::{SandboxOptions, TaskMode};

/// A local emulator of the AWS APIs `pipeline` drives (ECR with a real registry, ECS, CodeDeploy,
/// CloudWatch, ELBv2, STS), all on one port.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SANDBOX_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port for every API and the registry (0 picks a free one).
    #[arg(long, short, env = "SANDBOX_PORT", default_value_t = 4599)]
    port: u16,
    /// Simulated seconds per real second (60: a one-minute traffic step takes one second).
    #[arg(long, env = "SANDBOX_TIME_SCALE", default_value_t = 1.0)]
    time_scale: f64,
    #[arg(long, env = "SANDBOX_REGION", default_value = "us-east-1")]
    region: String,
    #[arg(long, env = "SANDBOX_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// More accounts, each with its own ECR and registry port, reached through STS AssumeRole
    /// (comma-separated; empty for none).
    #[arg(long, env = "SANDBOX_ACCOUNTS", value_delimiter = ',', default_value = pipeline_sandbox::SECOND_ACCOUNT)]
    accounts: Vec<String>,
    /// Keep registry blobs here instead of in memory.
    #[arg(long, env = "SANDBOX_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Create a ready-made world at start: `hello` (the examples/hello blue/green demo).
    #[arg(long, env = "SANDBOX_SCENARIO")]
    scenario: Option<String>,
    /// Where ECS tasks run: `simulated`, or `docker` (real containers on the local engine, with probe traffic
    /// and ALB metrics).
    #[arg(long, env = "SANDBOX_TASKS", value_enum, default_value_t = TaskMode::Simulated)]
    tasks: TaskMode,
    /// Remove the containers every `--tasks docker` sandbox left behind (one killed without cleanup), and exit.
    #[arg(long)]
    cleanup: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SANDBOX_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    if args.cleanup {
        return match pipeline_sandbox::containers::docker::remove_every_instance() {
            Ok(n) => {
                eprintln!("pipeline-sandbox: removed {n} container(s)");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pipeline-sandbox: cleanup failed: {e}");
                std::process::ExitCode::from(1)
            }
        };
    }
    let opts = SandboxOptions {
        host: args.host,
        port: args.port,
        account_id: args.account_id,
        accounts: args.accounts.into_iter().filter(|a| !a.is_empty()).collect(),
        region: args.region,
        time_scale: args.time_scale,
        state_dir: args.state_dir,
        scenario: args.scenario,
        tasks: args.tasks,
    };
    let running = match pipeline_sandbox::start(opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pipeline-sandbox: cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    // The environment goes to stdout so `eval "$(pipeline-sandbox ... &)"`-style scripts can read it.
    for (k, v) in running.client_env() {
        println!("export {k}={v}");
    }
    eprintln!("pipeline-sandbox listening on {} (Ctrl-C to stop)", running.endpoint());
    shutdown_signal().await;
    // Dropping `running` stops the server and removes the containers it started (`--tasks docker`).
    drop(running);
    std::process::ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM from a supervisor (`docker stop`, systemd, CI), both shut down cleanly.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

//! `pipeline-sandbox`: a local emulator of the AWS APIs `pipeline` drives, on one port.
//!
//! ECR is a real OCI/Docker registry (the distribution API is served on the same port), ECS and
//! CodeDeploy deployments really progress, fail and roll back, and CloudWatch speaks the RPCv2-CBOR
//! protocol the current Rust SDK sends. See README.md for what is emulated and where it differs from AWS.

pub mod capture;
pub mod cloudwatch;
pub mod codedeploy;
pub mod containers;
pub mod control;
pub mod ecr;
pub mod ecs;
pub mod elbv2;
pub mod error;
pub mod faults;
pub mod protocol;
pub mod registry;
pub mod scenario;
pub mod scheduler;
pub mod server;
pub mod sts;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use containers::TaskMode;
pub use error::{AwsError, AwsResult};
pub use world::{Ctx, World};

/// The account besides the home account that a default sandbox holds.
pub const SECOND_ACCOUNT: &str = "111111111111";

/// How to start a sandbox. `Default` is what tests want: an ephemeral port on 127.0.0.1.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    pub account_id: String,
    /// More accounts, each with its own ECR and registry host; reached through STS AssumeRole
    /// (`arn:aws:iam::<account>:role/<any name>`).
    pub accounts: Vec<String>,
    pub region: String,
    pub time_scale: f64,
    /// Where registry blobs are kept; in memory when `None`.
    pub state_dir: Option<PathBuf>,
    /// A ready-made world to create at start (see `scenario::NAMES`), e.g. `hello`.
    pub scenario: Option<String>,
    /// Simulated tasks, or real containers on the local Docker engine (`--tasks docker`).
    pub tasks: TaskMode,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            account_id: "000000000000".into(),
            accounts: vec![SECOND_ACCOUNT.into()],
            region: "us-east-1".into(),
            time_scale: 1.0,
            state_dir: None,
            scenario: None,
            tasks: TaskMode::Simulated,
        }
    }
}

/// The shared state of a running sandbox.
#[derive(Debug)]
pub struct Sandbox {
    pub ctx: Ctx,
    pub state_dir: Option<PathBuf>,
    world: Mutex<World>,
    /// Set when tasks run as real containers (`TaskMode::Docker`).
    pub containers: std::sync::OnceLock<Arc<containers::Engine>>,
}

impl Sandbox {
    pub fn new(ctx: Ctx, state_dir: Option<PathBuf>) -> Self {
        Self { ctx, state_dir, world: Mutex::new(World::default()), containers: std::sync::OnceLock::new() }
    }

    /// Locks the world. A handler that panicked must not wedge every later request, so poisoning is ignored.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn reset(&self) {
        *self.world() = World::default();
    }
}

/// A sandbox serving in the background of this process; dropping it stops the server.
pub struct RunningSandbox {
    pub addr: SocketAddr,
    pub sandbox: Arc<Sandbox>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, the registry host images are tagged with.
    pub fn registry_host(&self) -> String {
        self.sandbox.ctx.registry_host.clone()
    }

    /// The registry host of `account` (each account has its own port), if the sandbox holds that account.
    pub fn registry_host_of(&self, account: &str) -> Option<String> {
        self.sandbox.ctx.registries.get(account).cloned()
    }

    /// The environment a client needs to talk to this sandbox, as `NAME=value` pairs.
    pub fn client_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_REGION".into(), self.sandbox.ctx.region.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "sandbox".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "sandbox".into()),
            ("PIPELINE_SANDBOX_REGISTRY".into(), self.registry_host()),
            // The sandbox is also the network for its load balancers' DNS names (`--tasks docker`): HTTP clients
            // reach a listener through it as through a proxy, and everything on this machine directly.
            ("HTTP_PROXY".into(), self.endpoint()),
            ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
        ]
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Real containers go with the sandbox that started them.
        if let Some(engine) = self.sandbox.containers.get() {
            engine.shutdown_blocking();
        }
    }
}

/// Binds, starts the HTTP server and the ticker that drives deployments, and returns at once.
pub async fn start(opts: SandboxOptions) -> std::io::Result<RunningSandbox> {
    let listener = tokio::net::TcpListener::bind((opts.host.as_str(), opts.port)).await?;
    let addr = listener.local_addr()?;
    let mut registries = std::collections::BTreeMap::from([(opts.account_id.clone(), addr.to_string())]);
    let mut account_listeners = Vec::new();
    for account in opts.accounts.iter().filter(|a| **a != opts.account_id) {
        let extra = tokio::net::TcpListener::bind((opts.host.as_str(), 0)).await?;
        registries.insert(account.clone(), extra.local_addr()?.to_string());
        account_listeners.push((account.clone(), extra));
    }
    if let Some(dir) = &opts.state_dir {
        std::fs::create_dir_all(dir)?;
    }
    let ctx = Ctx {
        account_id: opts.account_id.clone(),
        region: opts.region.clone(),
        registry_host: addr.to_string(),
        time_scale: opts.time_scale,
        started: std::time::SystemTime::now(),
        home_account: opts.account_id.clone(),
        registries,
    };
    let sandbox = Arc::new(Sandbox::new(ctx, opts.state_dir.clone()));
    if let Some(name) = &opts.scenario {
        let ctx = sandbox.ctx.clone();
        scenario::seed(&mut sandbox.world(), &ctx, name).map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();

    let ticker = {
        let sandbox = sandbox.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(20));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                let ctx = sandbox.ctx.clone();
                let mut world = sandbox.world();
                world.tick(&ctx);
                if let Some(engine) = sandbox.containers.get() {
                    engine.apply(&mut world);
                }
            }
        })
    };
    let app = server::router(sandbox.clone());
    let mut account_servers = Vec::new();
    for (account, extra) in account_listeners {
        let app = server::account_registry_router(sandbox.clone(), account);
        account_servers.push(tokio::spawn(async move {
            let _ = axum::serve(extra, app).await;
        }));
    }
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        ticker.abort();
        for server in account_servers {
            server.abort();
        }
    });
    let running = RunningSandbox { addr, sandbox, shutdown: Some(tx) };
    // After the server is up: the engine logs in to this sandbox's registry. On failure `running` drops and stops it.
    if opts.tasks == TaskMode::Docker {
        let engine = containers::Engine::start(&running.sandbox).await?;
        let _ = running.sandbox.containers.set(engine);
    }
    Ok(running)
}

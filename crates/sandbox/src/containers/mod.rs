//! `--tasks docker`: the emulator's ECS tasks run as real containers on the local Docker engine, and a
//! load-balancer stand-in sends them traffic and publishes the ALB metrics, so a release that really answers
//! 500 really trips a 5xx alarm and a container that really exits counts toward the circuit breaker.
//!
//! No Docker work ever runs under the world lock. A reconciler (`reconcile.rs`) compares the emulator's live
//! tasks with the containers it started and converges, recording what happened in a small shared table; the
//! world's tick reads that table under its own lock and moves the tasks (`apply`). The probe (`probe.rs`)
//! reads routing under the lock, sends requests outside it, and publishes counts under it.

pub mod alb;
pub mod docker;
mod probe;
mod reconcile;
pub mod traffic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;

use crate::{Ctx, Sandbox, World};
use docker::Docker;

/// Where the emulator's ECS tasks run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskMode {
    /// Tasks are simulated: no process runs; `SANDBOX_EXIT_CODE` and friends decide their fate.
    #[default]
    Simulated,
    /// Every task runs as a container on the local Docker engine (the `docker` CLI must work).
    Docker,
}

/// What became of one task's containers, as the reconciler saw it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Phase {
    /// Created or being created; not yet answering its health check.
    Starting,
    /// Every container is up and passed its health check.
    Ready,
    /// An essential container exited: (container name, exit code) of the containers that exited.
    Exited(Vec<(String, i64)>),
    /// The containers could not be created (image missing, engine error) or failed their health checks.
    Failed(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Started {
    pub name: String,
    pub id: String,
    pub essential: bool,
    pub container_port: Option<u16>,
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskRecord {
    pub arn: String,
    pub phase: Phase,
    pub containers: Vec<Started>,
}

/// The reconciler's view, shared with the world's tick and the probe. Its lock is only ever taken briefly and,
/// when both are needed, after the world lock.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Task id -> record, for every task the reconciler has started containers for and not yet removed.
    pub tasks: HashMap<String, TaskRecord>,
}

/// The running container machinery of one sandbox instance.
#[derive(Debug)]
pub struct Engine {
    pub docker: Arc<Docker>,
    pub(crate) ctx: Ctx,
    shared: Mutex<Shared>,
    jobs: Mutex<Vec<JoinHandle<()>>>,
    /// What the listeners carried (`/_sandbox/traffic`).
    pub traffic: traffic::TrafficLog,
}

impl Engine {
    /// Checks the engine, logs in to the sandbox's registry and starts the reconciler and the probe. Fails when
    /// `docker` is missing or the engine does not answer: a sandbox asked for real containers must not pretend.
    pub async fn start(sandbox: &Arc<Sandbox>) -> std::io::Result<Arc<Self>> {
        let instance = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let docker = Docker::new(instance)?;
        if let Err(e) = docker.run(&["version", "--format", "{{.Server.Version}}"]).await {
            docker.remove_all_blocking();
            return Err(std::io::Error::other(format!("--tasks docker needs a working Docker engine: {e}")));
        }
        let ctx = sandbox.ctx.clone();
        let password = crate::ecr::registry_password(&ctx);
        if let Err(e) = docker.login(&ctx.registry_host, &password).await {
            // Local images still work; only images pinned in this sandbox's registry would fail to pull.
            tracing::warn!("docker login to the sandbox registry {} failed: {e}", ctx.registry_host);
        }
        let engine = Arc::new(Self {
            docker,
            ctx,
            shared: Mutex::new(Shared::default()),
            jobs: Mutex::new(Vec::new()),
            traffic: traffic::TrafficLog::default(),
        });
        let worker = tokio::spawn(reconcile::run(engine.clone(), sandbox.clone()));
        let probe = tokio::spawn(probe::run(engine.clone(), sandbox.clone()));
        engine.jobs().extend([worker, probe]);
        tracing::info!(instance = %engine.docker.instance, "tasks run as Docker containers");
        Ok(engine)
    }

    pub fn instance(&self) -> &str {
        &self.docker.instance
    }

    pub(crate) fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn jobs(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by the ticker under the world lock, right after `World::tick`: moves tasks as their containers
    /// dictate. Tasks only change through the ECS lifecycle hooks, so real and simulated exits are counted alike.
    pub fn apply(&self, w: &mut World) {
        let shared = self.shared();
        let ids: Vec<String> = w
            .ecs
            .all_tasks()
            .filter(|t| t.is_live() && matches!(t.last_status, "PROVISIONING" | "PENDING" | "RUNNING"))
            .map(|t| t.id.clone())
            .collect();
        let mut failed = Vec::new();
        for id in ids {
            let Some(t) = w.ecs.task_mut(&id) else { continue };
            let record = shared.tasks.get(&id);
            if let Some(r) = record {
                bind(t, r);
            }
            match record.map(|r| &r.phase) {
                Some(Phase::Ready) => t.release_for_container(false),
                Some(Phase::Exited(codes)) => {
                    for c in &mut t.containers {
                        if let Some((_, code)) = codes.iter().find(|(n, _)| *n == c.name) {
                            c.planned_exit = *code;
                        }
                    }
                    t.release_for_container(true);
                }
                Some(Phase::Failed(reason)) => {
                    if let Some(service_task) = t.fail_for_container(reason) {
                        failed.push((service_task, id));
                    }
                }
                Some(Phase::Starting) | None => t.hold_for_container(),
            }
        }
        drop(shared);
        // What the scheduler does with a task that failed to start (see ecs rollout): count it for the breaker.
        for ((cluster, service, deployment), task) in failed {
            if let Some(s) = w.ecs.service_mut(&cluster, &service) {
                if let Some(d) = s.deployment_mut(&deployment) {
                    d.failed_tasks += 1;
                    d.updated_at = crate::world::now_epoch();
                }
                s.event(format!("has stopped 1 running tasks: (task {task})."));
            }
        }
    }

    /// `/_sandbox/reset`: the world is gone, so are its containers. Returns once they are removed.
    pub async fn remove_all(&self) {
        self.shared().tasks.clear();
        self.traffic.clear();
        match self.docker.list().await {
            Ok(list) => {
                let ids: Vec<String> = list.into_iter().map(|(id, _)| id).collect();
                if let Err(e) = self.docker.remove(&ids).await {
                    tracing::warn!("cannot remove containers at reset: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot list containers at reset: {e}"),
        }
    }

    /// Shutdown: stops the reconciler and the probe and removes every container of this instance. Blocking, for
    /// `Drop`.
    pub fn shutdown_blocking(&self) {
        self.docker.shutting_down.store(true, std::sync::atomic::Ordering::SeqCst);
        for job in self.jobs().drain(..) {
            job.abort();
        }
        self.docker.remove_all_blocking();
    }
}

/// DescribeTasks `networkBindings` from the published ports, as ECS reports them for bridge/host networking.
fn bind(t: &mut crate::ecs::Task, r: &TaskRecord) {
    for c in &mut t.containers {
        if !c.network_bindings.is_empty() {
            continue;
        }
        let Some(s) = r.containers.iter().find(|s| s.name == c.name) else { continue };
        if let (Some(container_port), Some(host_port)) = (s.container_port, s.host_port) {
            c.network_bindings = vec![serde_json::json!({
                "bindIP": "127.0.0.1",
                "containerPort": container_port,
                "hostPort": host_port,
                "protocol": "tcp",
            })];
        }
    }
}

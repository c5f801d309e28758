//! The reconciler: desired containers are the emulator's live tasks, actual ones are the containers labelled
//! with this instance; it starts what is missing, removes what is no longer wanted, and records readiness and
//! exits for the world's tick to apply.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::docker::RunSpec;
use super::{Engine, Phase, Started, TaskRecord};
use crate::ecs::str_field;
use crate::{Ctx, Sandbox, World};

/// How often the reconciler compares desired and actual state.
const LOOP_EVERY: Duration = Duration::from_millis(25);
/// How often it also lists the engine's containers, to remove strays (a reset, a creation that raced a stop).
const SWEEP_EVERY: Duration = Duration::from_secs(3);
/// How often a starting container's health is polled.
const HEALTH_POLL: Duration = Duration::from_millis(40);
/// A container that publishes a port but never answers HTTP (a TCP service) counts as serving after this.
const NON_HTTP_GRACE: Duration = Duration::from_secs(10);

/// One container of a task to start.
struct ContainerPlan {
    spec: RunSpec,
    essential: bool,
}

struct TaskPlan {
    id: String,
    arn: String,
    containers: Vec<ContainerPlan>,
}

pub(super) async fn run(engine: Arc<Engine>, sandbox: Arc<Sandbox>) {
    let mut last_sweep = Instant::now();
    loop {
        tokio::time::sleep(LOOP_EVERY).await;
        let (new, gone) = {
            let w = sandbox.world();
            let shared = engine.shared();
            let live: HashSet<&str> = w
                .ecs
                .all_tasks()
                .filter(|t| t.is_live() && t.last_status != "STOPPED")
                .map(|t| t.id.as_str())
                .collect();
            let gone: Vec<String> = shared.tasks.keys().filter(|id| !live.contains(id.as_str())).cloned().collect();
            let new: Vec<TaskPlan> = live
                .iter()
                .filter(|id| !shared.tasks.contains_key(**id))
                .filter_map(|id| plan(&w, &engine.ctx, id))
                .collect();
            (new, gone)
        };
        for id in gone {
            let record = engine.shared().tasks.remove(&id);
            if let Some(r) = record {
                let ids: Vec<String> = r.containers.into_iter().map(|c| c.id).collect();
                let e = engine.clone();
                tokio::spawn(async move {
                    if let Err(err) = e.docker.remove(&ids).await {
                        tracing::warn!("cannot remove the containers of a stopped task: {err}");
                    }
                });
            }
        }
        for p in new {
            engine.shared().tasks.insert(
                p.id.clone(),
                TaskRecord { arn: p.arn.clone(), phase: Phase::Starting, containers: Vec::new() },
            );
            tokio::spawn(start(engine.clone(), p));
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = Instant::now();
            sweep(&engine).await;
        }
    }
}

/// Removes containers of this instance whose task the reconciler no longer tracks.
async fn sweep(engine: &Arc<Engine>) {
    let Ok(list) = engine.docker.list().await else { return };
    let stray: Vec<String> = {
        let shared = engine.shared();
        let arns: HashSet<&str> = shared.tasks.values().map(|r| r.arn.as_str()).collect();
        list.into_iter().filter(|(_, task)| !arns.contains(task.as_str())).map(|(id, _)| id).collect()
    };
    if !stray.is_empty()
        && let Err(e) = engine.docker.remove(&stray).await
    {
        tracing::warn!("cannot remove stray containers: {e}");
    }
}

/// What to run for a task, from its task definition and overrides (under the world lock, no I/O).
fn plan(w: &World, ctx: &Ctx, id: &str) -> Option<TaskPlan> {
    let task = w.ecs.all_tasks().find(|t| t.id == id)?;
    let td = w.ecs.task_definition(&task.task_definition_arn)?;
    let overrides: Vec<&Value> = task
        .overrides
        .get("containerOverrides")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let containers = td
        .containers()
        .iter()
        .map(|def| {
            let name = str_field(def, "name").unwrap_or_default().to_owned();
            let over = overrides.iter().copied().find(|o| str_field(o, "name") == Some(name.as_str()));
            let mut env = pairs(def.get("environment"));
            for (k, v) in pairs(over.and_then(|o| o.get("environment"))) {
                env.retain(|(name, _)| *name != k);
                env.push((k, v));
            }
            let command = over
                .and_then(|o| o.get("command"))
                .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
                .or_else(|| def.get("command"));
            let port = def
                .get("portMappings")
                .and_then(Value::as_array)
                .and_then(|m| m.first())
                .and_then(|m| m.get("containerPort"))
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok());
            let image = task
                .containers
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.image.clone())
                .unwrap_or_else(|| str_field(def, "image").unwrap_or_default().to_owned());
            ContainerPlan {
                spec: RunSpec {
                    task_arn: task.arn.clone(),
                    container: name,
                    image: local_image(ctx, &image),
                    env,
                    port,
                    entry_point: strings(def.get("entryPoint")),
                    command: strings(command),
                    health_flags: health_flags(ctx, def.get("healthCheck")),
                },
                essential: def.get("essential").and_then(Value::as_bool).unwrap_or(true),
            }
        })
        .collect();
    Some(TaskPlan { id: id.to_owned(), arn: task.arn.clone(), containers })
}

/// The ECR-style name of this sandbox's registry (`<account>.dkr.ecr.<region>.amazonaws.com/repo`) is not
/// resolvable here; the same repository is served at `127.0.0.1:PORT`.
fn local_image(ctx: &Ctx, image: &str) -> String {
    let ecr_host = format!("{}.dkr.ecr.{}.amazonaws.com/", ctx.account_id, ctx.region);
    match image.strip_prefix(&ecr_host) {
        Some(rest) => format!("{}/{rest}", ctx.registry_host),
        None => image.to_owned(),
    }
}

fn pairs(list: Option<&Value>) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some((str_field(e, "name")?.to_owned(), e.get("value")?.as_str()?.to_owned())))
        .collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// Docker `--health-*` flags for an ECS container healthCheck, its times scaled like everything else.
fn health_flags(ctx: &Ctx, check: Option<&Value>) -> Vec<String> {
    let Some(check) = check else { return Vec::new() };
    let command = strings(check.get("command"));
    let cmd = match command.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => rest.join(" "),
        // Docker's CLI only takes a shell form; the exec form is joined, so it needs a shell in the image too.
        Some((kind, rest)) if kind == "CMD" => rest.join(" "),
        Some(_) => command.join(" "),
        None => return Vec::new(),
    };
    let secs = |key: &str, default: u64| {
        let s = check.get(key).and_then(Value::as_u64).unwrap_or(default);
        // Docker refuses intervals under 1 ms; 100 ms keeps a scaled check from spinning.
        let ms = ctx.real(Duration::from_secs(s)).as_millis().max(100);
        format!("{ms}ms")
    };
    let retries = check.get("retries").and_then(Value::as_u64).unwrap_or(3);
    vec![
        format!("--health-cmd={cmd}"),
        format!("--health-interval={}", secs("interval", 30)),
        format!("--health-timeout={}", secs("timeout", 5)),
        format!("--health-retries={retries}"),
        format!("--health-start-period={}", secs("startPeriod", 0)),
    ]
}

/// Creates a task's containers, watches them exit, and waits until they answer their health checks.
async fn start(engine: Arc<Engine>, plan: TaskPlan) {
    let mut started = Vec::new();
    for c in &plan.containers {
        match engine.docker.create(&c.spec).await {
            Ok(id) => started.push((c, id)),
            Err(e) => {
                let reason = failure_reason(&c.spec.image, &e);
                let ids: Vec<String> = started.into_iter().map(|(_, id)| id).collect();
                let _ = engine.docker.remove(&ids).await;
                set_phase(&engine, &plan.id, Phase::Failed(reason));
                return;
            }
        }
    }
    let mut containers = Vec::new();
    for (c, id) in &started {
        let host_port = match c.spec.port {
            Some(p) => engine.docker.host_port(id, p).await,
            None => None,
        };
        containers.push(Started {
            name: c.spec.container.clone(),
            id: id.clone(),
            essential: c.essential,
            container_port: c.spec.port,
            host_port,
        });
    }
    let tracked = match engine.shared().tasks.get_mut(&plan.id) {
        Some(r) => {
            r.containers = containers.clone();
            true
        }
        None => false,
    };
    if !tracked {
        // The task was stopped while its containers were being created.
        let ids: Vec<String> = containers.into_iter().map(|c| c.id).collect();
        let _ = engine.docker.remove(&ids).await;
        return;
    }
    for c in &containers {
        tokio::spawn(watch_exit(engine.clone(), plan.id.clone(), c.clone()));
    }
    // One after the other: the containers start together, so waiting on each in turn costs no more than the slowest.
    for (c, p) in containers.iter().zip(&plan.containers) {
        if let Err(reason) = ready(&engine, &plan.id, c, &p.spec).await {
            set_phase(&engine, &plan.id, Phase::Failed(reason));
            return;
        }
    }
    set_phase(&engine, &plan.id, Phase::Ready);
}

fn failure_reason(image: &str, docker_error: &str) -> String {
    let lower = docker_error.to_lowercase();
    if lower.contains("unable to find image")
        || lower.contains("pull access denied")
        || lower.contains("manifest unknown")
        || lower.contains("not found")
    {
        format!("CannotPullContainerError: pull image {image}: {}", first_line(docker_error))
    } else {
        format!("CannotStartContainerError: {}", first_line(docker_error))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// Sets a task's phase unless it already ended (an exit or failure is final) or was removed.
fn set_phase(engine: &Engine, id: &str, phase: Phase) {
    if let Some(r) = engine.shared().tasks.get_mut(id)
        && matches!(r.phase, Phase::Starting | Phase::Ready)
    {
        r.phase = phase;
    }
}

/// `docker wait` until the container stops; an essential container's exit ends the task.
async fn watch_exit(engine: Arc<Engine>, task: String, c: Started) {
    let code = engine.docker.wait(&c.id).await;
    let mut shared = engine.shared();
    let Some(r) = shared.tasks.get_mut(&task) else { return };
    // Removed by us (task stopped, reset) or already over: nothing to report.
    if !r.containers.iter().any(|x| x.id == c.id) || !matches!(r.phase, Phase::Starting | Phase::Ready) {
        return;
    }
    if c.essential {
        // `docker wait` failing means the container vanished under us (removed by hand): report it as killed.
        r.phase = Phase::Exited(vec![(c.name.clone(), code.unwrap_or(137))]);
    }
}

/// Waits until one container passes its health check: the container definition's healthCheck through
/// Docker's, else an HTTP `GET /health` on its published port, else it being up.
async fn ready(engine: &Engine, task: &str, c: &Started, spec: &RunSpec) -> Result<(), String> {
    let since = Instant::now();
    loop {
        if !still_starting(engine, task) {
            // Exited or removed meanwhile; the watcher has recorded whatever matters.
            return Ok(());
        }
        if !spec.health_flags.is_empty() {
            match engine.docker.health(&c.id).await.as_deref() {
                Some("healthy") => return Ok(()),
                Some("unhealthy") => return Err("Task failed container health checks".into()),
                _ => {}
            }
        } else if let Some(port) = c.host_port {
            match super::probe::get(port, "/health", Duration::from_millis(500)).await {
                Some(status) if status < 500 => return Ok(()),
                _ if since.elapsed() >= NON_HTTP_GRACE => return Ok(()),
                _ => {}
            }
        } else {
            return Ok(());
        }
        tokio::time::sleep(HEALTH_POLL).await;
    }
}

fn still_starting(engine: &Engine, task: &str) -> bool {
    engine.shared().tasks.get(task).is_some_and(|r| r.phase == Phase::Starting)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx { time_scale: 60.0, ..Ctx::single("000000000000", "us-east-1", "127.0.0.1:4599") }
    }

    #[test]
    fn ecr_style_names_resolve_to_the_local_registry() {
        let c = ctx();
        assert_eq!(
            local_image(&c, "000000000000.dkr.ecr.us-east-1.amazonaws.com/web@sha256:ab"),
            "127.0.0.1:4599/web@sha256:ab"
        );
        assert_eq!(local_image(&c, "hello:test"), "hello:test");
    }

    #[test]
    fn health_checks_are_scaled_and_never_spin() {
        let check = serde_json::json!({"command": ["CMD-SHELL", "curl -f localhost/ || exit 1"], "interval": 30});
        let flags = health_flags(&ctx(), Some(&check));
        assert_eq!(flags[0], "--health-cmd=curl -f localhost/ || exit 1");
        assert_eq!(flags[1], "--health-interval=500ms");
        assert_eq!(flags[2], "--health-timeout=100ms");
        assert!(health_flags(&ctx(), None).is_empty());
    }

    #[test]
    fn missing_images_read_like_ecs() {
        let r = failure_reason(
            "x:1",
            "Unable to find image 'x:1' locally\ndocker: Error response from daemon: pull access denied for x",
        );
        assert!(r.starts_with("CannotPullContainerError: pull image x:1: docker: Error response"), "{r}");
    }
}

//! Tasks (REFERENCE 2.8): RunTask/DescribeTasks/StopTask/ListTasks and the simulated task lifecycle
//! PROVISIONING -> PENDING -> RUNNING -> (DEACTIVATING ->) STOPPED, shared by one-off and service tasks.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::images::{Registries, pull_error};
use super::{EcsState, TaskDefinition, last_segment, paginate, str_field, string_list, with_token};
use crate::{AwsError, AwsResult, Ctx};

/// Simulated seconds a task spends in PROVISIONING and then in PENDING.
const PROVISIONING_SECS: u64 = 3;
const PENDING_SECS: u64 = 7;
/// How long a container told to exit (SANDBOX_EXIT_CODE) runs first, unless SANDBOX_RUN_SECONDS says otherwise.
const DEFAULT_RUN_SECS: f64 = 5.0;
/// Simulated seconds a service task must keep running before the scheduler counts it healthy (the grace a
/// health check would need); a task that exits sooner never counts, so a crashing release cannot "complete".
const HEALTHY_AFTER_SECS: u64 = 5;
/// Stopped tasks stay visible for an hour (simulated), but never less than ten real minutes.
const KEEP_STOPPED_SECS: u64 = 3600;
const KEEP_STOPPED_MIN_REAL_SECS: u64 = 600;
const MAX_STOPPED_TASKS: usize = 2000;
/// Simulated seconds between a stop request and STOPPED (SIGTERM, then the stop timeout).
const STOPPING_SECS: u64 = 5;

#[derive(Debug, Clone)]
pub struct TaskContainer {
    pub name: String,
    pub image: String,
    pub essential: bool,
    /// The exit code this container will report when it stops on its own.
    pub planned_exit: i64,
    pub exit_code: Option<i64>,
    pub last_status: &'static str,
    pub reason: Option<String>,
    /// `networkBindings` of a real container (`--tasks docker`, set by `crate::containers`); empty when simulated.
    pub network_bindings: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub arn: String,
    pub cluster: String,
    pub cluster_arn: String,
    pub task_definition_arn: String,
    pub group: String,
    pub started_by: Option<String>,
    /// Service name and deployment (or task set) id for service tasks.
    pub service: Option<String>,
    pub deployment_id: Option<String>,
    pub last_status: &'static str,
    pub desired_status: &'static str,
    pub containers: Vec<TaskContainer>,
    pub launch_type: String,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub overrides: Value,
    pub tags: Vec<Value>,
    pub created_at: f64,
    pub started_at: Option<f64>,
    pub stopping_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub stop_code: Option<&'static str>,
    pub stopped_reason: Option<String>,
    pub version: u64,
    /// The task's elastic network interface (every task is awsvpc here, as on Fargate): what DescribeTasks shows
    /// in `attachments` and what the service registers in `ip` target groups.
    pub eni: NetworkInterface,
    /// When the next lifecycle transition is due (wall clock).
    next_at: Instant,
    /// How long the task runs before its essential container exits on its own; `None` = until stopped.
    run_for: Option<Duration>,
    /// When a RUNNING task starts to count as healthy; `None` while not running or if it exits first.
    healthy_at: Option<Instant>,
}

/// A simulated ENI: addresses are handed out in order from 10.0.0.0/16; nothing is reachable there.
#[derive(Debug, Clone)]
pub struct NetworkInterface {
    pub attachment_id: String,
    pub id: String,
    pub private_ip: String,
}

impl NetworkInterface {
    fn new(n: u32) -> Self {
        Self {
            attachment_id: uuid::Uuid::new_v4().to_string(),
            id: format!("eni-0{:016x}", rand::random::<u64>()),
            private_ip: format!("10.0.{}.{}", (n / 254) % 256, n % 254 + 1),
        }
    }
}

/// What the caller of `launch` wants: who starts the task and for which service deployment.
pub struct LaunchSpec<'a> {
    pub cluster: &'a str,
    pub cluster_arn: &'a str,
    pub group: String,
    pub started_by: Option<String>,
    pub service: Option<String>,
    pub deployment_id: Option<String>,
    pub launch_type: Option<&'a str>,
    pub overrides: Value,
    pub tags: Vec<Value>,
    /// One-off tasks exit 0 after a short run; service tasks run until stopped unless told to exit.
    pub one_off: bool,
}

fn env_value(container_def: &Value, overrides: &Value, name: &str, key: &str) -> Option<String> {
    let from = |list: Option<&Value>| {
        list.and_then(Value::as_array)?
            .iter()
            .rev()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(key))
            .and_then(|e| e.get("value").and_then(Value::as_str))
            .map(str::to_owned)
    };
    let overridden = overrides
        .get("containerOverrides")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|o| o.get("name").and_then(Value::as_str) == Some(name))
        .find_map(|o| from(o.get("environment")));
    overridden.or_else(|| from(container_def.get("environment")))
}

/// Creates a task (PROVISIONING) from a task definition; its fate is decided now from the environment.
pub fn launch(ecs: &mut EcsState, ctx: &Ctx, td: &TaskDefinition, spec: LaunchSpec<'_>) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // The earliest essential container told to exit decides when the task stops.
    let mut planned: Option<f64> = None;
    let mut containers = Vec::new();
    for c in td.containers() {
        let name = str_field(c, "name").unwrap_or_default().to_owned();
        let exit = env_value(c, &spec.overrides, &name, "SANDBOX_EXIT_CODE").and_then(|v| v.trim().parse::<i64>().ok());
        let secs =
            env_value(c, &spec.overrides, &name, "SANDBOX_RUN_SECONDS").and_then(|v| v.trim().parse::<f64>().ok());
        let essential = c.get("essential").and_then(Value::as_bool).unwrap_or(true);
        if essential && (exit.is_some() || secs.is_some()) {
            let s = secs.unwrap_or(DEFAULT_RUN_SECS).max(0.0);
            planned = Some(planned.map_or(s, |p| p.min(s)));
        }
        containers.push(TaskContainer {
            name,
            image: str_field(c, "image").unwrap_or_default().to_owned(),
            essential,
            planned_exit: exit.unwrap_or(0),
            exit_code: None,
            last_status: "PENDING",
            reason: None,
            network_bindings: Vec::new(),
        });
    }
    let run_secs = planned.or(spec.one_off.then_some(DEFAULT_RUN_SECS));
    let launch_type = spec
        .launch_type
        .map(str::to_owned)
        .or_else(|| {
            let compat = td.body.get("requiresCompatibilities").and_then(Value::as_array)?;
            compat.first().and_then(Value::as_str).map(str::to_owned)
        })
        .unwrap_or_else(|| "FARGATE".into());
    let task = Task {
        arn: ctx.arn("ecs", &format!("task/{}/{id}", spec.cluster)),
        id: id.clone(),
        cluster: spec.cluster.to_owned(),
        cluster_arn: spec.cluster_arn.to_owned(),
        task_definition_arn: td.arn.clone(),
        group: spec.group,
        started_by: spec.started_by,
        service: spec.service,
        deployment_id: spec.deployment_id,
        last_status: "PROVISIONING",
        desired_status: "RUNNING",
        containers,
        launch_type,
        cpu: str_field(&td.body, "cpu").map(str::to_owned),
        memory: str_field(&td.body, "memory").map(str::to_owned),
        overrides: spec.overrides,
        tags: spec.tags,
        created_at: super::now(),
        started_at: None,
        stopping_at: None,
        stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        version: 1,
        eni: NetworkInterface::new(ecs.next_task_ip()),
        next_at: Instant::now() + ctx.real(Duration::from_secs(PROVISIONING_SECS)),
        run_for: run_secs.map(|s| ctx.real(super::sim_duration(s))),
        healthy_at: None,
    };
    ecs.tasks.insert(id.clone(), task);
    id
}

impl Task {
    /// Asks the task to stop; it reaches STOPPED after the simulated stop timeout (at once if never started).
    pub fn request_stop(&mut self, ctx: &Ctx, code: &'static str, reason: &str) {
        if self.desired_status == "STOPPED" {
            return;
        }
        self.desired_status = "STOPPED";
        self.stop_code = Some(code);
        self.stopped_reason = Some(reason.to_owned());
        self.stopping_at = Some(super::now());
        self.version += 1;
        if self.last_status == "RUNNING" {
            self.last_status = "DEACTIVATING";
            self.next_at = Instant::now() + ctx.real(Duration::from_secs(STOPPING_SECS));
        } else {
            // Never started: no container ran, so no exit codes.
            self.next_at = Instant::now() + ctx.real(Duration::from_secs(STOPPING_SECS));
            self.last_status = "DEPROVISIONING";
        }
    }

    /// Live = counted by the scheduler: not stopped and not being stopped.
    pub fn is_live(&self) -> bool {
        self.desired_status == "RUNNING"
    }

    /// Running long enough to pass for healthy (see HEALTHY_AFTER_SECS).
    pub fn is_healthy(&self) -> bool {
        self.is_live() && self.last_status == "RUNNING" && self.healthy_at.is_some_and(|h| Instant::now() >= h)
    }

    fn finish(&mut self, exit: impl Fn(&TaskContainer) -> Option<i64>) {
        let now = super::now();
        for c in &mut self.containers {
            c.exit_code = exit(c);
            c.last_status = "STOPPED";
        }
        self.last_status = "STOPPED";
        self.desired_status = "STOPPED";
        self.stopping_at.get_or_insert(now);
        self.stopped_at = Some(now);
        self.version += 1;
        // From now on `next_at` marks when the task stopped, for forgetting it later.
        self.next_at = Instant::now();
    }
}

/// Advances every task; returns the service tasks that stopped on their own (failures the service must count).
pub fn tick(ecs: &mut EcsState, ecr: Registries<'_>, ctx: &Ctx) -> Vec<(String, String, String, String)> {
    let now = Instant::now();
    let mut failed = Vec::new();
    for t in ecs.tasks.values_mut() {
        if t.last_status == "STOPPED" || now < t.next_at {
            continue;
        }
        match t.last_status {
            "PROVISIONING" => {
                // The image pull happens now: a missing image means the task never starts.
                let pull = t.containers.iter().filter(|c| c.essential).find_map(|c| pull_error(ecr, ctx, &c.image));
                if let Some(reason) = pull {
                    t.containers.iter_mut().for_each(|c| c.reason = Some(reason.clone()));
                    t.stop_code = Some("TaskFailedToStart");
                    t.stopped_reason = Some(reason);
                    t.finish(|_| None);
                    if let (Some(s), Some(d)) = (&t.service, &t.deployment_id) {
                        failed.push((t.cluster.clone(), s.clone(), d.clone(), t.id.clone()));
                    }
                    continue;
                }
                t.last_status = "PENDING";
                t.next_at = now + ctx.real(Duration::from_secs(PENDING_SECS));
                t.version += 1;
            }
            "PENDING" => {
                t.last_status = "RUNNING";
                t.started_at = Some(super::now());
                t.containers.iter_mut().for_each(|c| c.last_status = "RUNNING");
                t.version += 1;
                let grace = ctx.real(Duration::from_secs(HEALTHY_AFTER_SECS));
                match t.run_for {
                    Some(d) => {
                        t.next_at = now + d;
                        t.healthy_at = (d > grace).then_some(now + grace);
                    }
                    None => {
                        t.next_at = now + Duration::from_secs(3600 * 24 * 365);
                        t.healthy_at = Some(now + grace);
                    }
                }
            }
            "RUNNING" => {
                // The essential container exited by itself.
                t.stop_code = Some("EssentialContainerExited");
                t.stopped_reason = Some("Essential container in task exited".into());
                t.finish(|c| Some(c.planned_exit));
                if let (Some(s), Some(d)) = (&t.service, &t.deployment_id) {
                    failed.push((t.cluster.clone(), s.clone(), d.clone(), t.id.clone()));
                }
            }
            // Stopped while running: SIGTERM.
            "DEACTIVATING" => t.finish(|_| Some(143)),
            _ => t.finish(|_| None),
        }
    }
    let keep = ctx.real(Duration::from_secs(KEEP_STOPPED_SECS)).max(Duration::from_secs(KEEP_STOPPED_MIN_REAL_SECS));
    ecs.tasks.retain(|_, t| t.last_status != "STOPPED" || now.saturating_duration_since(t.next_at) < keep);
    // A crash-looping service at a high time scale stops tasks by the thousand: keep only the newest ones.
    let stopped = ecs.tasks.values().filter(|t| t.last_status == "STOPPED").count();
    if stopped > MAX_STOPPED_TASKS {
        let mut by_age: Vec<(Instant, String)> =
            ecs.tasks.values().filter(|t| t.last_status == "STOPPED").map(|t| (t.next_at, t.id.clone())).collect();
        by_age.sort();
        for (_, id) in by_age.into_iter().take(stopped - MAX_STOPPED_TASKS) {
            ecs.tasks.remove(&id);
        }
    }
    failed
}

fn task_json(t: &Task) -> Value {
    let containers: Vec<Value> = t
        .containers
        .iter()
        .map(|c| {
            let mut v = json!({
                "containerArn": format!("{}/{}", t.arn.replace(":task/", ":container/"), c.name),
                "taskArn": t.arn,
                "name": c.name,
                "image": c.image,
                "lastStatus": c.last_status,
                "networkInterfaces": [{
                    "attachmentId": t.eni.attachment_id,
                    "privateIpv4Address": t.eni.private_ip,
                }],
                "healthStatus": "UNKNOWN",
            });
            if let Some(code) = c.exit_code {
                v["exitCode"] = json!(code);
            }
            if !c.network_bindings.is_empty() {
                v["networkBindings"] = json!(c.network_bindings);
            }
            if let Some(r) = &c.reason {
                v["reason"] = json!(r);
            }
            v
        })
        .collect();
    let mut v = json!({
        "taskArn": t.arn,
        "clusterArn": t.cluster_arn,
        "taskDefinitionArn": t.task_definition_arn,
        "containers": containers,
        "overrides": t.overrides,
        "lastStatus": t.last_status,
        "desiredStatus": t.desired_status,
        "group": t.group,
        "launchType": t.launch_type,
        "createdAt": t.created_at,
        "version": t.version,
        "attachments": [{
            "id": t.eni.attachment_id,
            "type": "ElasticNetworkInterface",
            "status": if t.last_status == "STOPPED" { "DELETED" } else { "ATTACHED" },
            "details": [
                {"name": "networkInterfaceId", "value": t.eni.id},
                {"name": "privateIPv4Address", "value": t.eni.private_ip},
            ],
        }],
        "tags": t.tags,
        "healthStatus": "UNKNOWN",
    });
    let opt = |v: &mut Value, k: &str, x: Option<Value>| {
        if let Some(x) = x {
            v[k] = x;
        }
    };
    opt(&mut v, "startedBy", t.started_by.as_ref().map(|s| json!(s)));
    opt(&mut v, "cpu", t.cpu.as_ref().map(|s| json!(s)));
    opt(&mut v, "memory", t.memory.as_ref().map(|s| json!(s)));
    opt(&mut v, "startedAt", t.started_at.map(|s| json!(s)));
    opt(&mut v, "stoppingAt", t.stopping_at.map(|s| json!(s)));
    opt(&mut v, "stoppedAt", t.stopped_at.map(|s| json!(s)));
    opt(&mut v, "stopCode", t.stop_code.map(|s| json!(s)));
    opt(&mut v, "stoppedReason", t.stopped_reason.as_ref().map(|s| json!(s)));
    v
}

pub fn run(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    // A retried RunTask with the same clientToken starts nothing new (REFERENCE 2.8).
    let token = str_field(input, "clientToken").map(str::to_owned);
    if let Some((earlier, ids)) = token.as_ref().and_then(|t| ecs.run_task_tokens.get(t)) {
        if earlier != input {
            return Err(AwsError::client(
                "ConflictException",
                "The clientToken has already been used with different parameters.",
            ));
        }
        let tasks: Vec<Value> = ids.iter().filter_map(|id| ecs.tasks.get(id)).map(task_json).collect();
        return Ok(json!({ "tasks": tasks, "failures": [] }));
    }
    let reference =
        str_field(input, "taskDefinition").ok_or_else(|| AwsError::invalid_parameter("taskDefinition is required."))?;
    let td = ecs
        .task_definition(reference)
        .cloned()
        .ok_or_else(|| AwsError::client("ClientException", "Unable to find task definition."))?;
    if td.status() != "ACTIVE" && !reference.contains(':') {
        return Err(AwsError::client("ClientException", "TaskDefinition is inactive"));
    }
    let count = input.get("count").and_then(Value::as_u64).unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(AwsError::invalid_parameter("Count must be between 1 and 10."));
    }
    let overrides = input.get("overrides").cloned().unwrap_or_else(|| json!({"containerOverrides": []}));
    for o in overrides.get("containerOverrides").and_then(Value::as_array).into_iter().flatten() {
        let name = str_field(o, "name").unwrap_or_default();
        if !td.containers().iter().any(|c| str_field(c, "name") == Some(name)) {
            return Err(AwsError::invalid_parameter(format!(
                "Override for container named {name} is not a container in the TaskDefinition."
            )));
        }
    }
    let cluster_arn = ecs.clusters[&cluster].arn.clone();
    let group = str_field(input, "group").map(str::to_owned).unwrap_or_else(|| format!("family:{}", td.family));
    let (mut tasks, mut ids) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let spec = LaunchSpec {
            cluster: &cluster,
            cluster_arn: &cluster_arn,
            group: group.clone(),
            started_by: str_field(input, "startedBy").map(str::to_owned),
            service: None,
            deployment_id: None,
            launch_type: str_field(input, "launchType"),
            overrides: overrides.clone(),
            tags: input.get("tags").and_then(Value::as_array).cloned().unwrap_or_default(),
            one_off: true,
        };
        let id = launch(ecs, ctx, &td, spec);
        tasks.push(task_json(&ecs.tasks[&id]));
        ids.push(id);
    }
    if let Some(t) = token {
        ecs.run_task_tokens.insert(t, (input.clone(), ids));
    }
    Ok(json!({ "tasks": tasks, "failures": [] }))
}

fn find<'a>(ecs: &'a EcsState, cluster: &str, reference: &str) -> Option<&'a Task> {
    ecs.tasks.get(last_segment(reference)).filter(|t| t.cluster == cluster)
}

pub fn describe(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let refs = string_list(input, "tasks");
    if refs.is_empty() {
        return Err(AwsError::invalid_parameter("Tasks cannot be empty."));
    }
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for r in &refs {
        match find(ecs, &cluster, r) {
            Some(t) => tasks.push(task_json(t)),
            None => {
                let arn =
                    if r.starts_with("arn:") { r.clone() } else { ctx.arn("ecs", &format!("task/{cluster}/{r}")) };
                failures.push(json!({"arn": arn, "reason": "MISSING"}));
            }
        }
    }
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

pub fn stop(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let r = str_field(input, "task").ok_or_else(|| AwsError::invalid_parameter("task is required."))?;
    let id = find(ecs, &cluster, r)
        .map(|t| t.id.clone())
        .ok_or_else(|| AwsError::invalid_parameter("The referenced task was not found."))?;
    let reason = str_field(input, "reason").unwrap_or("Task stopped by user");
    let t = ecs.tasks.get_mut(&id).expect("found above");
    t.request_stop(ctx, "UserInitiated", reason);
    Ok(json!({ "task": task_json(t) }))
}

pub fn list(ecs: &mut EcsState, _ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let service = str_field(input, "serviceName").map(last_segment);
    if let Some(s) = service
        && ecs.service(&cluster, s).is_none()
    {
        return Err(AwsError::client("ServiceNotFoundException", "Service not found."));
    }
    let started_by = str_field(input, "startedBy");
    let family = str_field(input, "family");
    let desired = str_field(input, "desiredStatus").unwrap_or("RUNNING");
    let mut matching: Vec<&Task> = ecs.tasks.values().filter(|t| t.cluster == cluster).collect();
    matching.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
    let arns: Vec<Value> = matching
        .into_iter()
        .filter(|t| service.is_none_or(|s| t.service.as_deref() == Some(s)))
        .filter(|t| started_by.is_none_or(|s| t.started_by.as_deref() == Some(s)))
        .filter(|t| {
            family.is_none_or(|f| t.group == format!("family:{f}") || t.task_definition_arn.contains(&format!("/{f}:")))
        })
        .filter(|t| t.desired_status == desired)
        .map(|t| json!(t.arn))
        .collect();
    let (page, token) = paginate(arns, input, 100);
    Ok(with_token(json!({ "taskArns": page }), token))
}

// ---- Hooks for real containers (`crate::containers`, `--tasks docker`). ----
// A real container replaces the simulated timers; every transition still happens in `tick` above, so a real
// exit takes exactly the path of a SANDBOX_EXIT_CODE exit (EssentialContainerExited, counted by the scheduler).
impl Task {
    /// Keeps a PENDING task PENDING until its container answers its health check.
    pub(crate) fn hold_for_container(&mut self) {
        if self.last_status == "PENDING" && self.is_live() {
            self.next_at = Instant::now() + Duration::from_secs(3600 * 24 * 365);
        }
    }

    /// The container is serving (`exited` false), or its essential container exited (`exited` true, exit codes
    /// already in `planned_exit`): the next ticks take the task to RUNNING and, on an exit, on to STOPPED.
    pub(crate) fn release_for_container(&mut self, exited: bool) {
        if !self.is_live() {
            return;
        }
        match (self.last_status, exited) {
            ("PROVISIONING" | "PENDING", _) => {
                self.run_for = exited.then_some(Duration::ZERO);
                self.next_at = Instant::now();
            }
            ("RUNNING", true) => self.next_at = Instant::now(),
            _ => {}
        }
    }

    /// The container could not be created or started: STOPPED with TaskFailedToStart, like a failed pull.
    /// Returns (cluster, service, deployment) for a service task, whose failure the scheduler must count.
    pub(crate) fn fail_for_container(&mut self, reason: &str) -> Option<(String, String, String)> {
        if !self.is_live() || self.last_status == "STOPPED" {
            return None;
        }
        self.containers.iter_mut().for_each(|c| c.reason = Some(reason.to_owned()));
        self.stop_code = Some("TaskFailedToStart");
        self.stopped_reason = Some(reason.to_owned());
        self.finish(|_| None);
        Some((self.cluster.clone(), self.service.clone()?, self.deployment_id.clone()?))
    }
}

//! Amazon ECS (REFERENCE section 2): clusters, task definitions, services whose deployments really
//! progress over (scaled) time, fail and roll back, and one-off tasks with exit codes.
//!
//! Simulation knobs (read from a container's effective environment, since a sandbox runs no containers):
//! `SANDBOX_EXIT_CODE=<n>` makes the container exit with `n` shortly after it starts, `SANDBOX_RUN_SECONDS=<s>`
//! sets how long (simulated) it runs before exiting. A service task without either runs until stopped.

mod clusters;
mod images;
mod load_balancing;
pub mod native;
mod rollout;
mod service_deployments;
mod services;
mod task_definitions;
pub mod task_sets;
mod tasks;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx, World};

pub use clusters::Cluster;
pub use services::{Deployment, Service};
pub use task_definitions::TaskDefinition;
pub use tasks::Task;

#[derive(Debug, Default)]
pub struct EcsState {
    clusters: BTreeMap<String, Cluster>,
    /// family -> revisions, index = revision - 1.
    task_definitions: BTreeMap<String, Vec<TaskDefinition>>,
    /// task id -> task, for one-off and service tasks alike.
    tasks: BTreeMap<String, Task>,
    /// RunTask clientToken -> (request, ids of the tasks it started), for idempotent retries.
    run_task_tokens: BTreeMap<String, (Value, Vec<String>)>,
    /// Tasks handed out so far, numbering their private IPs.
    launched: u32,
    /// (target group ARN, IP, port) this ECS registered for service tasks, so it deregisters only its own.
    registered: std::collections::BTreeSet<load_balancing::Registration>,
    /// Lambda lifecycle hooks of ECS-native deployments: the stub answers and the calls made.
    pub hooks: native::Hooks,
}

pub fn handle(w: &mut World, ctx: &Ctx, op: &str, input: &Value) -> AwsResult<Value> {
    let ecs = &mut w.ecs;
    ecs.ensure_default_cluster(ctx);
    match op {
        "CreateCluster" => clusters::create(ecs, ctx, input),
        "DescribeClusters" => clusters::describe(ecs, ctx, input),
        "ListClusters" => clusters::list(ecs, input),
        "DeleteCluster" => clusters::delete(ecs, ctx, input),
        "RegisterTaskDefinition" => task_definitions::register(ecs, ctx, input),
        "DescribeTaskDefinition" => task_definitions::describe(ecs, input),
        "ListTaskDefinitions" => task_definitions::list(ecs, input),
        "ListTaskDefinitionFamilies" => task_definitions::list_families(ecs, input),
        "DeregisterTaskDefinition" => task_definitions::deregister(ecs, input),
        "TagResource" => tag_resource(ecs, input),
        "UntagResource" => untag_resource(ecs, input),
        "ListTagsForResource" => list_tags(ecs, input),
        "CreateService" => services::create(w, ctx, input),
        "DescribeServices" => services::describe(&mut w.ecs, ctx, input),
        "UpdateService" => services::update(w, ctx, input),
        "DeleteService" => services::delete(&mut w.ecs, ctx, input),
        "ListServices" => services::list(&mut w.ecs, ctx, input),
        "ListServiceDeployments" => service_deployments::list(&mut w.ecs, ctx, input),
        "DescribeServiceDeployments" => service_deployments::describe(&mut w.ecs, input),
        "StopServiceDeployment" => service_deployments::stop(w, ctx, input),
        "ContinueServiceDeployment" => native::continue_deployment(w, ctx, input),
        "DescribeTaskSets" => task_sets::describe(&mut w.ecs, input),
        "RunTask" => tasks::run(&mut w.ecs, ctx, input),
        "DescribeTasks" => tasks::describe(&mut w.ecs, ctx, input),
        "StopTask" => tasks::stop(&mut w.ecs, ctx, input),
        "ListTasks" => tasks::list(&mut w.ecs, ctx, input),
        _ => Err(AwsError::not_implemented("ecs", op)),
    }
}

/// One step of every time-driven ECS process: task lifecycles first, then the schedulers that react to them.
pub fn tick(w: &mut World, ctx: &Ctx) {
    w.ecs.ensure_default_cluster(ctx);
    let stopped = tasks::tick(&mut w.ecs, images::Registries { home: &w.ecr, others: &w.account_ecr }, ctx);
    rollout::tick(w, ctx, stopped);
    load_balancing::sync(&mut w.ecs, &mut w.elbv2);
}

impl EcsState {
    fn ensure_default_cluster(&mut self, ctx: &Ctx) {
        if !self.clusters.contains_key("default") {
            self.clusters.insert("default".into(), Cluster::new(ctx, "default", Vec::new()));
        }
    }

    /// Resolves a cluster name or ARN (absent means `default`), with ECS's error for unknown clusters.
    fn cluster_name(&self, cluster: Option<&str>) -> AwsResult<String> {
        let name = cluster.filter(|c| !c.is_empty()).map(last_segment).unwrap_or("default");
        if self.clusters.get(name).is_some_and(|c| c.status == "ACTIVE") {
            Ok(name.to_owned())
        } else {
            Err(AwsError::client("ClusterNotFoundException", "Cluster not found."))
        }
    }

    fn next_task_ip(&mut self) -> u32 {
        self.launched = self.launched.wrapping_add(1);
        self.launched
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.get(name)
    }

    /// A service by cluster and service name (or ARNs), for CodeDeploy.
    pub fn service(&self, cluster: &str, service: &str) -> Option<&Service> {
        self.clusters.get(last_segment(cluster))?.services.get(last_segment(service))
    }

    pub fn service_mut(&mut self, cluster: &str, service: &str) -> Option<&mut Service> {
        self.clusters.get_mut(last_segment(cluster))?.services.get_mut(last_segment(service))
    }

    /// The task definition named by `family`, `family:revision` or ARN (family alone = latest ACTIVE).
    pub fn task_definition(&self, reference: &str) -> Option<&TaskDefinition> {
        task_definitions::resolve(self, reference)
    }
}

/// `arn:aws:ecs:...:cluster/name` -> `name`; a plain name stays as it is.
pub(crate) fn last_segment(s: &str) -> &str {
    if s.starts_with("arn:") { s.rsplit('/').next().unwrap_or(s) } else { s }
}

pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

pub(crate) fn string_list(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `ecs-svc/` followed by 19 digits, like the ids ECS gives deployments and task sets.
pub(crate) fn new_deployment_id() -> String {
    let n: u64 = rand::random_range(1_000_000_000_000_000_000..=9_999_999_999_999_999_999);
    format!("ecs-svc/{n}")
}

/// ECS tag lists are `[{key, value}]`; a later tag with the same key replaces the earlier one.
fn merge_tags(existing: &mut Vec<Value>, new: &[Value]) {
    for tag in new {
        let key = tag.get("key").cloned().unwrap_or(Value::Null);
        existing.retain(|t| t.get("key") != Some(&key));
        existing.push(tag.clone());
    }
}

/// Finds the tag list of a taggable resource by ARN: task definition, cluster, service or task.
fn tags_of<'a>(ecs: &'a mut EcsState, arn: &str) -> AwsResult<&'a mut Vec<Value>> {
    let not_found = || AwsError::client("ResourceNotFoundException", "The specified resource could not be found.");
    let resource = arn.split(':').nth(5).ok_or_else(|| AwsError::invalid_parameter("Invalid resource ARN."))?;
    let (kind, rest) = resource.split_once('/').ok_or_else(|| AwsError::invalid_parameter("Invalid resource ARN."))?;
    match kind {
        "task-definition" => {
            let td = ecs
                .task_definitions
                .values_mut()
                .flatten()
                .find(|td| td.arn == arn || td.arn.ends_with(&format!("/{rest}")))
                .ok_or_else(not_found)?;
            Ok(&mut td.tags)
        }
        "cluster" => Ok(&mut ecs.clusters.get_mut(rest).ok_or_else(not_found)?.tags),
        "service" => {
            let mut parts = rest.split('/');
            let (c, s) = match (parts.next(), parts.next()) {
                (Some(c), Some(s)) => (c, s),
                (Some(s), None) => ("default", s),
                _ => return Err(not_found()),
            };
            Ok(&mut ecs.service_mut(c, s).ok_or_else(not_found)?.tags)
        }
        "task" => {
            let id = rest.rsplit('/').next().unwrap_or(rest);
            Ok(&mut ecs.tasks.get_mut(id).ok_or_else(not_found)?.tags)
        }
        _ => Err(not_found()),
    }
}

fn tag_resource(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let arn = crate::protocol::json::required_str(input, "resourceArn")?;
    let new = input.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
    merge_tags(tags_of(ecs, arn)?, &new);
    Ok(json!({}))
}

fn untag_resource(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let arn = crate::protocol::json::required_str(input, "resourceArn")?;
    let keys = string_list(input, "tagKeys");
    tags_of(ecs, arn)?.retain(|t| !t.get("key").and_then(Value::as_str).is_some_and(|k| keys.iter().any(|x| x == k)));
    Ok(json!({}))
}

fn list_tags(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let arn = crate::protocol::json::required_str(input, "resourceArn")?;
    Ok(json!({ "tags": tags_of(ecs, arn)?.clone() }))
}

/// `nextToken` handling shared by the List* operations: the token is the index of the next item.
fn paginate(items: Vec<Value>, input: &Value, default_max: usize) -> (Vec<Value>, Option<String>) {
    let start: usize = str_field(input, "nextToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let max = input.get("maxResults").and_then(Value::as_u64).map(|m| m as usize).filter(|m| *m > 0);
    let max = max.unwrap_or(default_max);
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    (items.into_iter().skip(start).take(max).collect(), next)
}

fn with_token(mut out: Value, token: Option<String>) -> Value {
    if let Some(t) = token {
        out["nextToken"] = json!(t);
    }
    out
}

/// A client-supplied number of simulated seconds as a `Duration`, without panicking on NaN, infinity,
/// negative or absurdly large values (capped at about 30 years).
pub(crate) fn sim_duration(seconds: f64) -> std::time::Duration {
    let s = if seconds.is_finite() { seconds.clamp(0.0, 1e9) } else { 0.0 };
    std::time::Duration::from_secs_f64(s)
}

pub(crate) fn now() -> f64 {
    now_epoch()
}

// ---- Hooks for real containers (`crate::containers`, `--tasks docker`): read access to tasks and services. ----
impl EcsState {
    pub(crate) fn all_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    pub(crate) fn task_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.tasks.get_mut(id)
    }

    pub(crate) fn all_services(&self) -> impl Iterator<Item = &Service> {
        self.clusters.values().flat_map(|c| c.services.values())
    }
}

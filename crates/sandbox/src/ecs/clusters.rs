//! Clusters: a name space for services and tasks. `default` always exists, as the API treats it as implicit.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{EcsState, Service, last_segment, paginate, str_field, string_list, with_token};
use crate::{AwsError, AwsResult, Ctx};

#[derive(Debug)]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub tags: Vec<Value>,
    pub services: BTreeMap<String, Service>,
}

impl Cluster {
    pub fn new(ctx: &Ctx, name: &str, tags: Vec<Value>) -> Self {
        Self {
            name: name.into(),
            arn: ctx.arn("ecs", &format!("cluster/{name}")),
            status: "ACTIVE".into(),
            tags,
            services: BTreeMap::new(),
        }
    }
}

fn to_json(ecs: &EcsState, c: &Cluster, with_tags: bool) -> Value {
    let tasks = ecs.tasks.values().filter(|t| t.cluster == c.name);
    let (mut running, mut pending) = (0, 0);
    for t in tasks {
        match t.last_status {
            "RUNNING" => running += 1,
            "PROVISIONING" | "PENDING" | "ACTIVATING" => pending += 1,
            _ => {}
        }
    }
    let active_services = c.services.values().filter(|s| s.status == "ACTIVE").count();
    let mut out = json!({
        "clusterArn": c.arn,
        "clusterName": c.name,
        "status": c.status,
        "registeredContainerInstancesCount": 0,
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "activeServicesCount": active_services,
        "statistics": [],
        "settings": [{"name": "containerInsights", "value": "disabled"}],
        "capacityProviders": [],
        "defaultCapacityProviderStrategy": [],
    });
    if with_tags {
        out["tags"] = json!(c.tags);
    }
    out
}

pub fn create(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = str_field(input, "clusterName").unwrap_or("default");
    if name.len() > 255 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(AwsError::invalid_parameter(
            "Cluster name can have up to 255 characters, and can contain letters, numbers, hyphens and underscores.",
        ));
    }
    let tags = input.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
    // CreateCluster is idempotent: an existing ACTIVE cluster is returned as it is.
    let revive = ecs.clusters.get(name).is_none_or(|c| c.status != "ACTIVE");
    if revive {
        ecs.clusters.insert(name.into(), Cluster::new(ctx, name, tags));
    }
    let c = &ecs.clusters[name];
    Ok(json!({ "cluster": to_json(ecs, c, true) }))
}

pub fn describe(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let mut names = string_list(input, "clusters");
    if names.is_empty() {
        names.push("default".into());
    }
    let with_tags = string_list(input, "include").iter().any(|i| i == "TAGS");
    let (mut clusters, mut failures) = (Vec::new(), Vec::new());
    for n in &names {
        match ecs.clusters.get(last_segment(n)) {
            Some(c) => clusters.push(to_json(ecs, c, with_tags)),
            None => failures.push(json!({
                "arn": if n.starts_with("arn:") { n.clone() } else { ctx.arn("ecs", &format!("cluster/{n}")) },
                "reason": "MISSING",
            })),
        }
    }
    Ok(json!({ "clusters": clusters, "failures": failures }))
}

pub fn list(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let arns = ecs.clusters.values().filter(|c| c.status == "ACTIVE").map(|c| json!(c.arn)).collect();
    let (page, token) = paginate(arns, input, 100);
    Ok(with_token(json!({ "clusterArns": page }), token))
}

pub fn delete(ecs: &mut EcsState, _ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let name = ecs.cluster_name(str_field(input, "cluster"))?;
    let c = &ecs.clusters[&name];
    if c.services.values().any(|s| s.status != "INACTIVE") {
        return Err(AwsError::client(
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    if ecs.tasks.values().any(|t| t.cluster == name && t.last_status != "STOPPED") {
        return Err(AwsError::client(
            "ClusterContainsTasksException",
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    let c = ecs.clusters.get_mut(&name).expect("resolved above");
    c.status = "INACTIVE".into();
    let c = &ecs.clusters[&name];
    Ok(json!({ "cluster": to_json(ecs, c, false) }))
}

//! Task definitions (REFERENCE 2.1): register with validation and AWS's defaults, describe by family,
//! `family:revision` or ARN, list, deregister. The stored body is exactly what Describe returns, so the
//! "describe -> strip output-only fields -> re-register" round trip is faithful.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::{EcsState, paginate, str_field, string_list, with_token};
use crate::{AwsError, AwsResult, Ctx};

#[derive(Debug, Clone)]
pub struct TaskDefinition {
    pub family: String,
    pub revision: u32,
    pub arn: String,
    /// The full `taskDefinition` object as Describe returns it (status included).
    pub body: Value,
    pub tags: Vec<Value>,
}

impl TaskDefinition {
    pub fn status(&self) -> &str {
        self.body.get("status").and_then(Value::as_str).unwrap_or("ACTIVE")
    }

    pub fn containers(&self) -> &[Value] {
        self.body.get("containerDefinitions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether a container `name` exposes `port` (CodeDeploy checks this for its LoadBalancerInfo).
    pub fn container_has_port(&self, name: &str, port: i64) -> Option<bool> {
        let c = self.containers().iter().find(|c| c.get("name").and_then(Value::as_str) == Some(name))?;
        let ports = c.get("portMappings").and_then(Value::as_array);
        Some(ports.is_some_and(|ps| ps.iter().any(|p| p.get("containerPort").and_then(Value::as_i64) == Some(port))))
    }
}

fn client(msg: impl Into<String>) -> AwsError {
    AwsError::client("ClientException", msg)
}

/// Container fields AWS fills in when they are absent, so a described definition shows them.
fn with_container_defaults(c: &Value, network_mode: Option<&str>) -> Value {
    let mut c = c.clone();
    let Some(obj) = c.as_object_mut() else { return c };
    obj.retain(|_, v| !v.is_null());
    obj.entry("cpu").or_insert(json!(0));
    obj.entry("essential").or_insert(json!(true));
    for list in ["portMappings", "environment", "mountPoints", "volumesFrom", "systemControls"] {
        obj.entry(list).or_insert(json!([]));
    }
    if let Some(ports) = obj.get_mut("portMappings").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol").or_insert(json!("tcp"));
            // With awsvpc and host networking the host port is the container port.
            if matches!(network_mode, Some("awsvpc" | "host"))
                && let Some(cp) = p.get("containerPort").cloned()
            {
                p.entry("hostPort").or_insert(cp);
            }
        }
    }
    c
}

fn validate(input: &Value) -> AwsResult<(String, Vec<Value>)> {
    let family = str_field(input, "family").ok_or_else(|| client("Family is required."))?;
    if family.len() > 255 || !family.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(client(
            "Family name can have up to 255 characters, and can contain letters, numbers, hyphens and underscores.",
        ));
    }
    let containers = input.get("containerDefinitions").and_then(Value::as_array).cloned().unwrap_or_default();
    if containers.is_empty() {
        return Err(client("Container list cannot be empty."));
    }
    let mut names = HashSet::new();
    for c in &containers {
        let name = str_field(c, "name").ok_or_else(|| client("Container.name should not be null or empty."))?;
        if str_field(c, "image").is_none() {
            return Err(client("Container.image should not be null or empty."));
        }
        if !names.insert(name) {
            return Err(client(format!("Duplicate container name found: {name}.")));
        }
    }
    if !containers.iter().any(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true)) {
        return Err(client("Task definition must have at least one essential container."));
    }
    let fargate = string_list(input, "requiresCompatibilities").iter().any(|c| c == "FARGATE");
    if fargate {
        if str_field(input, "networkMode") != Some("awsvpc") {
            return Err(client("Fargate only supports network mode 'awsvpc'."));
        }
        if str_field(input, "cpu").is_none() {
            return Err(client("Fargate requires that 'cpu' be defined at the task level."));
        }
        if str_field(input, "memory").is_none() {
            return Err(client("Fargate requires that 'memory' be defined at the task level."));
        }
    }
    let tags = input.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
    if tags.len() > 50 {
        return Err(AwsError::invalid_parameter("Too many tags: at most 50 may be given."));
    }
    Ok((family.to_owned(), tags))
}

pub fn register(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let (family, tags) = validate(input)?;
    let revisions = ecs.task_definitions.entry(family.clone()).or_default();
    let revision = revisions.len() as u32 + 1;
    let arn = ctx.arn("ecs", &format!("task-definition/{family}:{revision}"));

    let mut body: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
    body.retain(|k, v| k != "tags" && !v.is_null());
    let network_mode = str_field(input, "networkMode");
    let containers: Vec<Value> = body
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| with_container_defaults(c, network_mode))
        .collect();
    body.insert("containerDefinitions".into(), json!(containers));
    body.entry("volumes").or_insert(json!([]));
    body.entry("placementConstraints").or_insert(json!([]));
    let fargate_ok = network_mode == Some("awsvpc") && body.contains_key("cpu") && body.contains_key("memory");
    let compatibilities = if fargate_ok { json!(["EC2", "FARGATE"]) } else { json!(["EC2"]) };
    let requires = if network_mode == Some("awsvpc") {
        json!([{"name": "ecs.capability.task-eni"}, {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}])
    } else {
        json!([{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}])
    };
    body.insert("taskDefinitionArn".into(), json!(arn));
    body.insert("revision".into(), json!(revision));
    body.insert("status".into(), json!("ACTIVE"));
    body.insert("requiresAttributes".into(), requires);
    body.insert("compatibilities".into(), compatibilities);
    body.insert("registeredAt".into(), json!(super::now()));
    body.insert("registeredBy".into(), json!(format!("arn:aws:iam::{}:user/sandbox", ctx.account_id)));

    let td = TaskDefinition { family, revision, arn, body: Value::Object(body), tags: tags.clone() };
    let out = json!({ "taskDefinition": td.body, "tags": tags });
    revisions.push(td);
    Ok(out)
}

/// `family`, `family:rev` or a full ARN; a family alone is its latest ACTIVE revision.
pub fn resolve<'a>(ecs: &'a EcsState, reference: &str) -> Option<&'a TaskDefinition> {
    let name = reference.rsplit_once(":task-definition/").map(|(_, n)| n).unwrap_or(reference);
    match name.split_once(':') {
        Some((family, rev)) => {
            let rev: usize = rev.parse().ok()?;
            ecs.task_definitions.get(family)?.get(rev.checked_sub(1)?)
        }
        None => ecs.task_definitions.get(name)?.iter().rev().find(|td| td.status() == "ACTIVE"),
    }
}

pub fn describe(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let reference = str_field(input, "taskDefinition").ok_or_else(|| client("taskDefinition is required."))?;
    let td = resolve(ecs, reference).ok_or_else(|| client("Unable to describe task definition."))?;
    let mut out = json!({ "taskDefinition": td.body });
    if string_list(input, "include").iter().any(|i| i == "TAGS") {
        out["tags"] = json!(td.tags);
    }
    Ok(out)
}

pub fn list(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let status = str_field(input, "status").unwrap_or("ACTIVE");
    // The API calls it a prefix but documents it as "the full family name to filter with".
    let family = str_field(input, "familyPrefix");
    let mut arns: Vec<Value> = ecs
        .task_definitions
        .iter()
        .filter(|(f, _)| family.is_none_or(|x| x == f.as_str()))
        .flat_map(|(_, revs)| revs.iter())
        .filter(|td| td.status() == status)
        .map(|td| json!(td.arn))
        .collect();
    if str_field(input, "sort") == Some("DESC") {
        arns.reverse();
    }
    let (page, token) = paginate(arns, input, 100);
    Ok(with_token(json!({ "taskDefinitionArns": page }), token))
}

pub fn list_families(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let status = str_field(input, "status").unwrap_or("ACTIVE");
    let prefix = str_field(input, "familyPrefix").unwrap_or("");
    let families: Vec<Value> = ecs
        .task_definitions
        .iter()
        .filter(|(f, _)| f.starts_with(prefix))
        .filter(|(_, revs)| match status {
            "ALL" => true,
            "INACTIVE" => revs.iter().all(|td| td.status() != "ACTIVE"),
            s => revs.iter().any(|td| td.status() == s),
        })
        .map(|(f, _)| json!(f))
        .collect();
    let (page, token) = paginate(families, input, 100);
    Ok(with_token(json!({ "families": page }), token))
}

pub fn deregister(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let reference = str_field(input, "taskDefinition").ok_or_else(|| client("taskDefinition is required."))?;
    let name = reference.rsplit_once(":task-definition/").map(|(_, n)| n).unwrap_or(reference);
    let Some((family, rev)) = name.split_once(':') else {
        return Err(client(
            "Revision is required for deregistering a task definition: use family:revision or the ARN.",
        ));
    };
    let rev: usize = rev.parse().map_err(|_| client("Invalid revision number."))?;
    let td = ecs
        .task_definitions
        .get_mut(family)
        .and_then(|revs| revs.get_mut(rev.wrapping_sub(1)))
        .ok_or_else(|| client("The specified task definition does not exist."))?;
    if td.status() == "ACTIVE" {
        td.body["status"] = json!("INACTIVE");
        td.body["deregisteredAt"] = json!(super::now());
    }
    Ok(json!({ "taskDefinition": td.body }))
}

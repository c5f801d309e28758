//! One canonical form for a task definition, so that the file we render and the revision AWS describes compare
//! equal exactly when registering would produce an equivalent revision (an unchanged re-release registers nothing).
//!
//! DescribeTaskDefinition fills defaults the request may omit (`essential: true`, container `cpu: 0`, empty lists,
//! `protocol: "tcp"`, `hostPort` in awsvpc/host mode, health-check timings) and turns task-level `cpu`/`memory` into
//! strings of units. We fill the same defaults on both sides, then drop whatever is empty, so "absent", "null", `[]`
//! and `{}` are all one thing.

use serde_json::{Map, Value};

use super::fields;

/// The canonical form of a task definition (bare, or wrapped as `{"taskDefinition": ...}`). `tags` are removed:
/// they are compared separately, as they do not make a new revision necessary on their own.
pub fn normalize(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(inner) = value.get("taskDefinition").filter(|_| value.get("family").is_none()).cloned() {
        value = inner;
    }
    let Value::Object(mut top) = value else { return canonical(value) };
    for key in fields::READ_ONLY.iter().chain(&["tags"]) {
        top.remove(*key);
    }
    top.retain(|_, v| !v.is_null());

    if !top.contains_key("networkMode") {
        // ECS's documented default; describe and file then agree whether or not either spells it out.
        top.insert("networkMode".to_owned(), Value::String("bridge".to_owned()));
    }
    let network_mode = top.get("networkMode").and_then(Value::as_str).unwrap_or("bridge").to_owned();
    if let Some(cpu) = top.get("cpu").and_then(|v| task_units(v, "vcpu")) {
        top.insert("cpu".to_owned(), Value::String(cpu));
    }
    if let Some(memory) = top.get("memory").and_then(|v| task_units(v, "gb")) {
        top.insert("memory".to_owned(), Value::String(memory));
    }
    if let Some(Value::Array(list)) = top.get_mut("requiresCompatibilities") {
        sort_dedup_strings(list);
    }
    remove_if(&mut top, "enableFaultInjection", &Value::Bool(false));
    if let Some(Value::Array(containers)) = top.get_mut("containerDefinitions") {
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            normalize_container(container, &network_mode);
        }
    }
    // Containers and volumes are referenced by name, never by position, so their order carries no meaning; the
    // diff addresses them by name too, and this keeps "no diff" and "equal" the same thing.
    for key in ["containerDefinitions", "volumes"] {
        if let Some(Value::Array(list)) = top.get_mut(key) {
            list.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        }
    }
    canonical(Value::Object(top))
}

fn normalize_container(c: &mut Map<String, Value>, network_mode: &str) {
    c.retain(|_, v| !v.is_null());
    for key in ["cpu", "memory", "memoryReservation", "startTimeout", "stopTimeout"] {
        if let Some(n) = c.get(key).and_then(Value::as_str).and_then(|s| s.trim().parse::<i64>().ok()) {
            c.insert(key.to_owned(), Value::from(n));
        }
    }
    c.entry("essential").or_insert(Value::Bool(true));
    c.entry("cpu").or_insert(Value::from(0));
    // `false` is what ECS assumes for these when absent; some describe outputs spell it out.
    for key in ["privileged", "readonlyRootFilesystem", "interactive", "pseudoTerminal", "disableNetworking"] {
        remove_if(c, key, &Value::Bool(false));
    }
    remove_if(c, "versionConsistency", &Value::String("enabled".to_owned()));

    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert(Value::String("tcp".to_owned()));
            let container_port = port.get("containerPort").cloned();
            match (network_mode, container_port) {
                // In awsvpc and host mode the host port is the container port, and describe says so.
                ("awsvpc" | "host", Some(cp)) => {
                    port.entry("hostPort").or_insert(cp);
                }
                // In bridge mode 0 means "dynamic", the same as leaving it out.
                _ => remove_if(port, "hostPort", &Value::from(0)),
            }
        }
    }
    for key in ["environment", "secrets"] {
        if let Some(Value::Array(list)) = c.get_mut(key) {
            // ECS does not keep the order meaningful; sorting makes a reorder in the file no change.
            list.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        }
    }
    if let Some(Value::Object(health)) = c.get_mut("healthCheck") {
        for (key, default) in [("interval", 30), ("timeout", 5), ("retries", 3)] {
            health.entry(key).or_insert(Value::from(default));
        }
    }
}

/// Task-level `cpu`/`memory`: AWS takes numbers, numeric strings, or `"1 vCPU"` / `"2 GB"`, and describes them as
/// a string of CPU units / MiB.
fn task_units(value: &Value, unit: &str) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => {
            let lower = s.trim().to_ascii_lowercase();
            match lower.strip_suffix(unit) {
                Some(amount) => {
                    let amount: f64 = amount.trim().parse().ok()?;
                    Some(format!("{}", (amount * 1024.0).round() as i64))
                }
                None => Some(s.trim().to_owned()),
            }
        }
        _ => None,
    }
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or_default()
}

fn sort_dedup_strings(list: &mut Vec<Value>) {
    list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    list.dedup();
}

fn remove_if(map: &mut Map<String, Value>, key: &str, default: &Value) {
    if map.get(key) == Some(default) {
        map.remove(key);
    }
}

/// Sorts object keys (a stable diff and snapshot order), removes nulls and drops arrays and objects that are empty,
/// bottom-up, so an object holding only empties disappears as well.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, canonical(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().filter(|v| !v.is_null()).map(canonical).filter(|v| !is_empty(v)).collect())
        }
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{described_json, rendered_doc};
    use super::*;

    #[test]
    fn a_file_with_omitted_defaults_equals_the_described_form_with_defaults_filled() {
        let rendered = normalize(&rendered_doc().to_register_json());
        let described = normalize(&described_json());
        assert_eq!(rendered, described, "{rendered:#}\n!=\n{described:#}");
    }

    #[test]
    fn normalize_is_idempotent() {
        let once = normalize(&described_json());
        assert_eq!(normalize(&once), once);
    }

    #[test]
    fn defaults_units_and_orders_are_canonical() {
        let sparse = json!({
            "family": "f",
            "cpu": 512,
            "memory": "1 GB",
            "requiresCompatibilities": ["FARGATE", "EC2", "FARGATE"],
            "tags": [{"key": "a", "value": "b"}],
            "containerDefinitions": [
                {"name": "b", "image": "i", "portMappings": [{"containerPort": 80, "hostPort": 0}], "memory": "256"},
                {"name": "a", "image": "i", "environment": [{"name": "Z", "value": "1"}, {"name": "A", "value": "2"}]}
            ]
        });
        let spelled_out = json!({
            "family": "f",
            "cpu": "512",
            "memory": "1024",
            "networkMode": "bridge",
            "requiresCompatibilities": ["EC2", "FARGATE"],
            "enableFaultInjection": false,
            "volumes": [],
            "containerDefinitions": [
                {"name": "a", "image": "i", "cpu": 0, "essential": true, "privileged": false, "environment": [{"name": "A", "value": "2"}, {"name": "Z", "value": "1"}]},
                {"name": "b", "image": "i", "cpu": 0, "essential": true, "memory": 256, "mountPoints": [], "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}
            ]
        });
        assert_eq!(normalize(&sparse), normalize(&spelled_out));
    }

    #[test]
    fn host_port_defaults_to_the_container_port_only_outside_bridge_mode() {
        let td = |mode: &str| json!({"family": "f", "networkMode": mode, "containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 80}]}]});
        assert_eq!(normalize(&td("awsvpc"))["containerDefinitions"][0]["portMappings"][0]["hostPort"], json!(80));
        assert_eq!(normalize(&td("host"))["containerDefinitions"][0]["portMappings"][0]["hostPort"], json!(80));
        assert!(normalize(&td("bridge"))["containerDefinitions"][0]["portMappings"][0].get("hostPort").is_none());
    }

    #[test]
    fn a_real_difference_survives_normalisation() {
        let mut described = described_json();
        described["taskDefinition"]["containerDefinitions"][0]["essential"] = json!(false);
        assert_ne!(normalize(&rendered_doc().to_register_json()), normalize(&described));
    }
}

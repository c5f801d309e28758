//! The ECS AppSpec (REFERENCE 3.2): YAML or JSON, PascalCase keys, one `AWS::ECS::Service` resource.

use serde_json::{Value, json};

use crate::{AwsError, AwsResult};

#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    pub task_definition: String,
    pub container_name: String,
    pub container_port: i64,
    pub platform_version: Option<String>,
    /// Already in the ECS API's shape (`awsvpcConfiguration{subnets,securityGroups,assignPublicIp}`).
    pub network_configuration: Option<Value>,
    /// Lifecycle event name -> Lambda function name.
    pub hooks: Vec<(String, String)>,
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::client("InvalidRevisionException", message)
}

pub fn parse(content: &str) -> AwsResult<AppSpec> {
    let doc: Value = match serde_json::from_str(content) {
        Ok(v) => v,
        Err(_) => serde_norway::from_str(content)
            .map_err(|e| invalid(format!("The AppSpec file is not valid YAML or JSON: {e}")))?,
    };
    let version_ok = match doc.get("version") {
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s == "0.0",
        _ => false,
    };
    if !version_ok {
        return Err(invalid("The AppSpec file must specify version: 0.0."));
    }
    let resources =
        doc.get("Resources").and_then(Value::as_array).ok_or_else(|| invalid("The AppSpec file has no Resources."))?;
    let service = resources
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|m| m.values())
        .find(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::ECS::Service"))
        .ok_or_else(|| invalid("The AppSpec file must have one resource of Type AWS::ECS::Service."))?;
    let props =
        service.get("Properties").ok_or_else(|| invalid("The AWS::ECS::Service resource has no Properties."))?;
    let task_definition = props
        .get("TaskDefinition")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("The AppSpec file is missing Properties.TaskDefinition."))?;
    let lb = props
        .get("LoadBalancerInfo")
        .ok_or_else(|| invalid("The AppSpec file is missing Properties.LoadBalancerInfo."))?;
    let container_name = lb
        .get("ContainerName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("The AppSpec file is missing LoadBalancerInfo.ContainerName."))?;
    let container_port = match lb.get("ContainerPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("The AppSpec file is missing a numeric LoadBalancerInfo.ContainerPort."))?;
    let network_configuration = props.get("NetworkConfiguration").and_then(|n| n.get("AwsvpcConfiguration")).map(|a| {
        let mut v = json!({
            "subnets": a.get("Subnets").cloned().unwrap_or(json!([])),
            "securityGroups": a.get("SecurityGroups").cloned().unwrap_or(json!([])),
        });
        if let Some(p) = a.get("AssignPublicIp").and_then(Value::as_str) {
            v["assignPublicIp"] = json!(p);
        }
        json!({ "awsvpcConfiguration": v })
    });
    let mut hooks = Vec::new();
    let hook_entries: Vec<(String, Value)> = match doc.get("Hooks") {
        Some(Value::Array(list)) => {
            list.iter().filter_map(Value::as_object).flat_map(|m| m.clone().into_iter()).collect()
        }
        Some(Value::Object(m)) => m.clone().into_iter().collect(),
        _ => Vec::new(),
    };
    for (event, function) in hook_entries {
        if let Some(f) = function.as_str() {
            hooks.push((event, f.to_owned()));
        }
    }
    Ok(AppSpec {
        task_definition: task_definition.to_owned(),
        container_name: container_name.to_owned(),
        container_port,
        platform_version: props.get("PlatformVersion").and_then(Value::as_str).map(str::to_owned),
        network_configuration,
        hooks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_parse_alike() {
        let yaml = "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"arn:x:task-definition/web:2\"\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 8080\nHooks:\n  - BeforeInstall: fnA\n";
        let json = r#"{"version":0.0,"Resources":[{"TargetService":{"Type":"AWS::ECS::Service","Properties":{"TaskDefinition":"arn:x:task-definition/web:2","LoadBalancerInfo":{"ContainerName":"web","ContainerPort":8080}}}}],"Hooks":[{"BeforeInstall":"fnA"}]}"#;
        let a = parse(yaml).expect("yaml");
        assert_eq!(a, parse(json).expect("json"));
        assert_eq!(a.container_port, 8080);
        assert_eq!(a.hooks, vec![("BeforeInstall".to_owned(), "fnA".to_owned())]);
        assert!(parse("version: 1.0\nResources: []").is_err());
    }
}

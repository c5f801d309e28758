//! The CodeDeploy AppSpec for an ECS blue/green release (REFERENCE 3.2), rendered as JSON (which
//! CodeDeploy accepts as AppSpecContent) with its sha256.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, Default)]
pub struct AppSpecInput {
    /// Full task definition ARN (required by CodeDeploy).
    pub task_definition_arn: String,
    pub container_name: String,
    pub container_port: i32,
    pub platform_version: Option<String>,
    pub network: Option<Awsvpc>,
    pub capacity_providers: Vec<CapacityProvider>,
    /// (lifecycle event, Lambda function name), e.g. ("BeforeAllowTraffic", "fnCheck").
    pub hooks: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Awsvpc {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CapacityProvider {
    pub name: String,
    pub base: i32,
    pub weight: i32,
}

/// The AppSpec text and its hex sha256, as CreateDeployment's appSpecContent wants them.
pub fn render(input: &AppSpecInput) -> (String, String) {
    let mut properties = json!({
        "TaskDefinition": input.task_definition_arn,
        "LoadBalancerInfo": { "ContainerName": input.container_name, "ContainerPort": input.container_port },
    });
    if let Some(pv) = &input.platform_version {
        properties["PlatformVersion"] = json!(pv);
    }
    if let Some(net) = &input.network {
        // All-or-nothing in AppSpec: subnets, security groups and the public IP setting together.
        properties["NetworkConfiguration"] = json!({ "AwsvpcConfiguration": {
            "Subnets": net.subnets,
            "SecurityGroups": net.security_groups,
            "AssignPublicIp": net.assign_public_ip.clone().unwrap_or_else(|| "DISABLED".into()),
        }});
    }
    if !input.capacity_providers.is_empty() {
        let items: Vec<Value> = input
            .capacity_providers
            .iter()
            .map(|c| json!({ "Base": c.base, "CapacityProvider": c.name, "Weight": c.weight }))
            .collect();
        properties["CapacityProviderStrategy"] = json!(items);
    }
    let mut spec = json!({
        "version": 0.0,
        "Resources": [ { "TargetService": { "Type": "AWS::ECS::Service", "Properties": properties } } ],
    });
    if !input.hooks.is_empty() {
        let hooks: Vec<Value> = input.hooks.iter().map(|(event, lambda)| json!({ event: lambda })).collect();
        spec["Hooks"] = json!(hooks);
    }
    let text = serde_json::to_string_pretty(&spec).unwrap_or_default();
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    (text, sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appspec_carries_the_network_and_capacity_of_the_service() {
        let (text, sha) = render(&AppSpecInput {
            task_definition_arn: "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:42".into(),
            container_name: "web".into(),
            container_port: 8080,
            platform_version: Some("LATEST".into()),
            network: Some(Awsvpc {
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
                security_groups: vec!["sg-1".into()],
                assign_public_ip: None,
            }),
            capacity_providers: vec![CapacityProvider { name: "FARGATE_SPOT".into(), base: 1, weight: 2 }],
            hooks: vec![("BeforeAllowTraffic".into(), "fnSmoke".into())],
        });
        assert_eq!(sha.len(), 64);
        insta::assert_snapshot!(text);
    }
}

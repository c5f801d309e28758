//! Ready-made worlds, so a blue/green release can be tried with one command and no AWS account:
//! `pipeline-sandbox --scenario hello` creates them through the emulated APIs themselves.

use serde_json::{Value, json};

use crate::protocol::query::Params;
use crate::{AwsError, AwsResult, Ctx, World, codedeploy, ecs, elbv2};

pub const NAMES: &[&str] = &["hello", "hello-rolling"];

/// Creates the named scenario in `world`; returns a one-line description of what exists.
pub fn seed(world: &mut World, ctx: &Ctx, name: &str) -> AwsResult<String> {
    match name {
        "hello" => hello(world, ctx, true),
        "hello-rolling" => hello(world, ctx, false),
        other => {
            Err(AwsError::client("UnknownScenario", format!("no scenario `{other}`; known: {}", NAMES.join(", "))))
        }
    }
}

/// The `examples/hello` demo: cluster `demo`, an ALB `hello` with a production listener (port 80,
/// blue) and a test listener (port 8080, green), service `hello` (2 tasks, CODE_DEPLOY controller)
/// on `hello:1` running the local image `pipeline-demo/hello:initial`, and the CodeDeploy
/// application `hello` with deployment group `hello-demo` rolling back on alarms and failures.
/// `hello-rolling` is the same service with the ECS controller (rolling, circuit breaker with rollback).
fn hello(w: &mut World, ctx: &Ctx, blue_green: bool) -> AwsResult<String> {
    ecs::handle(w, ctx, "CreateCluster", &json!({ "clusterName": "demo" }))?;
    query(
        w,
        ctx,
        "CreateLoadBalancer",
        &[("Name", "hello"), ("Subnets.member.1", "subnet-a"), ("Subnets.member.2", "subnet-b")],
    )?;
    let lb = w.elbv2.load_balancer_by_name("hello").map(|l| l.arn.clone()).ok_or_else(|| missing("load balancer"))?;
    let mut groups = Vec::new();
    for name in ["hello-blue", "hello-green"] {
        query(
            w,
            ctx,
            "CreateTargetGroup",
            &[("Name", name), ("Protocol", "HTTP"), ("Port", "8080"), ("VpcId", "vpc-sandbox"), ("TargetType", "ip")],
        )?;
        groups.push(w.elbv2.target_group_by_name(name).map(|t| t.arn.clone()).ok_or_else(|| missing("target group"))?);
    }
    let mut listeners = Vec::new();
    for (port, group) in [("80", &groups[0]), ("8080", &groups[1])] {
        query(
            w,
            ctx,
            "CreateListener",
            &[
                ("LoadBalancerArn", lb.as_str()),
                ("Protocol", "HTTP"),
                ("Port", port),
                ("DefaultActions.member.1.Type", "forward"),
                ("DefaultActions.member.1.TargetGroupArn", group.as_str()),
            ],
        )?;
        let arn = w.elbv2.listeners.last().map(|l| l.arn.clone()).ok_or_else(|| missing("listener"))?;
        listeners.push(arn);
    }
    let td = ecs::handle(
        w,
        ctx,
        "RegisterTaskDefinition",
        &json!({
            "family": "hello",
            "containerDefinitions": [{
                "name": "hello",
                "image": "pipeline-demo/hello:initial",
                "essential": true,
                "portMappings": [{ "containerPort": 8080 }],
                "environment": [{ "name": "HELLO_VERSION", "value": "initial" }],
            }],
        }),
    )?;
    let td_arn =
        td.pointer("/taskDefinition/taskDefinitionArn").and_then(Value::as_str).unwrap_or("hello:1").to_owned();
    let mut service = json!({
        "cluster": "demo",
        "serviceName": "hello",
        "taskDefinition": td_arn,
        "desiredCount": 2,
        "deploymentController": { "type": if blue_green { "CODE_DEPLOY" } else { "ECS" } },
        "loadBalancers": [{ "targetGroupArn": groups[0], "containerName": "hello", "containerPort": 8080 }],
    });
    if !blue_green {
        service["deploymentConfiguration"] =
            json!({ "deploymentCircuitBreaker": { "enable": true, "rollback": true } });
    }
    ecs::handle(w, ctx, "CreateService", &service)?;
    if !blue_green {
        return Ok(format!("scenario hello-rolling: cluster demo, service hello (ECS rolling, {td_arn}), ALB hello"));
    }
    codedeploy::handle(w, ctx, "CreateApplication", &json!({ "applicationName": "hello", "computePlatform": "ECS" }))?;
    codedeploy::handle(
        w,
        ctx,
        "CreateDeploymentGroup",
        &json!({
            "applicationName": "hello",
            "deploymentGroupName": "hello-demo",
            "serviceRoleArn": format!("arn:aws:iam::{}:role/codedeploy-ecs", ctx.account_id),
            "ecsServices": [{ "clusterName": "demo", "serviceName": "hello" }],
            "deploymentStyle": { "deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL" },
            "loadBalancerInfo": { "targetGroupPairInfoList": [{
                "targetGroups": [{ "name": "hello-blue" }, { "name": "hello-green" }],
                "prodTrafficRoute": { "listenerArns": [listeners[0]] },
                "testTrafficRoute": { "listenerArns": [listeners[1]] },
            }]},
            "blueGreenDeploymentConfiguration": {
                "deploymentReadyOption": { "actionOnTimeout": "CONTINUE_DEPLOYMENT" },
                "terminateBlueInstancesOnDeploymentSuccess": { "action": "TERMINATE", "terminationWaitTimeInMinutes": 1 },
            },
            "autoRollbackConfiguration": { "enabled": true, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] },
        }),
    )?;
    Ok(format!(
        "scenario hello: cluster demo, service hello (CODE_DEPLOY, {td_arn}), ALB hello (blue/green target groups), \
         CodeDeploy hello/hello-demo"
    ))
}

fn query(w: &mut World, ctx: &Ctx, action: &str, params: &[(&str, &str)]) -> AwsResult<String> {
    let mut all: Params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all.insert("Action".into(), action.into());
    all.insert("Version".into(), elbv2::API_VERSION.into());
    elbv2::handle(w, ctx, action, &all)
}

fn missing(what: &str) -> AwsError {
    AwsError::internal(format!("scenario: the {what} just created is not there"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_scenario_builds_a_deployable_blue_green_service() {
        let ctx = Ctx::single("000000000000", "us-east-1", "127.0.0.1:1");
        let mut world = World::default();
        let summary = seed(&mut world, &ctx, "hello").unwrap();
        assert!(summary.contains("service hello"), "{summary}");
        let services =
            ecs::handle(&mut world, &ctx, "DescribeServices", &json!({ "cluster": "demo", "services": ["hello"] }))
                .unwrap();
        assert_eq!(services.pointer("/services/0/deploymentController/type"), Some(&json!("CODE_DEPLOY")));
        let group = codedeploy::handle(
            &mut world,
            &ctx,
            "GetDeploymentGroup",
            &json!({ "applicationName": "hello", "deploymentGroupName": "hello-demo" }),
        )
        .unwrap();
        assert_eq!(
            group.pointer("/deploymentGroupInfo/loadBalancerInfo/targetGroupPairInfoList/0/targetGroups/1/name"),
            Some(&json!("hello-green"))
        );
        // Both target groups sit behind a listener, so both have alarm dimensions.
        for name in ["hello-blue", "hello-green"] {
            let tg = world.elbv2.target_group_by_name(name).unwrap().arn.clone();
            assert!(!world.elbv2.load_balancers_of_target_group(&tg).is_empty(), "{name}");
        }
        assert!(seed(&mut world, &ctx, "nope").is_err());
    }
}

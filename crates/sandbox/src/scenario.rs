//! Ready-made worlds, so a blue/green release can be tried with one command and no AWS account:
//! `pipeline-sandbox --scenario hello` creates them through the emulated APIs themselves.

use serde_json::{Value, json};

use crate::protocol::query::Params;
use crate::{AwsError, AwsResult, Ctx, World, codedeploy, ecs, elbv2};

pub const NAMES: &[&str] =
    &["hello", "hello-verify", "hello-rolling", "hello-ecs", "hello-ecs-linear", "hello-ecs-canary"];

/// Creates the named scenario in `world`; returns a one-line description of what exists.
pub fn seed(world: &mut World, ctx: &Ctx, name: &str) -> AwsResult<String> {
    match name {
        "hello" => hello(world, ctx, true, false),
        "hello-verify" => hello(world, ctx, true, true),
        "hello-rolling" => hello(world, ctx, false, false),
        "hello-ecs" => hello_ecs(world, ctx, "BLUE_GREEN"),
        "hello-ecs-linear" => hello_ecs(world, ctx, "LINEAR"),
        "hello-ecs-canary" => hello_ecs(world, ctx, "CANARY"),
        other => {
            Err(AwsError::client("UnknownScenario", format!("no scenario `{other}`; known: {}", NAMES.join(", "))))
        }
    }
}

/// The `examples/hello` demo: cluster `demo`, an ALB `hello` with a production listener (port 80,
/// blue) and a test listener (port 8080, green), service `hello` (2 tasks, CODE_DEPLOY controller)
/// on `hello:1` running the local image `pipeline-demo/hello:initial`, and the CodeDeploy
/// application `hello` with deployment group `hello-demo` rolling back on alarms and failures.
/// `hello-verify` is `hello` whose deployment group waits for the reroute (`deploymentReadyOption` STOP_DEPLOYMENT,
/// 60 minutes) with the replacement on the test listener, so `verify:` checks run before production traffic moves.
/// `hello-rolling` is the same service with the ECS controller (rolling, circuit breaker with rollback).
fn hello(w: &mut World, ctx: &Ctx, blue_green: bool, waits: bool) -> AwsResult<String> {
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
                "deploymentReadyOption": if waits {
                    json!({ "actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60 })
                } else {
                    json!({ "actionOnTimeout": "CONTINUE_DEPLOYMENT" })
                },
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

/// `hello-ecs` (and `-linear`, `-canary`): the `hello` service with ECS-native blue/green (REFERENCE 2.6).
/// Cluster `demo`, ALB `hello` with target groups `hello-blue` and `hello-green`, a production listener (port 80)
/// whose rule forwards 100/0 to blue/green and a test listener (port 8080) whose rule does the same; service
/// `hello` (2 tasks, ECS controller, the given strategy, bake time 2 minutes) with `advancedConfiguration`
/// naming the alternate target group and both rules.
fn hello_ecs(w: &mut World, ctx: &Ctx, strategy: &str) -> AwsResult<String> {
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
    let mut rules = Vec::new();
    for port in ["80", "8080"] {
        query(
            w,
            ctx,
            "CreateListener",
            &[
                ("LoadBalancerArn", lb.as_str()),
                ("Protocol", "HTTP"),
                ("Port", port),
                ("DefaultActions.member.1.Type", "fixed-response"),
            ],
        )?;
        let listener = w.elbv2.listeners.last().map(|l| l.arn.clone()).ok_or_else(|| missing("listener"))?;
        query(
            w,
            ctx,
            "CreateRule",
            &[
                ("ListenerArn", listener.as_str()),
                ("Priority", "1"),
                ("Conditions.member.1.Field", "path-pattern"),
                ("Conditions.member.1.Values.member.1", "/*"),
                ("Actions.member.1.Type", "forward"),
                ("Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn", groups[0].as_str()),
                ("Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight", "100"),
                ("Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn", groups[1].as_str()),
                ("Actions.member.1.ForwardConfig.TargetGroups.member.2.Weight", "0"),
            ],
        )?;
        rules.push(w.elbv2.rules.last().map(|r| r.arn.clone()).ok_or_else(|| missing("listener rule"))?);
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
    ecs::handle(
        w,
        ctx,
        "CreateService",
        &json!({
            "cluster": "demo",
            "serviceName": "hello",
            "taskDefinition": td_arn,
            "desiredCount": 2,
            "deploymentController": { "type": "ECS" },
            "deploymentConfiguration": {
                "strategy": strategy,
                "bakeTimeInMinutes": 2,
                "linearConfiguration": { "stepPercent": 25.0, "stepBakeTimeInMinutes": 1 },
                "canaryConfiguration": { "canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2 },
            },
            "loadBalancers": [{
                "targetGroupArn": groups[0],
                "containerName": "hello",
                "containerPort": 8080,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": groups[1],
                    "productionListenerRule": rules[0],
                    "testListenerRule": rules[1],
                    "roleArn": format!("arn:aws:iam::{}:role/ecs-infrastructure", ctx.account_id),
                },
            }],
        }),
    )?;
    Ok(format!(
        "scenario hello-ecs: cluster demo, service hello (ECS {strategy}, {td_arn}), ALB hello (production rule on \
         port 80, test rule on port 8080, target groups hello-blue/hello-green)"
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
        assert_eq!(
            group
                .pointer("/deploymentGroupInfo/blueGreenDeploymentConfiguration/deploymentReadyOption/actionOnTimeout"),
            Some(&json!("CONTINUE_DEPLOYMENT"))
        );
        let mut world = World::default();
        seed(&mut world, &ctx, "hello-verify").unwrap();
        let group = codedeploy::handle(
            &mut world,
            &ctx,
            "GetDeploymentGroup",
            &json!({ "applicationName": "hello", "deploymentGroupName": "hello-demo" }),
        )
        .unwrap();
        let ready = group.pointer("/deploymentGroupInfo/blueGreenDeploymentConfiguration/deploymentReadyOption");
        assert_eq!(ready, Some(&json!({ "actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60 })));
    }

    #[test]
    fn the_hello_ecs_scenario_wires_both_rules_to_both_target_groups() {
        let ctx = Ctx::single("000000000000", "us-east-1", "127.0.0.1:1");
        let mut world = World::default();
        seed(&mut world, &ctx, "hello-ecs-linear").unwrap();
        let services =
            ecs::handle(&mut world, &ctx, "DescribeServices", &json!({ "cluster": "demo", "services": ["hello"] }))
                .unwrap();
        assert_eq!(services.pointer("/services/0/deploymentConfiguration/strategy"), Some(&json!("LINEAR")));
        let adv = services.pointer("/services/0/loadBalancers/0/advancedConfiguration").unwrap();
        for key in ["productionListenerRule", "testListenerRule"] {
            let rule = adv[key].as_str().unwrap();
            let weights = world.elbv2.forward_weights(rule).unwrap();
            assert_eq!(weights.iter().map(|(_, w)| *w).collect::<Vec<_>>(), vec![100, 0], "{key}");
        }
    }
}

//! ECS-native blue/green, linear and canary against the real Rust SDK (aws-sdk-ecs 1.157, REFERENCE 2.6, 2.7,
//! A7; https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html,
//! .../linear-deployment-implementation.html, .../pause-lifecycle-hooks.html,
//! https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContinueServiceDeployment.html,
//! .../API_StopServiceDeployment.html) and ELBv2 listener rules (CreateRule, DescribeRules, ModifyRule,
//! DeleteRule: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html).

mod common;

use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AdvancedConfiguration, CanaryConfiguration, ContainerDefinition, DeploymentAlarms, DeploymentConfiguration,
    DeploymentLifecycleHook, DeploymentLifecycleHookAction, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentLifecycleHookTimeoutConfiguration, DeploymentStrategy,
    LinearConfiguration, LoadBalancer, PortMapping, ServiceDeployment, StopServiceDeploymentStopType,
};
use aws_sdk_elasticloadbalancingv2 as elbv2;
use elbv2::types::{Action, ActionTypeEnum, ForwardActionConfig, RuleCondition, TargetGroupTuple};

struct Wiring {
    blue: String,
    green: String,
    production: String,
    test: String,
}

fn forward(blue: &str, green: &str, blue_weight: i32) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(TargetGroupTuple::builder().target_group_arn(blue).weight(blue_weight).build())
                .target_groups(TargetGroupTuple::builder().target_group_arn(green).weight(100 - blue_weight).build())
                .build(),
        )
        .build()
}

/// An ALB with blue and green target groups and a production and a test listener, each with a rule forwarding
/// 100/0 to blue/green (both target groups in both rules, as ECS requires).
async fn wiring(elb: &elbv2::Client) -> Wiring {
    let lb = elb.create_load_balancer().name("web").subnets("subnet-a").send().await.expect("CreateLoadBalancer");
    let lb = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let mut tgs = Vec::new();
    for name in ["web-blue", "web-green"] {
        let tg = elb
            .create_target_group()
            .name(name)
            .protocol(elbv2::types::ProtocolEnum::Http)
            .port(8080)
            .vpc_id("vpc-1")
            .target_type(elbv2::types::TargetTypeEnum::Ip)
            .send()
            .await
            .expect("CreateTargetGroup");
        tgs.push(tg.target_groups()[0].target_group_arn().unwrap().to_owned());
    }
    let mut rules = Vec::new();
    for port in [80, 8080] {
        let l = elb
            .create_listener()
            .load_balancer_arn(&lb)
            .port(port)
            .protocol(elbv2::types::ProtocolEnum::Http)
            .default_actions(Action::builder().r#type(ActionTypeEnum::FixedResponse).build())
            .send()
            .await
            .expect("CreateListener");
        let listener = l.listeners()[0].listener_arn().unwrap().to_owned();
        let r = elb
            .create_rule()
            .listener_arn(&listener)
            .priority(1)
            .conditions(RuleCondition::builder().field("path-pattern").values("/*").build())
            .actions(forward(&tgs[0], &tgs[1], 100))
            .send()
            .await
            .expect("CreateRule");
        rules.push(r.rules()[0].rule_arn().unwrap().to_owned());
    }
    Wiring { blue: tgs[0].clone(), green: tgs[1].clone(), production: rules[0].clone(), test: rules[1].clone() }
}

/// (blue weight, green weight) of a rule, read back through DescribeRules.
async fn weights(elb: &elbv2::Client, w: &Wiring, rule: &str) -> (i32, i32) {
    let out = elb.describe_rules().rule_arns(rule).send().await.expect("DescribeRules");
    let tuples = out.rules()[0].actions()[0].forward_config().unwrap().target_groups();
    let of = |tg: &str| tuples.iter().find(|t| t.target_group_arn() == Some(tg)).and_then(|t| t.weight()).unwrap();
    (of(&w.blue), of(&w.green))
}

async fn register(ecs: &Client, version: &str) -> String {
    let out = ecs
        .register_task_definition()
        .family("web")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("127.0.0.1:5000/web:1")
                .environment(aws_sdk_ecs::types::KeyValuePair::builder().name("V").value(version).build())
                .port_mappings(PortMapping::builder().container_port(8080).build())
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    out.task_definition().unwrap().task_definition_arn().unwrap().to_owned()
}

fn pause_hook() -> DeploymentLifecycleHook {
    DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
        .timeout_configuration(DeploymentLifecycleHookTimeoutConfiguration::builder().timeout_in_minutes(60).build())
        .build()
}

fn lambda_hook(stage: DeploymentLifecycleHookStage) -> DeploymentLifecycleHook {
    DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::AwsLambda)
        .hook_target_arn("arn:aws:lambda:us-east-1:000000000000:function:smoke")
        .role_arn("arn:aws:iam::000000000000:role/ecs-hooks")
        .lifecycle_stages(stage)
        .build()
}

async fn create(ecs: &Client, w: &Wiring, td: &str, config: DeploymentConfiguration) {
    ecs.create_service()
        .service_name("web")
        .task_definition(td)
        .desired_count(2)
        .deployment_configuration(config)
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(&w.blue)
                .container_name("web")
                .container_port(8080)
                .advanced_configuration(
                    AdvancedConfiguration::builder()
                        .alternate_target_group_arn(&w.green)
                        .production_listener_rule(&w.production)
                        .test_listener_rule(&w.test)
                        .role_arn("arn:aws:iam::000000000000:role/ecs-infrastructure")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("CreateService");
    // The first deployment has nothing to shift from: it simply reaches steady state.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = ecs.describe_services().services("web").send().await.expect("DescribeServices");
        let s = &s.services()[0];
        if s.deployments().len() == 1 && s.running_count() == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "service never settled: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn deployment(ecs: &Client, arn: &str) -> ServiceDeployment {
    let out = ecs.describe_service_deployments().service_deployment_arns(arn).send().await.expect("Describe");
    out.service_deployments()[0].clone()
}

/// Polls the service deployment until `done`, failing after 20 real seconds with the last state.
async fn until(ecs: &Client, arn: &str, what: &str, done: impl Fn(&ServiceDeployment) -> bool) -> ServiceDeployment {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = deployment(ecs, arn).await;
        if done(&d) {
            return d;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {d:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn status(d: &ServiceDeployment) -> &str {
    d.status().map(|s| s.as_str()).unwrap_or_default()
}

fn stage(d: &ServiceDeployment) -> &str {
    d.lifecycle_stage().map(|s| s.as_str()).unwrap_or_default()
}

fn awaiting(d: &ServiceDeployment) -> Option<String> {
    d.lifecycle_hook_details()
        .iter()
        .find(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
        .and_then(|h| h.hook_id())
        .map(str::to_owned)
}

async fn update(ecs: &Client, td: &str) -> String {
    let out = ecs.update_service().service("web").task_definition(td).send().await.expect("UpdateService");
    out.service().unwrap().current_service_deployment().unwrap().to_owned()
}

async fn service_td(ecs: &Client) -> (String, usize) {
    let s = ecs.describe_services().services("web").send().await.expect("DescribeServices");
    let s = &s.services()[0];
    (s.task_definition().unwrap().to_owned(), s.deployments().len())
}

/// REFERENCE 2.6/2.7/A7: BLUE_GREEN walks its stages; at POST_TEST_TRAFFIC_SHIFT a PAUSE hook waits
/// (AWAITING_ACTION, expiresAt) with test traffic on green and production still on blue; ContinueServiceDeployment
/// CONTINUE releases it; production flips to green; the deployment ends SUCCESSFUL with blue gone. A Lambda hook
/// at POST_SCALE_UP is called with the payload ECS documents.
#[tokio::test]
async fn blue_green_pauses_at_post_test_traffic_shift_until_continued() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let (ecs, elb) = (sb.ecs(), sb.elbv2());
    let w = wiring(&elb).await;
    let (v1, v2) = (register(&ecs, "1").await, register(&ecs, "2").await);
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(1)
        .lifecycle_hooks(pause_hook())
        .lifecycle_hooks(lambda_hook(DeploymentLifecycleHookStage::PostScaleUp))
        .build();
    create(&ecs, &w, &v1, config).await;
    let arn = update(&ecs, &v2).await;

    let paused = until(&ecs, &arn, "the PAUSE hook", |d| awaiting(d).is_some()).await;
    assert_eq!(stage(&paused), "POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(status(&paused), "IN_PROGRESS");
    let hook = paused
        .lifecycle_hook_details()
        .iter()
        .find(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
        .unwrap();
    assert_eq!(hook.target_type().map(|t| t.as_str()), Some("PAUSE"));
    assert!(hook.hook_id().unwrap().starts_with("ecs-pause-"), "{hook:?}");
    assert!(hook.expires_at().is_some() && hook.target_arn().is_none(), "{hook:?}");
    assert_eq!(hook.timeout_action().map(|a| a.as_str()), Some("ROLLBACK"));
    let target = paused.target_service_revision().unwrap();
    assert_eq!(
        (target.requested_test_traffic_weight(), target.requested_production_traffic_weight()),
        (Some(100.0), Some(0.0))
    );
    assert_eq!(target.running_task_count(), 2, "green is scaled up before any traffic");
    assert_eq!(weights(&elb, &w, &w.test).await, (0, 100), "test traffic is on green");
    assert_eq!(weights(&elb, &w, &w.production).await, (100, 0), "production is still on blue");
    // The Lambda hook at POST_SCALE_UP was called (and answered SUCCEEDED by default).
    let hooks = sb.get_json("/_sandbox/ecs/hooks").await;
    let calls = hooks["invocations"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{hooks}");
    assert_eq!(calls[0]["lifecycleStage"], "POST_SCALE_UP");
    assert_eq!(calls[0]["hookTargetArn"], "arn:aws:lambda:us-east-1:000000000000:function:smoke");
    assert_eq!(calls[0]["targetServiceRevisionArn"], target.arn().unwrap());

    let id = hook.hook_id().unwrap().to_owned();
    let wrong = ecs.continue_service_deployment().service_deployment_arn(&arn).hook_id("ecs-pause-nope").send().await;
    let wrong = wrong.expect_err("an unknown hook id is refused");
    assert!(wrong.as_service_error().is_some_and(|e| e.is_invalid_parameter_exception()), "{wrong:?}");
    ecs.continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(&id)
        .action(DeploymentLifecycleHookAction::Continue)
        .send()
        .await
        .expect("ContinueServiceDeployment");
    let done = until(&ecs, &arn, "SUCCESSFUL", |d| status(d) == "SUCCESSFUL").await;
    assert_eq!(stage(&done), "CLEAN_UP");
    assert_eq!(done.target_service_revision().unwrap().requested_production_traffic_weight(), Some(100.0));
    assert!(
        done.lifecycle_hook_details().iter().all(|h| h.status().map(|s| s.as_str()) == Some("SUCCEEDED")),
        "{done:?}"
    );
    assert_eq!(weights(&elb, &w, &w.production).await, (0, 100), "production is on green");
    assert_eq!(service_td(&ecs).await, (v2.clone(), 1), "green alone runs");
    // The hook is no longer awaiting: a second answer is refused.
    let again = ecs.continue_service_deployment().service_deployment_arn(&arn).hook_id(&id).send().await;
    assert!(again.is_err(), "{again:?}");

    // The next release goes the other way: blue's target group is the alternate now.
    let v3 = register(&ecs, "3").await;
    let arn3 = update(&ecs, &v3).await;
    let paused = until(&ecs, &arn3, "the second PAUSE", |d| awaiting(d).is_some()).await;
    assert_eq!(weights(&elb, &w, &w.test).await, (100, 0), "test traffic on the blue target group, now green");
    ecs.continue_service_deployment()
        .service_deployment_arn(&arn3)
        .hook_id(awaiting(&paused).unwrap())
        .send()
        .await
        .expect("Continue");
    until(&ecs, &arn3, "SUCCESSFUL", |d| status(d) == "SUCCESSFUL").await;
    assert_eq!(weights(&elb, &w, &w.production).await, (100, 0));
    assert_eq!(service_td(&ecs).await, (v3, 1));
}

/// REFERENCE 2.6: LINEAR moves production traffic in stepPercent steps (weights seen in DescribeRules at each
/// step), then bakes and succeeds.
#[tokio::test]
async fn linear_shifts_in_steps() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let (ecs, elb) = (sb.ecs(), sb.elbv2());
    let w = wiring(&elb).await;
    let (v1, v2) = (register(&ecs, "1").await, register(&ecs, "2").await);
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Linear)
        .bake_time_in_minutes(1)
        .linear_configuration(LinearConfiguration::builder().step_percent(25.0).step_bake_time_in_minutes(2).build())
        .build();
    create(&ecs, &w, &v1, config).await;
    let arn = update(&ecs, &v2).await;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let green = weights(&elb, &w, &w.production).await.1;
        if seen.last() != Some(&green) {
            seen.push(green);
        }
        if status(&deployment(&ecs, &arn).await) == "SUCCESSFUL" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no end; saw {seen:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen, vec![0, 25, 50, 75, 100], "each step shows in the rule");
    assert_eq!(service_td(&ecs).await, (v2, 1));
}

/// REFERENCE 2.6: an alarm during the bake rolls back as an instant traffic flip; green scales in and the
/// deployment ends ROLLBACK_SUCCESSFUL naming the alarm and the revision it returned to.
#[tokio::test]
async fn canary_alarm_during_the_bake_flips_traffic_back() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let (ecs, elb, cw) = (sb.ecs(), sb.elbv2(), sb.cloudwatch());
    cw.put_metric_alarm()
        .alarm_name("web-5xx")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");
    let w = wiring(&elb).await;
    let (v1, v2) = (register(&ecs, "1").await, register(&ecs, "2").await);
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .bake_time_in_minutes(60)
        .canary_configuration(
            CanaryConfiguration::builder().canary_percent(10.0).canary_bake_time_in_minutes(1).build(),
        )
        .alarms(DeploymentAlarms::builder().alarm_names("web-5xx").enable(true).rollback(true).build().unwrap())
        .build();
    create(&ecs, &w, &v1, config).await;
    let arn = update(&ecs, &v2).await;
    let canary = until(&ecs, &arn, "the canary step", |d| {
        d.target_service_revision().and_then(|t| t.requested_production_traffic_weight()) == Some(10.0)
    })
    .await;
    assert_eq!(stage(&canary), "PRODUCTION_TRAFFIC_SHIFT");
    until(&ecs, &arn, "the bake", |d| stage(d) == "BAKE_TIME").await;
    assert_eq!(weights(&elb, &w, &w.production).await, (0, 100));
    cw.set_alarm_state()
        .alarm_name("web-5xx")
        .state_value(StateValue::Alarm)
        .state_reason("5xx")
        .send()
        .await
        .expect("SetAlarmState");
    let flipped = until(&ecs, &arn, "the rollback", |d| status(d).starts_with("ROLLBACK_")).await;
    // The flip is instant: the rules are back on blue while green may still be scaling in.
    assert_eq!(weights(&elb, &w, &w.production).await, (100, 0), "{flipped:?}");
    assert_eq!(weights(&elb, &w, &w.test).await, (100, 0));
    let done = until(&ecs, &arn, "ROLLBACK_SUCCESSFUL", |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    assert_eq!(done.alarms().unwrap().triggered_alarm_names(), ["web-5xx"]);
    let rollback = done.rollback().expect("rollback");
    assert!(rollback.reason().unwrap_or_default().contains("web-5xx"), "{rollback:?}");
    assert_eq!(rollback.service_revision_arn(), done.source_service_revisions()[0].arn());
    assert_eq!(service_td(&ecs).await, (v1, 1), "blue alone runs again");
}

/// REFERENCE A7: StopServiceDeployment ROLLBACK while a PAUSE hook waits flips the test traffic back; a Lambda
/// stub answering FAILED rolls back too, and the hook shows FAILED.
#[tokio::test]
async fn stop_during_the_pause_and_a_failed_lambda_hook_roll_back() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let (ecs, elb) = (sb.ecs(), sb.elbv2());
    let w = wiring(&elb).await;
    let (v1, v2, v3) = (register(&ecs, "1").await, register(&ecs, "2").await, register(&ecs, "3").await);
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(1)
        .lifecycle_hooks(pause_hook())
        .build();
    create(&ecs, &w, &v1, config).await;
    let arn = update(&ecs, &v2).await;
    until(&ecs, &arn, "the PAUSE hook", |d| awaiting(d).is_some()).await;
    assert_eq!(weights(&elb, &w, &w.test).await, (0, 100));
    ecs.stop_service_deployment()
        .service_deployment_arn(&arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .expect("StopServiceDeployment");
    assert_eq!(weights(&elb, &w, &w.test).await, (100, 0), "the flip back is immediate");
    let done = until(&ecs, &arn, "ROLLBACK_SUCCESSFUL", |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    assert_eq!(done.lifecycle_hook_details()[0].status().map(|s| s.as_str()), Some("FAILED"));
    assert_eq!(service_td(&ecs).await, (v1.clone(), 1));
    let conflict = ecs.stop_service_deployment().service_deployment_arn(&arn).send().await.expect_err("not in flight");
    assert!(conflict.as_service_error().is_some_and(|e| e.is_conflict_exception()), "{conflict:?}");

    // A Lambda hook whose stub answers FAILED.
    let hooks = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(1)
        .lifecycle_hooks(lambda_hook(DeploymentLifecycleHookStage::PostScaleUp))
        .build();
    ecs.update_service().service("web").deployment_configuration(hooks).send().await.expect("UpdateService");
    assert_eq!(sb.control("/_sandbox/ecs/hooks", r#"{"hookStatus": "FAILED", "count": 1}"#).await, 204);
    let arn = update(&ecs, &v3).await;
    let done = until(&ecs, &arn, "ROLLBACK_SUCCESSFUL", |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    let hook = &done.lifecycle_hook_details()[0];
    assert_eq!(
        (hook.status().map(|s| s.as_str()), hook.target_type().map(|t| t.as_str())),
        (Some("FAILED"), Some("AWS_LAMBDA"))
    );
    assert!(done.status_reason().unwrap_or_default().contains("failed at POST_SCALE_UP"), "{done:?}");
    assert_eq!(weights(&elb, &w, &w.production).await, (100, 0), "production never moved");
    assert_eq!(service_td(&ecs).await, (v1, 1));
}

/// REFERENCE 2.6: PAUSE hooks are refused at TEST_TRAFFIC_SHIFT / PRODUCTION_TRAFFIC_SHIFT; a linear step below
/// 3% is refused; a production rule that lacks the alternate target group rolls the deployment back with ECS's
/// message.
#[tokio::test]
async fn invalid_settings_and_wiring() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let (ecs, elb) = (sb.ecs(), sb.elbv2());
    let w = wiring(&elb).await;
    let (v1, v2) = (register(&ecs, "1").await, register(&ecs, "2").await);
    create(&ecs, &w, &v1, DeploymentConfiguration::builder().strategy(DeploymentStrategy::BlueGreen).build()).await;
    let bad_hook = DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .lifecycle_stages(DeploymentLifecycleHookStage::ProductionTrafficShift)
        .build();
    let e = ecs
        .update_service()
        .service("web")
        .deployment_configuration(DeploymentConfiguration::builder().lifecycle_hooks(bad_hook).build())
        .send()
        .await
        .expect_err("PAUSE at PRODUCTION_TRAFFIC_SHIFT");
    assert!(e.as_service_error().is_some_and(|e| e.is_invalid_parameter_exception()), "{e:?}");
    let e = ecs
        .update_service()
        .service("web")
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .strategy(DeploymentStrategy::Linear)
                .linear_configuration(LinearConfiguration::builder().step_percent(1.0).build())
                .build(),
        )
        .send()
        .await
        .expect_err("a 1% step");
    assert!(e.as_service_error().is_some_and(|e| e.is_invalid_parameter_exception()), "{e:?}");

    // The production rule forwards to blue only.
    let only_blue = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(TargetGroupTuple::builder().target_group_arn(&w.blue).weight(1).build())
                .build(),
        )
        .build();
    elb.modify_rule().rule_arn(&w.production).actions(only_blue).send().await.expect("ModifyRule");
    let arn = update(&ecs, &v2).await;
    let done = until(&ecs, &arn, "the rollback", |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    assert!(done.status_reason().unwrap_or_default().contains("Both targetGroup and alternateTargetGroup"), "{done:?}");
    assert_eq!(service_td(&ecs).await, (v1, 1));
}

/// ELBv2 listener rules: CreateRule, DescribeRules (the listener's rules by priority, then the default rule),
/// ModifyRule, DeleteRule; a taken priority is PriorityInUse; a target group in a rule is in use.
#[tokio::test]
async fn listener_rules_round_trip() {
    let sb = common::TestSandbox::start().await;
    let elb = sb.elbv2();
    let w = wiring(&elb).await;
    let rule = elb.describe_rules().rule_arns(&w.production).send().await.expect("DescribeRules");
    let r = &rule.rules()[0];
    assert_eq!((r.priority(), r.is_default()), (Some("1"), Some(false)));
    assert_eq!(r.conditions()[0].field(), Some("path-pattern"));
    assert_eq!(r.conditions()[0].values(), ["/*"]);
    assert_eq!(r.conditions()[0].path_pattern_config().unwrap().values(), ["/*"]);
    let listener = w.production.replacen(":listener-rule/", ":listener/", 1);
    let listener = listener.rsplit_once('/').unwrap().0.to_owned();
    let all = elb.describe_rules().listener_arn(&listener).send().await.expect("DescribeRules by listener");
    assert_eq!(all.rules().len(), 2);
    assert_eq!((all.rules()[1].priority(), all.rules()[1].is_default()), (Some("default"), Some(true)));
    let taken = elb
        .create_rule()
        .listener_arn(&listener)
        .priority(1)
        .conditions(RuleCondition::builder().field("path-pattern").values("/x").build())
        .actions(forward(&w.blue, &w.green, 50))
        .send()
        .await
        .expect_err("priority 1 is taken");
    assert_eq!(taken.as_service_error().and_then(|e| e.meta().code()), Some("PriorityInUse"));
    elb.modify_rule().rule_arn(&w.production).actions(forward(&w.blue, &w.green, 30)).send().await.expect("ModifyRule");
    assert_eq!(weights(&elb, &w, &w.production).await, (30, 70));
    let in_use = elb.delete_target_group().target_group_arn(&w.green).send().await.expect_err("in use by a rule");
    assert_eq!(in_use.as_service_error().and_then(|e| e.meta().code()), Some("ResourceInUse"));
    elb.delete_rule().rule_arn(&w.production).send().await.expect("DeleteRule");
    let gone = elb.describe_rules().rule_arns(&w.production).send().await.expect_err("deleted");
    assert_eq!(gone.as_service_error().and_then(|e| e.meta().code()), Some("RuleNotFound"));
}

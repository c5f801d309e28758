//! CodeDeploy blue/green for ECS against the real Rust SDK (REFERENCE section 3).

mod common;

use std::time::Duration;

use aws_sdk_codedeploy::Client as CodeDeploy;
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, DeploymentReadyAction, DeploymentReadyOption, DeploymentStatus,
    DeploymentWaitType, EcsService, RevisionLocation, RevisionLocationType, TimeBasedCanary, TrafficRoutingConfig,
    TrafficRoutingType,
};
use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentController, DeploymentControllerType, KeyValuePair, LoadBalancer, PortMapping,
};

const GUARD_ALARM: &str = "web-5xx";

struct Setup {
    sb: common::TestSandbox,
    v1: String,
}

async fn register(ecs: &aws_sdk_ecs::Client, env: &[(&str, &str)]) -> String {
    let mut c = ContainerDefinition::builder()
        .name("web")
        .image("127.0.0.1:5000/web:1")
        .port_mappings(PortMapping::builder().container_port(8080).build());
    for (k, v) in env {
        c = c.environment(KeyValuePair::builder().name(*k).value(*v).build());
    }
    let out =
        ecs.register_task_definition().family("web").container_definitions(c.build()).send().await.expect("register");
    out.task_definition().and_then(|t| t.task_definition_arn()).unwrap().to_owned()
}

/// An ECS service under CODE_DEPLOY with 2 tasks of v1, and an application + deployment group for it.
async fn setup(time_scale: f64, config: &str, ready_wait: bool) -> Setup {
    let sb = common::TestSandbox::with_time_scale(time_scale).await;
    let ecs = sb.ecs();
    let v1 = register(&ecs, &[]).await;
    ecs.create_service()
        .service_name("web")
        .task_definition(&v1)
        .desired_count(2)
        .deployment_controller(
            DeploymentController::builder().r#type(DeploymentControllerType::CodeDeploy).build().unwrap(),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web-blue/1")
                .container_name("web")
                .container_port(8080)
                .build(),
        )
        .send()
        .await
        .expect("CreateService");
    let cd = sb.codedeploy();
    cd.create_application().application_name("web").compute_platform(ComputePlatform::Ecs).send().await.expect("app");
    let ready = if ready_wait {
        DeploymentReadyOption::builder()
            .action_on_timeout(DeploymentReadyAction::StopDeployment)
            .wait_time_in_minutes(60)
            .build()
    } else {
        DeploymentReadyOption::builder().action_on_timeout(DeploymentReadyAction::ContinueDeployment).build()
    };
    common::create_blue_green_group(&cd, config, ready, GUARD_ALARM).await;
    Setup { sb, v1 }
}

fn appspec(task_definition: &str, container: &str) -> String {
    format!(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"{task_definition}\"\n        LoadBalancerInfo:\n          ContainerName: \"{container}\"\n          ContainerPort: 8080\nHooks:\n  - BeforeAllowTraffic: \"fnSmokeTest\"\n"
    )
}

async fn deploy(cd: &CodeDeploy, content: &str) -> Result<String, aws_sdk_codedeploy::Error> {
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(content).build())
        .build();
    let out = cd
        .create_deployment()
        .application_name("web")
        .deployment_group_name("web-dg")
        .revision(revision)
        .send()
        .await?;
    Ok(out.deployment_id().unwrap().to_owned())
}

async fn info(cd: &CodeDeploy, id: &str) -> aws_sdk_codedeploy::types::DeploymentInfo {
    cd.get_deployment().deployment_id(id).send().await.expect("GetDeployment").deployment_info().unwrap().clone()
}

async fn wait_status(cd: &CodeDeploy, id: &str, want: DeploymentStatus) -> aws_sdk_codedeploy::types::DeploymentInfo {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = info(cd, id).await;
        if d.status() == Some(&want) {
            return d;
        }
        assert!(std::time::Instant::now() < deadline, "deployment never reached {want:?}: {d:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn green_weight(cd: &CodeDeploy, id: &str) -> Option<f64> {
    let t = cd.get_deployment_target().deployment_id(id).target_id("default:web").send().await.ok()?;
    let sets = t.deployment_target()?.ecs_target()?.task_sets_info().to_vec();
    sets.iter().find(|s| s.task_set_label().map(|l| l.as_str()) == Some("Green")).map(|s| s.traffic_weight())
}

async fn service(sb: &common::TestSandbox) -> aws_sdk_ecs::types::Service {
    sb.ecs().describe_services().services("web").send().await.expect("DescribeServices").services()[0].clone()
}

async fn wait_service(sb: &common::TestSandbox, what: &str, done: impl Fn(&aws_sdk_ecs::types::Service) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = service(sb).await;
        if done(&s) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "service never {what}: {s:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// REFERENCE 3.2-3.5: a canary deployment runs the lifecycle events, moves 10 % then 100 % of production
/// traffic to the green task set, waits out the blue termination time and succeeds with the service on the
/// new task definition and only the green task set left.
#[tokio::test]
async fn canary_deployment_shifts_traffic_and_succeeds() {
    let s = setup(600.0, "CodeDeployDefault.ECSCanary10Percent5Minutes", false).await;
    let cd = s.sb.codedeploy();
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "web")).await.expect("CreateDeployment");
    assert!(
        id.starts_with("d-") && id.len() == 11 && id[2..].chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "{id}"
    );

    let mut weights = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(w) = green_weight(&cd, &id).await
            && weights.last() != Some(&w)
        {
            weights.push(w);
        }
        if info(&cd, &id).await.status() == Some(&DeploymentStatus::Succeeded) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no success; weights seen {weights:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(weights.contains(&10.0), "canary step seen: {weights:?}");
    assert_eq!(weights.last(), Some(&100.0));

    let d = info(&cd, &id).await;
    assert_eq!(d.creator().map(|c| c.as_str()), Some("user"));
    assert!(d.start_time().is_some() && d.complete_time().is_some());
    assert_eq!(d.deployment_config_name(), Some("CodeDeployDefault.ECSCanary10Percent5Minutes"));
    assert_eq!(d.deployment_overview().map(|o| o.succeeded()), Some(1));
    let targets = cd.list_deployment_targets().deployment_id(&id).send().await.expect("ListDeploymentTargets");
    assert_eq!(targets.target_ids(), ["default:web"]);
    let t = cd.get_deployment_target().deployment_id(&id).target_id("default:web").send().await.expect("target");
    let ecs_target = t.deployment_target().unwrap().ecs_target().unwrap().clone();
    let events: Vec<_> = ecs_target
        .lifecycle_events()
        .iter()
        .map(|e| (e.lifecycle_event_name().unwrap().to_owned(), e.status().unwrap().as_str().to_owned()))
        .collect();
    assert_eq!(events.len(), 8);
    assert!(events.iter().all(|(_, s)| s == "Succeeded"), "{events:?}");
    assert_eq!(events[1].0, "Install");

    let svc = service(&s.sb).await;
    assert_eq!(svc.task_definition(), Some(v2.as_str()));
    wait_service(&s.sb, "left with the green task set only", |svc| {
        svc.task_sets().len() == 1
            && svc.task_sets()[0].task_definition() == Some(v2.as_str())
            && svc.task_sets()[0].status() == Some("PRIMARY")
    })
    .await;
    assert_ne!(s.v1, v2);
}

/// REFERENCE 3.5, 3.7: before it starts, targets are DeploymentNotStartedException; one active deployment per
/// group, a second CreateDeployment is DeploymentLimitExceededException naming the first.
#[tokio::test]
async fn second_deployment_is_refused_naming_the_first() {
    let s = setup(1.0, "CodeDeployDefault.ECSAllAtOnce", false).await;
    let cd = s.sb.codedeploy();
    let v2 = register(&s.sb.ecs(), &[]).await;
    let first = deploy(&cd, &appspec(&v2, "web")).await.expect("first");
    let early = cd
        .get_deployment_target()
        .deployment_id(&first)
        .target_id("default:web")
        .send()
        .await
        .expect_err("not started");
    assert!(format!("{:?}", aws_sdk_codedeploy::Error::from(early)).contains("DeploymentNotStartedException"));
    let err = deploy(&cd, &appspec(&v2, "web")).await.expect_err("second");
    let text = format!("{err:?}");
    assert!(text.contains("DeploymentLimitExceededException"), "{text}");
    assert!(
        text.contains(&format!("The Deployment Group 'web-dg' already has an active Deployment '{first}'")),
        "{text}"
    );
}

/// REFERENCE 3.6: StopDeployment with rollback stops it (MANUAL_STOP), a `codeDeployRollback` deployment puts
/// traffic back on the blue task set and the service back on the old task definition.
#[tokio::test]
async fn stop_with_rollback_returns_to_the_old_task_definition() {
    let s = setup(600.0, "CodeDeployDefault.ECSLinear10PercentEvery3Minutes", false).await;
    let cd = s.sb.codedeploy();
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "web")).await.expect("CreateDeployment");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while green_weight(&cd, &id).await.is_none_or(|w| w < 10.0) {
        assert!(std::time::Instant::now() < deadline, "traffic never shifted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopped =
        cd.stop_deployment().deployment_id(&id).auto_rollback_enabled(true).send().await.expect("StopDeployment");
    assert!(stopped.status().is_some());
    let d = info(&cd, &id).await;
    assert_eq!(d.status(), Some(&DeploymentStatus::Stopped));
    assert_eq!(d.error_information().and_then(|e| e.code()).map(|c| c.as_str()), Some("MANUAL_STOP"));
    let rollback_id =
        d.rollback_info().and_then(|r| r.rollback_deployment_id()).expect("rollbackDeploymentId").to_owned();
    let r = wait_status(&cd, &rollback_id, DeploymentStatus::Succeeded).await;
    assert_eq!(r.creator().map(|c| c.as_str()), Some("codeDeployRollback"));
    assert_eq!(r.rollback_info().and_then(|i| i.rollback_triggering_deployment_id()), Some(id.as_str()));

    assert_eq!(service(&s.sb).await.task_definition(), Some(s.v1.as_str()));
    wait_service(&s.sb, "back on blue only", |svc| {
        svc.task_sets().len() == 1 && svc.task_sets()[0].task_definition() == Some(s.v1.as_str())
    })
    .await;
    let again = cd.stop_deployment().deployment_id(&id).send().await.expect_err("already stopped");
    assert!(format!("{:?}", aws_sdk_codedeploy::Error::from(again)).contains("DeploymentAlreadyCompletedException"));
}

/// REFERENCE 3.8: the group's alarm entering ALARM mid-shift stops the deployment with ALARM_ACTIVE and, with
/// DEPLOYMENT_STOP_ON_ALARM, rolls it back. The alarm is driven through the CloudWatch SDK.
#[tokio::test]
async fn alarm_mid_shift_stops_and_rolls_back() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let s = setup(600.0, "CodeDeployDefault.ECSLinear10PercentEvery3Minutes", false).await;
    let cw = s.sb.cloudwatch();
    cw.put_metric_alarm()
        .alarm_name(GUARD_ALARM)
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
    let cd = s.sb.codedeploy();
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "web")).await.expect("CreateDeployment");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while green_weight(&cd, &id).await.is_none_or(|w| w < 10.0) {
        assert!(std::time::Instant::now() < deadline, "traffic never shifted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cw.set_alarm_state()
        .alarm_name(GUARD_ALARM)
        .state_value(StateValue::Alarm)
        .state_reason("5xx")
        .send()
        .await
        .expect("SetAlarmState");
    let d = wait_status(&cd, &id, DeploymentStatus::Stopped).await;
    let error = d.error_information().expect("errorInformation");
    assert_eq!(error.code().map(|c| c.as_str()), Some("ALARM_ACTIVE"));
    assert!(error.message().unwrap_or_default().contains(GUARD_ALARM));
    let rollback_id = d.rollback_info().and_then(|r| r.rollback_deployment_id()).expect("rolled back").to_owned();
    wait_status(&cd, &rollback_id, DeploymentStatus::Succeeded).await;
    assert_eq!(service(&s.sb).await.task_definition(), Some(s.v1.as_str()));
}

/// REFERENCE 3.4: a replacement task set whose tasks crash fails the deployment (ECS_UPDATE_ERROR) and, with
/// DEPLOYMENT_FAILURE auto-rollback, the service stays on the original task definition.
#[tokio::test]
async fn crashing_replacement_fails_and_rolls_back() {
    let s = setup(600.0, "CodeDeployDefault.ECSAllAtOnce", false).await;
    let cd = s.sb.codedeploy();
    let bad = register(&s.sb.ecs(), &[("SANDBOX_EXIT_CODE", "1")]).await;
    let id = deploy(&cd, &appspec(&bad, "web")).await.expect("CreateDeployment");
    let d = wait_status(&cd, &id, DeploymentStatus::Failed).await;
    assert_eq!(d.error_information().and_then(|e| e.code()).map(|c| c.as_str()), Some("ECS_UPDATE_ERROR"));
    let rollback_id = d.rollback_info().and_then(|r| r.rollback_deployment_id()).expect("rolled back").to_owned();
    wait_status(&cd, &rollback_id, DeploymentStatus::Succeeded).await;
    assert_eq!(service(&s.sb).await.task_definition(), Some(s.v1.as_str()));
}

/// REFERENCE 3.2: a malformed AppSpec is InvalidRevisionException; a container name missing from the task
/// definition fails the deployment at Install.
#[tokio::test]
async fn appspec_is_validated() {
    let s = setup(600.0, "CodeDeployDefault.ECSAllAtOnce", false).await;
    let cd = s.sb.codedeploy();
    let err = deploy(&cd, "version: 0.0\nResources: []\n").await.expect_err("no service resource");
    assert!(format!("{err:?}").contains("InvalidRevisionException"), "{err:?}");
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "api")).await.expect("CreateDeployment");
    let d = wait_status(&cd, &id, DeploymentStatus::Failed).await;
    assert!(d.error_information().and_then(|e| e.message()).unwrap_or_default().contains("api"));
    assert_eq!(service(&s.sb).await.task_definition(), Some(s.v1.as_str()));
}

/// REFERENCE 3.6: with deploymentReadyOption STOP_DEPLOYMENT the deployment waits in Ready until
/// ContinueDeployment(READY_WAIT), then shifts traffic and succeeds.
#[tokio::test]
async fn ready_wait_needs_continue_deployment() {
    let s = setup(600.0, "CodeDeployDefault.ECSAllAtOnce", true).await;
    let cd = s.sb.codedeploy();
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "web")).await.expect("CreateDeployment");
    wait_status(&cd, &id, DeploymentStatus::Ready).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(info(&cd, &id).await.status(), Some(&DeploymentStatus::Ready), "waits for ContinueDeployment");
    assert_eq!(green_weight(&cd, &id).await, Some(0.0));
    cd.continue_deployment()
        .deployment_id(&id)
        .deployment_wait_type(DeploymentWaitType::ReadyWait)
        .send()
        .await
        .expect("Continue");
    wait_status(&cd, &id, DeploymentStatus::Succeeded).await;
    assert_eq!(service(&s.sb).await.task_definition(), Some(v2.as_str()));
}

/// REFERENCE 3.1, 3.3: predefined and custom configurations; a group needs a CODE_DEPLOY service.
#[tokio::test]
async fn configs_and_group_validation() {
    let s = setup(600.0, "CodeDeployDefault.ECSAllAtOnce", false).await;
    let cd = s.sb.codedeploy();
    let predefined = cd
        .get_deployment_config()
        .deployment_config_name("CodeDeployDefault.ECSLinear10PercentEvery1Minutes")
        .send()
        .await
        .expect("get");
    let routing = predefined.deployment_config_info().and_then(|i| i.traffic_routing_config()).unwrap().clone();
    assert_eq!(routing.r#type(), Some(&TrafficRoutingType::TimeBasedLinear));
    cd.create_deployment_config()
        .deployment_config_name("Canary20Percent1Minute")
        .compute_platform(ComputePlatform::Ecs)
        .traffic_routing_config(
            TrafficRoutingConfig::builder()
                .r#type(TrafficRoutingType::TimeBasedCanary)
                .time_based_canary(TimeBasedCanary::builder().canary_percentage(20).canary_interval(1).build())
                .build(),
        )
        .send()
        .await
        .expect("CreateDeploymentConfig");
    let custom =
        cd.get_deployment_config().deployment_config_name("Canary20Percent1Minute").send().await.expect("get custom");
    let canary = custom
        .deployment_config_info()
        .and_then(|i| i.traffic_routing_config())
        .and_then(|r| r.time_based_canary())
        .cloned();
    assert_eq!(canary.map(|c| c.canary_percentage()), Some(20));

    let ecs = s.sb.ecs();
    ecs.create_service()
        .service_name("rolling")
        .task_definition(&s.v1)
        .desired_count(1)
        .send()
        .await
        .expect("ECS service");
    let err = cd
        .create_deployment_group()
        .application_name("web")
        .deployment_group_name("rolling-dg")
        .service_role_arn("arn:aws:iam::000000000000:role/codedeploy")
        .ecs_services(EcsService::builder().cluster_name("default").service_name("rolling").build())
        .send()
        .await
        .expect_err("needs CODE_DEPLOY controller");
    assert!(format!("{:?}", aws_sdk_codedeploy::Error::from(err)).contains("InvalidECSServiceException"));
    let group = cd
        .get_deployment_group()
        .application_name("web")
        .deployment_group_name("web-dg")
        .send()
        .await
        .expect("get group");
    assert_eq!(group.deployment_group_info().and_then(|g| g.compute_platform()), Some(&ComputePlatform::Ecs));
}

/// REFERENCE 3.4, 3.5: listing and batch APIs deserialize in the SDK and agree with GetDeployment.
#[tokio::test]
async fn listings_and_batch_targets() {
    let s = setup(600.0, "CodeDeployDefault.ECSAllAtOnce", false).await;
    let cd = s.sb.codedeploy();
    let app = cd.get_application().application_name("web").send().await.expect("GetApplication");
    assert_eq!(app.application().and_then(|a| a.compute_platform()), Some(&ComputePlatform::Ecs));
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "web")).await.expect("CreateDeployment");
    wait_status(&cd, &id, DeploymentStatus::Succeeded).await;
    let listed =
        cd.list_deployments().application_name("web").deployment_group_name("web-dg").send().await.expect("List");
    assert_eq!(listed.deployments(), std::slice::from_ref(&id));
    let batch =
        cd.batch_get_deployment_targets().deployment_id(&id).target_ids("default:web").send().await.expect("Batch");
    let target = batch.deployment_targets()[0].ecs_target().expect("ecsTarget");
    assert_eq!(target.status().map(|s| s.as_str()), Some("Succeeded"));
    assert_eq!(target.target_arn(), Some("arn:aws:ecs:us-east-1:000000000000:service/default/web"));
    let deployments = cd.batch_get_deployments().deployment_ids(&id).send().await.expect("BatchGetDeployments");
    assert_eq!(deployments.deployments_info()[0].status(), Some(&DeploymentStatus::Succeeded));
    let group = cd.get_deployment_group().application_name("web").deployment_group_name("web-dg").send().await.unwrap();
    let last =
        group.deployment_group_info().and_then(|g| g.last_successful_deployment()).expect("lastSuccessfulDeployment");
    assert_eq!(last.deployment_id(), Some(id.as_str()));
}

/// REFERENCE 3.1, 3.6: after traffic has moved, the original task set stays (ACTIVE) for
/// terminationWaitTimeInMinutes while the service already runs the new task definition;
/// ContinueDeployment(TERMINATION_WAIT) ends the wait early.
#[tokio::test]
async fn termination_wait_can_be_cut_short() {
    // 60x: the one-minute termination wait lasts a real second.
    let s = setup(60.0, "CodeDeployDefault.ECSAllAtOnce", false).await;
    let cd = s.sb.codedeploy();
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "web")).await.expect("CreateDeployment");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !info(&cd, &id).await.instance_termination_wait_time_started() {
        assert!(std::time::Instant::now() < deadline, "termination wait never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let svc = service(&s.sb).await;
    assert_eq!(svc.task_definition(), Some(v2.as_str()));
    assert_eq!(svc.task_sets().len(), 2, "blue is kept during the wait");
    assert_eq!(info(&cd, &id).await.status(), Some(&DeploymentStatus::InProgress));
    cd.continue_deployment()
        .deployment_id(&id)
        .deployment_wait_type(DeploymentWaitType::TerminationWait)
        .send()
        .await
        .expect("ContinueDeployment");
    wait_status(&cd, &id, DeploymentStatus::Succeeded).await;
    wait_service(&s.sb, "without the blue task set", |svc| svc.task_sets().len() == 1).await;
}

/// REFERENCE A5 (unverified in AWS, see README "Where it differs"): during the original task set's termination
/// wait the deployment is still InProgress with all production traffic on green, and StopDeployment with
/// autoRollbackEnabled still returns traffic to the blue task set, which is still there: the rollback is a
/// traffic flip, and the service runs the old task definition again.
#[tokio::test]
async fn stop_with_rollback_during_the_termination_wait_returns_traffic_to_blue() {
    // 10x: the one-minute termination wait lasts six real seconds.
    let s = setup(10.0, "CodeDeployDefault.ECSAllAtOnce", false).await;
    let cd = s.sb.codedeploy();
    let v2 = register(&s.sb.ecs(), &[]).await;
    let id = deploy(&cd, &appspec(&v2, "web")).await.expect("CreateDeployment");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !info(&cd, &id).await.instance_termination_wait_time_started() {
        assert!(std::time::Instant::now() < deadline, "termination wait never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(info(&cd, &id).await.status(), Some(&DeploymentStatus::InProgress));
    assert_eq!(green_weight(&cd, &id).await, Some(100.0), "all traffic on green during the wait");
    assert_eq!(service(&s.sb).await.task_definition(), Some(v2.as_str()));

    cd.stop_deployment().deployment_id(&id).auto_rollback_enabled(true).send().await.expect("StopDeployment");
    let d = info(&cd, &id).await;
    assert_eq!(d.status(), Some(&DeploymentStatus::Stopped));
    let rollback_id = d.rollback_info().and_then(|r| r.rollback_deployment_id()).expect("a rollback").to_owned();
    assert_eq!(service(&s.sb).await.task_definition(), Some(s.v1.as_str()), "traffic is back on blue at once");
    assert_eq!(green_weight(&cd, &id).await, Some(0.0));
    wait_status(&cd, &rollback_id, DeploymentStatus::Succeeded).await;
    wait_service(&s.sb, "back on blue only", |svc| {
        svc.task_sets().len() == 1 && svc.task_sets()[0].task_definition() == Some(s.v1.as_str())
    })
    .await;
}

//! `--tasks docker`: ECS tasks as real containers of examples/hello on the local Docker engine, real probe
//! traffic and ALB metrics, real exits counted by the circuit breaker, and nothing left behind.
//!
//! Needs the Docker CLI and a daemon; every test fails (never skips) without them. Each test builds the hello
//! image under its own tag and removes that tag, and checks that the sandbox removed its containers.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StandardUnit, StateValue, Statistic};
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, DeploymentReadyAction, DeploymentReadyOption, DeploymentStatus, RevisionLocation,
    RevisionLocationType, TimeBasedCanary, TrafficRoutingConfig, TrafficRoutingType,
};
use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerOverride, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType, DesiredStatus, KeyValuePair, LoadBalancer, PortMapping, TaskOverride,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, ProtocolEnum, TargetGroupTuple,
};
use pipeline_sandbox::{SandboxOptions, TaskMode};

const TIME_SCALE: f64 = 60.0;

/// The hello image under a tag of this test's own, untagged again on drop.
struct HelloImage {
    tag: String,
}

impl HelloImage {
    fn build() -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
        if !dir.join("hello").exists() {
            let built = Command::new("bash").arg(dir.join("build.sh")).status().expect("run examples/hello/build.sh");
            assert!(built.success(), "examples/hello/build.sh failed");
        }
        let tag = format!("pipeline-sandbox-hello:test-{}", &uuid_like()[..12]);
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &tag])
            .arg(&dir)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap_or_else(|e| panic!("these tests need the docker CLI: {e}"));
        assert!(out.status.success(), "docker build failed: {}", String::from_utf8_lossy(&out.stderr));
        Self { tag }
    }
}

impl Drop for HelloImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.tag]).output();
    }
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}{:08x}", t, std::process::id())
}

async fn sandbox() -> common::TestSandbox {
    common::TestSandbox::with(SandboxOptions { tasks: TaskMode::Docker, time_scale: TIME_SCALE, ..Default::default() })
        .await
}

fn instance(sb: &common::TestSandbox) -> String {
    sb.running.sandbox.containers.get().expect("docker mode").instance().to_owned()
}

/// (task ARN, host port of 8080) of every container of this sandbox instance, running or not.
fn containers(instance: &str) -> Vec<(String, Option<u16>)> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("label=pipeline-sandbox={instance}")])
        .args(["--format", "{{.Label \"pipeline-sandbox.task\"}}\t{{.Ports}}"])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (task, ports) = l.split_once('\t').unwrap_or((l, ""));
            // "127.0.0.1:32777->8080/tcp"
            let port = ports.split("->").next().and_then(|p| p.rsplit(':').next()).and_then(|p| p.parse().ok());
            (task.to_owned(), port)
        })
        .collect()
}

async fn get(port: u16, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    out.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn register(ecs: &aws_sdk_ecs::Client, image: &str, env: &[(&str, &str)]) -> String {
    let mut c = ContainerDefinition::builder()
        .name("web")
        .image(image)
        .essential(true)
        .port_mappings(PortMapping::builder().container_port(8080).build());
    for (k, v) in env {
        c = c.environment(KeyValuePair::builder().name(*k).value(*v).build());
    }
    let out =
        ecs.register_task_definition().family("web").container_definitions(c.build()).send().await.expect("register");
    out.task_definition().and_then(|t| t.task_definition_arn()).expect("arn").to_owned()
}

/// ARNs of the service's tasks that are RUNNING on `td`.
async fn running_tasks(ecs: &aws_sdk_ecs::Client, service: &str, td: &str) -> Vec<String> {
    let arns = ecs.list_tasks().service_name(service).send().await.expect("ListTasks").task_arns().to_vec();
    if arns.is_empty() {
        return Vec::new();
    }
    let tasks = ecs.describe_tasks().set_tasks(Some(arns)).send().await.expect("DescribeTasks");
    tasks
        .tasks()
        .iter()
        .filter(|t| t.last_status() == Some("RUNNING") && t.task_definition_arn() == Some(td))
        .filter_map(|t| t.task_arn().map(str::to_owned))
        .collect()
}

/// Waits until exactly the service's running tasks on `td` have containers, and every container answers `/` 200.
async fn only_containers_of(sb: &common::TestSandbox, td: &str, count: usize) -> Vec<String> {
    let ecs = sb.ecs();
    let inst = instance(sb);
    wait_for(&format!("only {count} containers of {td}, all answering 200"), 30, async || {
        let tasks = running_tasks(&ecs, "web", td).await;
        let found = containers(&inst);
        if tasks.len() != count || found.len() != count || !found.iter().all(|(t, _)| tasks.contains(t)) {
            return None;
        }
        for (_, port) in &found {
            if get((*port)?, "/").await != Some(200) {
                return None;
            }
        }
        Some(tasks)
    })
    .await
}

struct Elb {
    lb_dimension: String,
    blue_arn: String,
    green_dimension: String,
}

async fn load_balancer(sb: &common::TestSandbox) -> Elb {
    let elb = sb.elbv2();
    let lb = elb.create_load_balancer().name("web").subnets("subnet-a").subnets("subnet-b").send().await.expect("lb");
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().expect("arn").to_owned();
    let mut tgs = Vec::new();
    for name in ["web-blue", "web-green"] {
        let tg = elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Http)
            .port(8080)
            .vpc_id("vpc-1")
            .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
            .send()
            .await
            .expect("CreateTargetGroup");
        tgs.push(tg.target_groups()[0].target_group_arn().expect("arn").to_owned());
    }
    let forward = |tg: &str| {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .target_groups(TargetGroupTuple::builder().target_group_arn(tg).weight(1).build())
                    .build(),
            )
            .build()
    };
    elb.create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&tgs[0]))
        .send()
        .await
        .expect("prod listener");
    elb.create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .default_actions(forward(&tgs[1]))
        .send()
        .await
        .expect("test listener");
    Elb {
        lb_dimension: lb_arn.split_once(":loadbalancer/").expect("lb arn").1.to_owned(),
        green_dimension: tgs[1].rsplit_once(':').expect("tg arn").1.to_owned(),
        blue_arn: tgs[0].clone(),
    }
}

/// A CODE_DEPLOY service `web` (2 tasks of `v1`) behind `web-blue`, a group rolling back on alarms, and the
/// guard alarm `web-5xx` on the green target group: HTTPCode_Target_5XX_Count Sum >= 5 over one period.
async fn blue_green(sb: &common::TestSandbox, v1: &str) -> Elb {
    let elb = load_balancer(sb).await;
    let cw = sb.cloudwatch();
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    cw.put_metric_alarm()
        .alarm_name("web-5xx")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .dimensions(dim("LoadBalancer", &elb.lb_dimension))
        .dimensions(dim("TargetGroup", &elb.green_dimension))
        .statistic(Statistic::Sum)
        .unit(StandardUnit::Count)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .send()
        .await
        .expect("PutMetricAlarm");
    sb.ecs()
        .create_service()
        .service_name("web")
        .task_definition(v1)
        .desired_count(2)
        .deployment_controller(
            DeploymentController::builder().r#type(DeploymentControllerType::CodeDeploy).build().expect("controller"),
        )
        .load_balancers(
            LoadBalancer::builder().target_group_arn(&elb.blue_arn).container_name("web").container_port(8080).build(),
        )
        .send()
        .await
        .expect("CreateService");
    let cd = sb.codedeploy();
    cd.create_application().application_name("web").compute_platform(ComputePlatform::Ecs).send().await.expect("app");
    // Half the traffic to green for three (scaled) minutes: long enough for the alarm to judge real requests.
    cd.create_deployment_config()
        .deployment_config_name("Canary50Percent3Minutes")
        .compute_platform(ComputePlatform::Ecs)
        .traffic_routing_config(
            TrafficRoutingConfig::builder()
                .r#type(TrafficRoutingType::TimeBasedCanary)
                .time_based_canary(TimeBasedCanary::builder().canary_percentage(50).canary_interval(3).build())
                .build(),
        )
        .send()
        .await
        .expect("CreateDeploymentConfig");
    let ready = DeploymentReadyOption::builder().action_on_timeout(DeploymentReadyAction::ContinueDeployment).build();
    common::create_blue_green_group(&cd, "Canary50Percent3Minutes", ready, "web-5xx").await;
    elb
}

/// (Sum, number of datapoints) of an ALB metric of the green target group over the last few real minutes.
async fn green_sum(sb: &common::TestSandbox, elb: &Elb, metric: &str) -> (f64, usize) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    // Periods are scaled (60 s = 1 s here), so a few real minutes are already hundreds of datapoints.
    let stats = sb
        .cloudwatch()
        .get_metric_statistics()
        .namespace("AWS/ApplicationELB")
        .metric_name(metric)
        .dimensions(Dimension::builder().name("LoadBalancer").value(&elb.lb_dimension).build())
        .dimensions(Dimension::builder().name("TargetGroup").value(&elb.green_dimension).build())
        .start_time(aws_smithy_types::DateTime::from_secs(now - 300))
        .end_time(aws_smithy_types::DateTime::from_secs(now + 60))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect("GetMetricStatistics");
    (stats.datapoints().iter().filter_map(|d| d.sum()).sum(), stats.datapoints().len())
}

async fn deploy(cd: &aws_sdk_codedeploy::Client, td: &str) -> String {
    let spec = format!(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"{td}\"\n        LoadBalancerInfo:\n          ContainerName: \"web\"\n          ContainerPort: 8080\n"
    );
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(spec).build())
        .build();
    let out = cd
        .create_deployment()
        .application_name("web")
        .deployment_group_name("web-dg")
        .revision(revision)
        .send()
        .await
        .expect("CreateDeployment");
    out.deployment_id().expect("id").to_owned()
}

async fn deployment_status(cd: &aws_sdk_codedeploy::Client, id: &str) -> aws_sdk_codedeploy::types::DeploymentInfo {
    let out = cd.get_deployment().deployment_id(id).send().await.expect("GetDeployment");
    out.deployment_info().expect("info").clone()
}

/// The heart of the tool, with nothing pretended: a release whose container really answers 500 gets real probe
/// traffic, trips the 5xx alarm on the green target group, and CodeDeploy stops and rolls back; the service ends
/// on the old task definition with its containers still answering 200.
#[tokio::test]
async fn codedeploy_release_answering_500_trips_the_alarm_and_rolls_back() {
    let image = HelloImage::build();
    let sb = sandbox().await;
    let inst = instance(&sb);
    let ecs = sb.ecs();
    let v1 = register(&ecs, &image.tag, &[]).await;
    let v2 = register(&ecs, &image.tag, &[("HELLO_FAIL", "500")]).await;
    let elb = blue_green(&sb, &v1).await;
    only_containers_of(&sb, &v1, 2).await;

    let cd = sb.codedeploy();
    let started = Instant::now();
    let id = deploy(&cd, &v2).await;
    let stopped = wait_for("the deployment to stop on the alarm", 60, async || {
        let d = deployment_status(&cd, &id).await;
        matches!(d.status(), Some(DeploymentStatus::Stopped | DeploymentStatus::Failed)).then_some(d)
    })
    .await;
    eprintln!("alarm stopped the deployment {:?} after {:?}", stopped.status(), started.elapsed());
    let error = stopped.error_information().and_then(|e| e.code()).map(|c| c.as_str().to_owned());
    assert_eq!(error.as_deref(), Some("ALARM_ACTIVE"), "{stopped:#?}");
    assert!(stopped.rollback_info().and_then(|r| r.rollback_deployment_id()).is_some(), "{stopped:#?}");

    // The alarm fired from real metrics: the green target group's 5xx were published by the probe.
    let (five_xx, _) = green_sum(&sb, &elb, "HTTPCode_Target_5XX_Count").await;
    assert!(five_xx >= 5.0, "the probe published {five_xx} 5xx on the green target group");

    let service = ecs.describe_services().services("web").send().await.expect("DescribeServices").services()[0].clone();
    assert_eq!(service.task_definition(), Some(v1.as_str()));
    let tasks = only_containers_of(&sb, &v1, 2).await;
    // DescribeTasks reports where each container is published, as ECS does for bridge networking.
    let described = ecs.describe_tasks().set_tasks(Some(tasks)).send().await.expect("DescribeTasks");
    for t in described.tasks() {
        let binding = &t.containers()[0].network_bindings()[0];
        assert_eq!((binding.bind_ip(), binding.container_port()), (Some("127.0.0.1"), Some(8080)), "{t:#?}");
        let port = binding.host_port().and_then(|p| u16::try_from(p).ok()).expect("hostPort");
        assert_eq!(get(port, "/").await, Some(200));
    }
    drop(sb);
    assert!(containers(&inst).is_empty(), "containers left behind: {:?}", containers(&inst));
}

/// A good blue/green release ends with only the new task definition's containers running, all answering 200.
#[tokio::test]
async fn good_codedeploy_release_leaves_only_the_new_containers() {
    let image = HelloImage::build();
    let sb = sandbox().await;
    let inst = instance(&sb);
    let ecs = sb.ecs();
    let v1 = register(&ecs, &image.tag, &[]).await;
    let v2 = register(&ecs, &image.tag, &[("HELLO_VERSION", "2")]).await;
    let elb = blue_green(&sb, &v1).await;
    only_containers_of(&sb, &v1, 2).await;
    let cd = sb.codedeploy();
    let id = deploy(&cd, &v2).await;
    let done = wait_for("the deployment to finish", 60, async || {
        let d = deployment_status(&cd, &id).await;
        matches!(d.status(), Some(DeploymentStatus::Succeeded | DeploymentStatus::Stopped | DeploymentStatus::Failed))
            .then_some(d)
    })
    .await;
    assert_eq!(done.status(), Some(&DeploymentStatus::Succeeded), "{done:#?}");
    let alarm = sb.cloudwatch().describe_alarms().alarm_names("web-5xx").send().await.expect("DescribeAlarms");
    assert_ne!(alarm.metric_alarms()[0].state_value(), Some(&StateValue::Alarm));
    // Green got real traffic, and its zero 5xx count was published (so the alarm had data, not silence).
    let (requests, _) = green_sum(&sb, &elb, "RequestCount").await;
    let (five_xx, datapoints) = green_sum(&sb, &elb, "HTTPCode_Target_5XX_Count").await;
    assert!(requests > 0.0 && datapoints > 0 && five_xx == 0.0, "{requests} requests, {five_xx} 5xx in {datapoints}");
    only_containers_of(&sb, &v2, 2).await;
    drop(sb);
    assert!(containers(&inst).is_empty(), "containers left behind: {:?}", containers(&inst));
}

/// A rolling release whose container really exits at start (HELLO_EXIT=1) is stopped by the circuit breaker
/// and rolled back; the stopped tasks carry EssentialContainerExited and the real exit code. A one-off RunTask
/// reports its container's real exit code too.
#[tokio::test]
async fn rolling_release_exiting_at_start_trips_the_circuit_breaker() {
    let image = HelloImage::build();
    let sb = sandbox().await;
    let inst = instance(&sb);
    let ecs = sb.ecs();
    let v1 = register(&ecs, &image.tag, &[]).await;
    let v2 = register(&ecs, &image.tag, &[("HELLO_EXIT", "1")]).await;
    ecs.create_service()
        .service_name("web")
        .task_definition(&v1)
        .desired_count(2)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
                .build(),
        )
        .send()
        .await
        .expect("CreateService");
    only_containers_of(&sb, &v1, 2).await;
    ecs.update_service().service("web").task_definition(&v2).send().await.expect("UpdateService");
    let failed = wait_for("the circuit breaker", 60, async || {
        let s = ecs.describe_services().services("web").send().await.ok()?.services()[0].clone();
        let failed = s.deployments().iter().find(|d| d.task_definition() == Some(v2.as_str()))?.clone();
        (failed.rollout_state().map(|r| r.as_str()) == Some("FAILED")).then_some(failed)
    })
    .await;
    assert!(failed.failed_tasks() >= 3, "{failed:#?}");
    assert!(failed.rollout_state_reason().unwrap_or_default().contains("circuit breaker"), "{failed:#?}");

    let stopped = ecs.list_tasks().desired_status(DesiredStatus::Stopped).send().await.expect("ListTasks");
    let stopped = ecs.describe_tasks().set_tasks(Some(stopped.task_arns().to_vec())).send().await.expect("Describe");
    let crashed = stopped
        .tasks()
        .iter()
        .find(|t| t.task_definition_arn() == Some(v2.as_str()) && t.stop_code().is_some())
        .expect("a stopped v2 task");
    assert_eq!(crashed.stop_code().map(|c| c.as_str()), Some("EssentialContainerExited"), "{crashed:#?}");
    assert_eq!(crashed.containers()[0].exit_code(), Some(1), "{crashed:#?}");

    // The rollback brings v1 back to steady state with real containers.
    wait_for("the rollback to complete", 60, async || {
        let s = ecs.describe_services().services("web").send().await.ok()?.services()[0].clone();
        let d = s.deployments();
        (d.len() == 1 && d[0].task_definition() == Some(v1.as_str()) && d[0].running_count() == 2).then_some(())
    })
    .await;
    only_containers_of(&sb, &v1, 2).await;

    let run = ecs
        .run_task()
        .task_definition(&v1)
        .overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name("web")
                        .environment(KeyValuePair::builder().name("HELLO_EXIT").value("3").build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("RunTask");
    let arn = run.tasks()[0].task_arn().expect("arn").to_owned();
    let task = wait_for("the one-off task to stop", 30, async || {
        let t = ecs.describe_tasks().tasks(&arn).send().await.ok()?.tasks()[0].clone();
        (t.last_status() == Some("STOPPED")).then_some(t)
    })
    .await;
    assert_eq!(task.containers()[0].exit_code(), Some(3), "{task:#?}");
    drop(sb);
    assert!(containers(&inst).is_empty(), "containers left behind: {:?}", containers(&inst));
}

/// Containers go with the world: `/_sandbox/reset` and stopping the sandbox remove every container it started.
/// Also the speed target: a new service's containers serve within 2 s (image local).
#[tokio::test]
async fn containers_are_removed_on_reset_and_on_stop() {
    let image = HelloImage::build();
    let sb = sandbox().await;
    let inst = instance(&sb);
    let ecs = sb.ecs();
    let v1 = register(&ecs, &image.tag, &[]).await;
    let started = Instant::now();
    ecs.create_service().service_name("web").task_definition(&v1).desired_count(2).send().await.expect("create");
    wait_for("two containers answering 200", 30, async || {
        let found = containers(&inst);
        if found.len() != 2 {
            return None;
        }
        for (_, port) in &found {
            if get((*port)?, "/").await != Some(200) {
                return None;
            }
        }
        Some(())
    })
    .await;
    let serving = started.elapsed();
    eprintln!("CreateService -> both containers serving: {serving:?}");
    assert!(serving < Duration::from_secs(2), "containers took {serving:?} to serve");
    only_containers_of(&sb, &v1, 2).await;

    assert_eq!(sb.control("/_sandbox/reset", "").await, 204);
    assert!(containers(&inst).is_empty(), "reset left containers: {:?}", containers(&inst));

    let v1 = register(&ecs, &image.tag, &[]).await;
    ecs.create_service().service_name("web").task_definition(&v1).desired_count(2).send().await.expect("create");
    only_containers_of(&sb, &v1, 2).await;
    drop(sb);
    assert!(containers(&inst).is_empty(), "stopping left containers: {:?}", containers(&inst));
}

/// An image the engine cannot find fails the task the way ECS does: STOPPED, TaskFailedToStart,
/// CannotPullContainerError; no container is left.
#[tokio::test]
async fn missing_image_fails_to_start_like_ecs() {
    let sb = sandbox().await;
    let inst = instance(&sb);
    let ecs = sb.ecs();
    let td = register(&ecs, "pipeline-sandbox-missing:none", &[]).await;
    let run = ecs.run_task().task_definition(&td).send().await.expect("RunTask");
    let arn = run.tasks()[0].task_arn().expect("arn").to_owned();
    let task = wait_for("the task to stop", 30, async || {
        let t = ecs.describe_tasks().tasks(&arn).send().await.ok()?.tasks()[0].clone();
        (t.last_status() == Some("STOPPED")).then_some(t)
    })
    .await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"), "{task:#?}");
    assert!(task.stopped_reason().unwrap_or_default().starts_with("CannotPullContainerError"), "{task:#?}");
    assert!(containers(&inst).is_empty(), "{:?}", containers(&inst));
}

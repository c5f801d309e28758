//! ECS conformance against the real Rust SDK (REFERENCE section 2).

mod common;

use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerOverride, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType, KeyValuePair, LoadBalancer, PortMapping, Service, Tag, TaskDefinitionField,
};

fn container(name: &str, env: &[(&str, &str)]) -> ContainerDefinition {
    let mut b = ContainerDefinition::builder()
        .name(name)
        .image("127.0.0.1:5000/web:1")
        .port_mappings(PortMapping::builder().container_port(8080).build());
    for (k, v) in env {
        b = b.environment(KeyValuePair::builder().name(*k).value(*v).build());
    }
    b.build()
}

async fn register(ecs: &Client, family: &str, env: &[(&str, &str)]) -> String {
    let out = ecs
        .register_task_definition()
        .family(family)
        .container_definitions(container("web", env))
        .send()
        .await
        .expect("RegisterTaskDefinition");
    out.task_definition().and_then(|t| t.task_definition_arn()).expect("arn").to_owned()
}

async fn service(ecs: &Client, name: &str) -> Service {
    let out = ecs.describe_services().services(name).send().await.expect("DescribeServices");
    out.services()[0].clone()
}

/// Polls `service` until `done` holds, failing after 20 real seconds with the last state.
async fn wait_for(ecs: &Client, name: &str, what: &str, done: impl Fn(&Service) -> bool) -> Service {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = service(ecs, name).await;
        if done(&s) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {s:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `ServicesStable` waiter's condition (REFERENCE 2.5): one deployment and runningCount == desiredCount.
fn stable(s: &Service) -> bool {
    s.deployments().len() == 1 && s.running_count() == s.desired_count()
}

fn completed_alone(s: &Service) -> bool {
    stable(s) && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
}

fn breaker(rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(rollback).build())
        .build()
}

async fn create_service(ecs: &Client, name: &str, td: &str, desired: i32, config: DeploymentConfiguration) {
    ecs.create_service()
        .service_name(name)
        .task_definition(td)
        .desired_count(desired)
        .deployment_configuration(config)
        .send()
        .await
        .expect("CreateService");
}

/// REFERENCE 2.1: revisions increment per family, Describe echoes the input with AWS's defaults and the
/// output-only fields, tags come next to the task definition only with include=TAGS.
#[tokio::test]
async fn task_definition_register_describe_tags_and_revisions() {
    let sb = common::TestSandbox::start().await;
    let ecs = sb.ecs();
    let first = ecs
        .register_task_definition()
        .family("web")
        .container_definitions(container("web", &[("A", "1")]))
        .tags(Tag::builder().key("team").value("core").build())
        .send()
        .await
        .expect("register");
    let td = first.task_definition().expect("taskDefinition");
    assert_eq!(td.revision(), 1);
    assert_eq!(td.task_definition_arn(), Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"));
    assert_eq!(td.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert!(td.registered_at().is_some() && td.registered_by().is_some());
    let c = &td.container_definitions()[0];
    assert_eq!(c.essential(), Some(true), "essential defaults to true");
    assert_eq!(c.cpu(), 0);
    assert_eq!(c.port_mappings()[0].protocol().map(|p| p.as_str()), Some("tcp"));

    let second = register(&ecs, "web", &[("A", "2")]).await;
    assert!(second.ends_with("task-definition/web:2"), "{second}");

    let latest = ecs.describe_task_definition().task_definition("web").send().await.expect("describe family");
    assert_eq!(latest.task_definition().map(|t| t.revision()), Some(2));
    assert!(latest.tags().is_empty(), "no tags without include=TAGS");
    let tagged = ecs
        .describe_task_definition()
        .task_definition("web:1")
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .expect("describe with tags");
    assert_eq!(tagged.tags()[0].key(), Some("team"));
    let by_arn = ecs.describe_task_definition().task_definition(&second).send().await.expect("describe ARN");
    assert_eq!(by_arn.task_definition().map(|t| t.revision()), Some(2));

    ecs.deregister_task_definition().task_definition("web:2").send().await.expect("deregister");
    let latest = ecs.describe_task_definition().task_definition("web").send().await.expect("describe family");
    assert_eq!(latest.task_definition().map(|t| t.revision()), Some(1), "family = latest ACTIVE");
    let active = ecs.list_task_definitions().family_prefix("web").send().await.expect("list");
    assert_eq!(active.task_definition_arns().len(), 1);
    let families = ecs.list_task_definition_families().send().await.expect("families");
    assert_eq!(families.families(), ["web"]);

    let arn = td.task_definition_arn().expect("arn");
    ecs.tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("env").value("prod").build())
        .send()
        .await
        .expect("tag");
    ecs.untag_resource().resource_arn(arn).tag_keys("team").send().await.expect("untag");
    let tags = ecs.list_tags_for_resource().resource_arn(arn).send().await.expect("list tags");
    let keys: Vec<_> = tags.tags().iter().filter_map(|t| t.key()).collect();
    assert_eq!(keys, ["env"]);
}

fn code(e: aws_sdk_ecs::Error) -> String {
    format!("{e:?}")
}

/// REFERENCE 2.1: invalid definitions are ClientExceptions; an unknown one cannot be described.
#[tokio::test]
async fn task_definition_validation_errors() {
    let sb = common::TestSandbox::start().await;
    let ecs = sb.ecs();
    let empty = ecs.register_task_definition().family("x").send().await.expect_err("no containers");
    assert!(code(aws_sdk_ecs::Error::from(empty)).contains("ClientException"));
    let no_image = ecs
        .register_task_definition()
        .family("x")
        .container_definitions(ContainerDefinition::builder().name("a").build())
        .send()
        .await
        .expect_err("no image");
    assert!(code(aws_sdk_ecs::Error::from(no_image)).contains("image"));
    let dup = ecs
        .register_task_definition()
        .family("x")
        .container_definitions(container("a", &[]))
        .container_definitions(container("a", &[]))
        .send()
        .await
        .expect_err("duplicate names");
    assert!(code(aws_sdk_ecs::Error::from(dup)).contains("Duplicate"));
    let none_essential = ecs
        .register_task_definition()
        .family("x")
        .container_definitions(ContainerDefinition::builder().name("a").image("i").essential(false).build())
        .send()
        .await
        .expect_err("no essential container");
    assert!(code(aws_sdk_ecs::Error::from(none_essential)).contains("essential"));
    let missing = ecs.describe_task_definition().task_definition("nope:3").send().await.expect_err("missing");
    let text = code(aws_sdk_ecs::Error::from(missing));
    assert!(text.contains("ClientException") && text.contains("Unable to describe task definition."), "{text}");
}

/// REFERENCE 2.4/2.5: a rolling update adds a PRIMARY deployment, the old one drains, and the new one ends
/// COMPLETED and alone with runningCount == desiredCount; service tasks carry startedBy = deployment id.
#[tokio::test]
async fn rolling_deployment_completes_alone() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let v1 = register(&ecs, "web", &[]).await;
    let v2 = register(&ecs, "web", &[]).await;
    create_service(&ecs, "web", &v1, 2, DeploymentConfiguration::builder().build()).await;
    wait_for(&ecs, "web", "first deployment", completed_alone).await;

    let updated = ecs.update_service().service("web").task_definition(&v2).send().await.expect("UpdateService");
    let s = updated.service().expect("service");
    assert_eq!(s.deployments().len(), 2);
    let primary = &s.deployments()[0];
    assert_eq!((primary.status(), primary.task_definition()), (Some("PRIMARY"), Some(v2.as_str())));
    assert_eq!(s.deployments()[1].status(), Some("ACTIVE"));
    let new_id = primary.id().expect("id").to_owned();
    assert!(new_id.starts_with("ecs-svc/"), "{new_id}");

    let done = wait_for(&ecs, "web", "rollout", completed_alone).await;
    assert_eq!(done.deployments()[0].id(), Some(new_id.as_str()));
    assert_eq!(done.task_definition(), Some(v2.as_str()));
    assert_eq!(done.running_count(), 2);
    assert!(
        done.events().iter().any(|e| e.message().is_some_and(|m| m == "(service web) has reached a steady state."))
    );

    let tasks = ecs.list_tasks().service_name("web").send().await.expect("ListTasks");
    assert_eq!(tasks.task_arns().len(), 2);
    let described =
        ecs.describe_tasks().set_tasks(Some(tasks.task_arns().to_vec())).send().await.expect("DescribeTasks");
    for t in described.tasks() {
        assert_eq!(t.started_by(), Some(new_id.as_str()));
        assert_eq!(t.group(), Some("service:web"));
        assert_eq!(t.last_status(), Some("RUNNING"));
    }

    // desiredCount alone changes the count, not the deployment.
    let scaled = ecs.update_service().service("web").desired_count(3).send().await.expect("scale");
    assert_eq!(scaled.service().map(|s| s.deployments().len()), Some(1));
    wait_for(&ecs, "web", "scale out", |s| s.running_count() == 3).await;
}

/// REFERENCE 0.1/2.4: the circuit breaker with rollback fails the new deployment and rolls back, after which
/// the service is "stable" on the OLD task definition; only the deployment history shows the failure.
#[tokio::test]
async fn circuit_breaker_rollback_is_stable_on_the_old_task_definition() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let good = register(&ecs, "web", &[]).await;
    let bad = register(&ecs, "web", &[("SANDBOX_EXIT_CODE", "1")]).await;
    create_service(&ecs, "web", &good, 2, breaker(true)).await;
    wait_for(&ecs, "web", "first deployment", completed_alone).await;

    let updated = ecs.update_service().service("web").task_definition(&bad).send().await.expect("UpdateService");
    let updated = updated.service().expect("service");
    let bad_id = updated.deployments()[0].id().unwrap().to_owned();
    let bad_arn = updated.current_service_deployment().expect("currentServiceDeployment").to_owned();

    // The waiter's condition soon holds again, on the OLD task definition.
    let s =
        wait_for(&ecs, "web", "rollback", |s| completed_alone(s) && s.deployments()[0].id() != Some(bad_id.as_str()))
            .await;
    assert_eq!(s.task_definition(), Some(good.as_str()), "stable, but on the old task definition");
    assert_eq!(s.deployments()[0].task_definition(), Some(good.as_str()));
    let said = |text: &str| s.events().iter().any(|e| e.message().unwrap_or_default().contains(text));
    assert!(said(&format!("deployment {bad_id} deployment failed: tasks failed to start")), "{s:#?}");
    assert!(said("rolling back"));

    // REFERENCE 2.7: the deployment history tells the truth.
    let history = ecs.describe_service_deployments().service_deployment_arns(&bad_arn).send().await.expect("Describe");
    let failed = &history.service_deployments()[0];
    assert_eq!(failed.status().map(|s| s.as_str()), Some("ROLLBACK_SUCCESSFUL"));
    assert!(failed.status_reason().unwrap_or_default().contains("circuit breaker"));
    let breaker = failed.deployment_circuit_breaker().expect("deploymentCircuitBreaker");
    assert!(breaker.failure_count() >= 3, "default threshold is max(3, 50% of desired)");
    let listed = ecs.list_service_deployments().service("web").send().await.expect("ListServiceDeployments");
    assert!(listed.service_deployments().iter().any(|d| d.status().map(|s| s.as_str()) == Some("ROLLBACK_SUCCESSFUL")));

    // The stopped tasks of the failed deployment show why.
    let stopped = ecs
        .list_tasks()
        .started_by(&bad_id)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .expect("ListTasks");
    let tasks = ecs.describe_tasks().set_tasks(Some(stopped.task_arns().to_vec())).send().await.expect("DescribeTasks");
    let crashed = tasks.tasks().iter().find(|t| t.stop_code().map(|c| c.as_str()) == Some("EssentialContainerExited"));
    let crashed = crashed.expect("a task that exited");
    assert_eq!(crashed.containers()[0].exit_code(), Some(1));
}

/// REFERENCE 2.4: without rollback the failed deployment stays FAILED and the service never becomes stable.
#[tokio::test]
async fn circuit_breaker_without_rollback_stays_failed() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let good = register(&ecs, "web", &[]).await;
    let bad = register(&ecs, "web", &[("SANDBOX_EXIT_CODE", "2")]).await;
    create_service(&ecs, "web", &good, 1, breaker(false)).await;
    wait_for(&ecs, "web", "first deployment", completed_alone).await;
    ecs.update_service().service("web").task_definition(&bad).send().await.expect("UpdateService");
    let s =
        wait_for(&ecs, "web", "failure", |s| s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("FAILED"))
            .await;
    assert_eq!(s.deployments()[0].task_definition(), Some(bad.as_str()));
    assert_eq!(s.deployments()[0].failed_tasks(), 3, "threshold is at least 3");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = service(&ecs, "web").await;
    assert_eq!(later.deployments().len(), 2, "old deployment keeps serving: {later:#?}");
    assert_eq!(later.deployments()[0].rollout_state().map(|r| r.as_str()), Some("FAILED"));
    assert_eq!(later.deployments()[0].failed_tasks(), 3, "no launches after the breaker tripped");
}

/// REFERENCE 0.7/2.9: a sixth concurrent deployment is refused.
#[tokio::test]
async fn five_active_deployments_limit() {
    // Real time: nothing finishes while the test runs.
    let sb = common::TestSandbox::start().await;
    let ecs = sb.ecs();
    let td = register(&ecs, "web", &[]).await;
    create_service(&ecs, "web", &td, 1, DeploymentConfiguration::builder().build()).await;
    for _ in 0..4 {
        ecs.update_service().service("web").force_new_deployment(true).send().await.expect("forced deployment");
    }
    assert_eq!(service(&ecs, "web").await.deployments().len(), 5);
    let err = ecs.update_service().service("web").force_new_deployment(true).send().await.expect_err("sixth");
    let e: aws_sdk_ecs::Error = err.into();
    let text = format!("{e:?}");
    assert!(text.contains("InvalidParameterException") && text.contains("5 active deployments"), "{text}");
}

/// REFERENCE 2.8: RunTask -> STOPPED with the container's exit code; 0 normally, n with SANDBOX_EXIT_CODE=n
/// given as a container override; unknown tasks are failures, not errors.
#[tokio::test]
async fn run_task_reports_exit_codes() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let td = register(&ecs, "migrate", &[]).await;
    let ok = ecs.run_task().task_definition("migrate").started_by("pipeline").send().await.expect("RunTask");
    assert!(ok.failures().is_empty());
    let ok_arn = ok.tasks()[0].task_arn().unwrap().to_owned();
    assert_eq!(ok.tasks()[0].task_definition_arn(), Some(td.as_str()));
    assert_eq!(ok.tasks()[0].last_status(), Some("PROVISIONING"));
    let failing = ecs
        .run_task()
        .task_definition(&td)
        .overrides(
            aws_sdk_ecs::types::TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name("web")
                        .environment(KeyValuePair::builder().name("SANDBOX_EXIT_CODE").value("3").build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("RunTask");
    let bad_arn = failing.tasks()[0].task_arn().unwrap().to_owned();

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let tasks = loop {
        let out = ecs
            .describe_tasks()
            .tasks(&ok_arn)
            .tasks(&bad_arn)
            .tasks("0123456789abcdef")
            .send()
            .await
            .expect("DescribeTasks");
        if out.tasks().iter().all(|t| t.last_status() == Some("STOPPED")) {
            break out;
        }
        assert!(std::time::Instant::now() < deadline, "tasks never stopped: {out:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(tasks.failures()[0].reason(), Some("MISSING"));
    let by_arn = |arn: &str| tasks.tasks().iter().find(|t| t.task_arn() == Some(arn)).unwrap().clone();
    let ok = by_arn(&ok_arn);
    assert_eq!(ok.containers()[0].exit_code(), Some(0));
    assert_eq!(ok.started_by(), Some("pipeline"));
    let bad = by_arn(&bad_arn);
    assert_eq!(bad.containers()[0].exit_code(), Some(3));
    assert_eq!(bad.stop_code().map(|c| c.as_str()), Some("EssentialContainerExited"));
    assert_eq!(bad.stopped_reason(), Some("Essential container in task exited"));
    assert!(bad.stopped_at().is_some() && bad.started_at().is_some());

    let mine = ecs
        .list_tasks()
        .started_by("pipeline")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(mine.task_arns(), [ok_arn]);
}

/// REFERENCE 2.8: StopTask stops with stopCode UserInitiated.
#[tokio::test]
async fn stop_task_is_user_initiated() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    register(&ecs, "job", &[("SANDBOX_RUN_SECONDS", "100000")]).await;
    let run = ecs.run_task().task_definition("job").send().await.expect("RunTask");
    let arn = run.tasks()[0].task_arn().unwrap().to_owned();
    let stopped = ecs.stop_task().task(&arn).reason("enough").send().await.expect("StopTask");
    assert_eq!(stopped.task().and_then(|t| t.desired_status()), Some("STOPPED"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let t = ecs.describe_tasks().tasks(&arn).send().await.unwrap().tasks()[0].clone();
        if t.last_status() == Some("STOPPED") {
            assert_eq!(t.stop_code().map(|c| c.as_str()), Some("UserInitiated"));
            assert_eq!(t.stopped_reason(), Some("enough"));
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// REFERENCE 2.5/2.9: unknown services are `failures[]` with reason MISSING, not an error.
#[tokio::test]
async fn describe_services_reports_missing() {
    let sb = common::TestSandbox::start().await;
    let out = sb.ecs().describe_services().services("ghost").send().await.expect("DescribeServices");
    assert!(out.services().is_empty());
    assert_eq!(out.failures()[0].reason(), Some("MISSING"));
    assert_eq!(out.failures()[0].arn(), Some("arn:aws:ecs:us-east-1:000000000000:service/default/ghost"));
}

/// REFERENCE 2.2: a CODE_DEPLOY service refuses task definition changes through UpdateService.
#[tokio::test]
async fn code_deploy_service_refuses_new_task_definition() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let v1 = register(&ecs, "web", &[]).await;
    let v2 = register(&ecs, "web", &[]).await;
    let out = ecs
        .create_service()
        .service_name("web")
        .task_definition(&v1)
        .desired_count(1)
        .deployment_controller(
            DeploymentController::builder().r#type(DeploymentControllerType::CodeDeploy).build().unwrap(),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/blue/1")
                .container_name("web")
                .container_port(8080)
                .build(),
        )
        .send()
        .await
        .expect("CreateService");
    let s = out.service().unwrap();
    assert_eq!(s.task_sets().len(), 1);
    assert_eq!(s.task_sets()[0].status(), Some("PRIMARY"));
    let err = ecs.update_service().service("web").task_definition(&v2).send().await.expect_err("needs CodeDeploy");
    let e: aws_sdk_ecs::Error = err.into();
    let text = format!("{e:?}");
    assert!(text.contains("InvalidParameterException") && text.contains("CodeDeploy"), "{text}");
    // desiredCount is allowed.
    ecs.update_service().service("web").desired_count(2).send().await.expect("scale");
    wait_for(&ecs, "web", "task set scaled", |s| s.task_sets().first().is_some_and(|t| t.running_count() == 2)).await;
    let sets = ecs.describe_task_sets().cluster("default").service("web").send().await.expect("DescribeTaskSets");
    assert_eq!(sets.task_sets().len(), 1);
    assert_eq!(sets.task_sets()[0].task_definition(), Some(v1.as_str()));

    // REFERENCE 2.2: the controller can change after creation (CODE_DEPLOY -> ECS migration).
    ecs.update_service()
        .service("web")
        .deployment_controller(DeploymentController::builder().r#type(DeploymentControllerType::Ecs).build().unwrap())
        .task_definition(&v2)
        .send()
        .await
        .expect("migrate to the ECS controller");
    let s = wait_for(&ecs, "web", "rolling deployment after migration", completed_alone).await;
    assert_eq!(s.task_definition(), Some(v2.as_str()));
    assert!(s.task_sets().is_empty());
}

/// REFERENCE 2.8: an image of the sandbox's own registry that was never pushed cannot be pulled: the task
/// stops with TaskFailedToStart, CannotPullContainerError and no exit code.
#[tokio::test]
async fn unpushed_image_fails_to_start() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let image = format!("{}/never-pushed:1", sb.running.registry_host());
    ecs.register_task_definition()
        .family("job")
        .container_definitions(ContainerDefinition::builder().name("job").image(&image).build())
        .send()
        .await
        .expect("register");
    let run = ecs.run_task().task_definition("job").send().await.expect("RunTask");
    let arn = run.tasks()[0].task_arn().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let task = loop {
        let t = ecs.describe_tasks().tasks(&arn).send().await.unwrap().tasks()[0].clone();
        if t.last_status() == Some("STOPPED") {
            break t;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    assert!(task.stopped_reason().unwrap_or_default().starts_with("CannotPullContainerError"));
    assert_eq!(task.containers()[0].exit_code(), None, "the container never ran");
    assert!(task.containers()[0].reason().unwrap_or_default().contains(&image));
}

/// REFERENCE 2.4: a deployment alarm entering ALARM during the rollout fails the deployment and, with
/// rollback, returns the service to the previous task definition. The alarm is driven via the CloudWatch SDK.
#[tokio::test]
async fn deployment_alarm_fails_and_rolls_back() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let (ecs, cw) = (sb.ecs(), sb.cloudwatch());
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
    let v1 = register(&ecs, "web", &[]).await;
    let v2 = register(&ecs, "web", &[]).await;
    let alarms = aws_sdk_ecs::types::DeploymentAlarms::builder()
        .alarm_names("web-5xx")
        .enable(true)
        .rollback(true)
        .build()
        .unwrap();
    create_service(&ecs, "web", &v1, 1, DeploymentConfiguration::builder().alarms(alarms).build()).await;
    wait_for(&ecs, "web", "first deployment (after the alarm bake)", completed_alone).await;
    let updated = ecs.update_service().service("web").task_definition(&v2).send().await.expect("UpdateService");
    let updated = updated.service().unwrap();
    let bad_id = updated.deployments()[0].id().unwrap().to_owned();
    let bad_arn = updated.current_service_deployment().unwrap().to_owned();
    cw.set_alarm_state()
        .alarm_name("web-5xx")
        .state_value(StateValue::Alarm)
        .state_reason("5xx")
        .send()
        .await
        .expect("SetAlarmState");
    let s = wait_for(&ecs, "web", "alarm rollback", |s| s.deployments()[0].id() != Some(bad_id.as_str())).await;
    assert_eq!(s.task_definition(), Some(v1.as_str()), "rolled back to the previous task definition");
    let history = ecs.describe_service_deployments().service_deployment_arns(&bad_arn).send().await.expect("Describe");
    let failed = &history.service_deployments()[0];
    assert!(failed.status().is_some_and(|s| s.as_str().starts_with("ROLLBACK_")), "{failed:?}");
    assert!(failed.status_reason().unwrap_or_default().contains("web-5xx"));
    let alarms = failed.alarms().expect("alarms");
    assert_eq!(alarms.triggered_alarm_names(), ["web-5xx"]);
    // The alarm is still firing: the rollback itself is not failed (and rolled back) in turn.
    let s = wait_for(&ecs, "web", "rollback completes", completed_alone).await;
    assert_eq!(s.task_definition(), Some(v1.as_str()));
}

/// REFERENCE 2.5: DeleteService needs desiredCount 0 (or force); the service drains, then is INACTIVE.
#[tokio::test]
async fn delete_service_drains_to_inactive() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let td = register(&ecs, "web", &[]).await;
    create_service(&ecs, "web", &td, 1, DeploymentConfiguration::builder().build()).await;
    let err = ecs.delete_service().service("web").send().await.expect_err("scaled above 0");
    assert!(code(aws_sdk_ecs::Error::from(err)).contains("InvalidParameterException"));
    let out = ecs.delete_service().service("web").force(true).send().await.expect("DeleteService");
    assert_eq!(out.service().and_then(|s| s.status()), Some("DRAINING"));
    wait_for(&ecs, "web", "inactive", |s| s.status() == Some("INACTIVE")).await;
    assert!(ecs.list_services().send().await.unwrap().service_arns().is_empty());
}

/// REFERENCE 2.9 and the listing APIs: the implicit `default` cluster, CreateCluster, ListServices, ListClusters.
#[tokio::test]
async fn clusters_and_listings() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    let default = ecs.describe_clusters().send().await.expect("DescribeClusters");
    assert_eq!(default.clusters()[0].cluster_name(), Some("default"));
    let created = ecs.create_cluster().cluster_name("prod").send().await.expect("CreateCluster");
    assert_eq!(created.cluster().and_then(|c| c.status()), Some("ACTIVE"));
    let listed = ecs.list_clusters().send().await.expect("ListClusters");
    assert_eq!(listed.cluster_arns().len(), 2);
    let missing = ecs.describe_clusters().clusters("nope").send().await.expect("DescribeClusters");
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));
    let td = register(&ecs, "web", &[]).await;
    ecs.create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(&td)
        .desired_count(1)
        .send()
        .await
        .expect("create");
    let services = ecs.list_services().cluster("prod").send().await.expect("ListServices");
    assert_eq!(services.service_arns(), ["arn:aws:ecs:us-east-1:000000000000:service/prod/web"]);
    let err = ecs.list_services().cluster("ghost").send().await.expect_err("unknown cluster");
    assert!(code(aws_sdk_ecs::Error::from(err)).contains("ClusterNotFoundException"));
    let s = ecs.describe_services().cluster("prod").services("web").send().await.expect("describe");
    let s = &s.services()[0];
    let sd =
        ecs.list_service_deployments().cluster("prod").service("web").send().await.expect("ListServiceDeployments");
    assert_eq!(sd.service_deployments()[0].service_deployment_arn(), s.current_service_deployment());
}

/// REFERENCE 2.8: RunTask is idempotent per clientToken; reusing it with other parameters is ConflictException.
#[tokio::test]
async fn run_task_client_token_is_idempotent() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let ecs = sb.ecs();
    register(&ecs, "migrate", &[]).await;
    let first = ecs.run_task().task_definition("migrate").client_token("release-42").send().await.expect("RunTask");
    let again = ecs.run_task().task_definition("migrate").client_token("release-42").send().await.expect("retry");
    assert_eq!(first.tasks()[0].task_arn(), again.tasks()[0].task_arn());
    let conflict = ecs.run_task().task_definition("migrate").count(2).client_token("release-42").send().await;
    let e = aws_sdk_ecs::Error::from(conflict.expect_err("different parameters"));
    assert!(code(e).contains("ConflictException"));
}

/// Issue 17 / REFERENCE A7: a ServiceDeployment names the revisions it replaces by their service-revision ARN
/// (the ARN the earlier deployment's `targetServiceRevision` had), with live task counts; and it has no
/// `targetServiceRevisionArn` (only ListServiceDeployments' brief shape has one; the SDK would drop it silently).
#[tokio::test]
async fn service_deployment_sources_are_service_revisions_with_live_counts() {
    // Slow enough (10x) that the second deployment is still in progress when it is described.
    let sb = common::TestSandbox::with_time_scale(10.0).await;
    let ecs = sb.ecs();
    let v1 = register(&ecs, "web", &[]).await;
    let v2 = register(&ecs, "web", &[("VERSION", "2")]).await;
    create_service(&ecs, "web", &v1, 2, DeploymentConfiguration::builder().build()).await;
    let first = wait_for(&ecs, "web", "v1 completed", completed_alone).await;
    let first_arn = first.current_service_deployment().expect("current service deployment").to_owned();
    let described = ecs.describe_service_deployments().service_deployment_arns(&first_arn).send().await;
    let first_sd = described.expect("Describe v1").service_deployments()[0].clone();
    let v1_revision = first_sd.target_service_revision().and_then(|r| r.arn()).expect("v1 revision").to_owned();
    assert!(v1_revision.contains(":service-revision/default/web/"), "{v1_revision}");
    assert!(first_sd.source_service_revisions().is_empty(), "the first deployment replaces nothing");

    ecs.update_service().service("web").task_definition(&v2).send().await.expect("UpdateService");
    let second_arn =
        service(&ecs, "web").await.current_service_deployment().expect("current service deployment").to_owned();
    assert_ne!(second_arn, first_arn);
    let described = ecs.describe_service_deployments().service_deployment_arns(&second_arn).send().await;
    let second = described.expect("Describe v2").service_deployments()[0].clone();
    assert_eq!(second.status().map(|s| s.as_str()), Some("IN_PROGRESS"));
    let sources = second.source_service_revisions();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert_eq!(sources[0].arn(), Some(v1_revision.as_str()), "a service-revision ARN, not {v1}");
    assert_eq!((sources[0].requested_task_count(), sources[0].running_task_count()), (2, 2));
    let target = second.target_service_revision().expect("target revision");
    assert_ne!(target.arn(), Some(v1_revision.as_str()));
    assert_eq!(target.running_task_count() + target.pending_task_count(), target.requested_task_count());

    wait_for(&ecs, "web", "v2 completed", completed_alone).await;
    let described = ecs.describe_service_deployments().service_deployment_arns(&second_arn).send().await;
    let done = described.expect("Describe v2 done").service_deployments()[0].clone();
    let source = &done.source_service_revisions()[0];
    assert_eq!((source.requested_task_count(), source.running_task_count(), source.pending_task_count()), (0, 0, 0));
    assert_eq!(done.target_service_revision().map(|t| t.running_task_count()), Some(2));

    // On the wire: the brief shape has targetServiceRevisionArn, the full one does not.
    let endpoint = sb.running.endpoint();
    let raw = |op: &'static str, body: String| {
        let endpoint = endpoint.clone();
        async move {
            let target = format!("AmazonEC2ContainerServiceV20141113.{op}");
            let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
            common::raw_post(&endpoint, &headers, body.as_bytes()).await.json()
        }
    };
    let full = raw("DescribeServiceDeployments", format!(r#"{{"serviceDeploymentArns":["{second_arn}"]}}"#)).await;
    assert!(full["serviceDeployments"][0].get("targetServiceRevisionArn").is_none(), "{full}");
    let brief = raw("ListServiceDeployments", r#"{"service":"web"}"#.to_owned()).await;
    let listed = brief["serviceDeployments"]
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["serviceDeploymentArn"] == second_arn.as_str());
    assert_eq!(
        listed.expect("listed")["targetServiceRevisionArn"],
        full["serviceDeployments"][0]["targetServiceRevision"]["arn"]
    );
}

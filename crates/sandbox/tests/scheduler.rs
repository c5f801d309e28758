//! EventBridge Scheduler conformance against the real Rust SDK (REFERENCE A1: restJson1, HTTP bindings, request
//! bodies, ECS targets, one-time schedules), and schedules that really start ECS tasks on the scaled clock.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_scheduler::error::ProvideErrorMetadata as _;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, AwsVpcConfiguration, EcsParameters, FlexibleTimeWindow, FlexibleTimeWindowMode, LaunchType,
    NetworkConfiguration, ScheduleState, Target,
};
use pipeline_sandbox::SandboxOptions;

const ROLE: &str = "arn:aws:iam::000000000000:role/scheduler";

async fn sandbox() -> common::TestSandbox {
    // 600 simulated seconds a real second: ten minutes of schedule time pass in one.
    common::TestSandbox::with(SandboxOptions { time_scale: 600.0, ..Default::default() }).await
}

fn scheduler(sb: &common::TestSandbox) -> aws_sdk_scheduler::Client {
    aws_sdk_scheduler::Client::new(&sb.sdk)
}

fn off() -> FlexibleTimeWindow {
    FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().unwrap()
}

/// An ECS RunTask target on the default cluster, with the job's environment as TaskOverride JSON in `Input`.
fn ecs_target(td: &str, env: &[(&str, &str)]) -> Target {
    let environment: Vec<serde_json::Value> =
        env.iter().map(|(k, v)| serde_json::json!({ "name": k, "value": v })).collect();
    let input = serde_json::json!({ "containerOverrides": [{ "name": "job", "environment": environment }] });
    Target::builder()
        .arn("arn:aws:ecs:us-east-1:000000000000:cluster/default")
        .role_arn(ROLE)
        .input(input.to_string())
        .ecs_parameters(
            EcsParameters::builder()
                .task_definition_arn(td)
                .launch_type(LaunchType::Fargate)
                .network_configuration(
                    NetworkConfiguration::builder()
                        .awsvpc_configuration(AwsVpcConfiguration::builder().subnets("subnet-a").build().unwrap())
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

async fn register_job(sb: &common::TestSandbox) -> String {
    let out = sb
        .ecs()
        .register_task_definition()
        .family("job")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("job")
                .image("busybox:latest")
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    out.task_definition().unwrap().task_definition_arn().unwrap().to_owned()
}

/// `at(...)` for `minutes` of schedule time after the sandbox's scaled clock now, in UTC.
fn at_in(sb: &common::TestSandbox, minutes: i64) -> String {
    let now = jiff::Timestamp::try_from(sb.running.sandbox.ctx.clock()).unwrap();
    let then = now.checked_add(jiff::SignedDuration::from_mins(minutes)).unwrap();
    format!("at({})", then.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S"))
}

/// Every task of the default cluster with this desired status.
async fn tasks(sb: &common::TestSandbox, desired: aws_sdk_ecs::types::DesiredStatus) -> Vec<aws_sdk_ecs::types::Task> {
    let ecs = sb.ecs();
    let arns = ecs.list_tasks().desired_status(desired).send().await.unwrap().task_arns().to_vec();
    if arns.is_empty() {
        return Vec::new();
    }
    ecs.describe_tasks().set_tasks(Some(arns)).send().await.unwrap().tasks().to_vec()
}

/// CreateSchedule, GetSchedule, UpdateSchedule (which replaces the whole schedule), ListSchedules (filters by
/// `ScheduleGroup` and `NamePrefix`), DeleteSchedule, and schedule groups (REFERENCE A1 "HTTP bindings",
/// "Request body").
#[tokio::test]
async fn schedules_are_created_read_replaced_listed_and_deleted() {
    let sb = sandbox().await;
    let client = scheduler(&sb);
    let td = register_job(&sb).await;
    let group = client.create_schedule_group().name("jobs").send().await.expect("CreateScheduleGroup");
    assert_eq!(group.schedule_group_arn(), "arn:aws:scheduler:us-east-1:000000000000:schedule-group/jobs");
    assert_eq!(client.get_schedule_group().name("jobs").send().await.unwrap().name(), Some("jobs"));

    let created = client
        .create_schedule()
        .name("nightly")
        .group_name("jobs")
        .schedule_expression("cron(0 3 * * ? *)")
        .schedule_expression_timezone("Europe/Oslo")
        .description("the nightly report")
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Flexible)
                .maximum_window_in_minutes(15)
                .build()
                .unwrap(),
        )
        .target(ecs_target(&td, &[("REPORT", "daily")]))
        .send()
        .await
        .expect("CreateSchedule");
    assert_eq!(created.schedule_arn(), "arn:aws:scheduler:us-east-1:000000000000:schedule/jobs/nightly");

    let got = client.get_schedule().name("nightly").group_name("jobs").send().await.expect("GetSchedule");
    assert_eq!(got.schedule_expression(), Some("cron(0 3 * * ? *)"));
    assert_eq!(got.schedule_expression_timezone(), Some("Europe/Oslo"));
    assert_eq!(got.state(), Some(&ScheduleState::Enabled), "State defaults to ENABLED");
    assert_eq!(got.action_after_completion(), Some(&ActionAfterCompletion::None));
    assert_eq!(got.flexible_time_window().unwrap().maximum_window_in_minutes(), Some(15));
    let target = got.target().unwrap();
    assert_eq!(target.ecs_parameters().unwrap().task_definition_arn(), td);
    assert!(target.input().unwrap().contains("\"REPORT\""));
    assert!(got.creation_date().is_some() && got.last_modification_date().is_some());

    // UpdateSchedule replaces the whole schedule: what is left out (description, time zone) is gone.
    client
        .update_schedule()
        .name("nightly")
        .group_name("jobs")
        .schedule_expression("rate(1 hour)")
        .flexible_time_window(off())
        .state(ScheduleState::Disabled)
        .target(ecs_target(&td, &[]))
        .send()
        .await
        .expect("UpdateSchedule");
    let got = client.get_schedule().name("nightly").group_name("jobs").send().await.unwrap();
    assert_eq!(got.schedule_expression(), Some("rate(1 hour)"));
    assert_eq!(got.description(), None);
    assert_eq!(got.schedule_expression_timezone(), None);
    assert_eq!(got.state(), Some(&ScheduleState::Disabled));

    client
        .create_schedule()
        .name("other")
        .schedule_expression("rate(5 minutes)")
        .flexible_time_window(off())
        .target(ecs_target(&td, &[]))
        .send()
        .await
        .expect("CreateSchedule in the default group");
    let listed = client.list_schedules().group_name("jobs").send().await.expect("ListSchedules");
    let names: Vec<&str> = listed.schedules().iter().filter_map(|s| s.name()).collect();
    assert_eq!(names, ["nightly"], "ListSchedules filters by ScheduleGroup");
    let summary = &listed.schedules()[0];
    assert_eq!(summary.group_name(), Some("jobs"));
    assert_eq!(summary.target().unwrap().arn(), "arn:aws:ecs:us-east-1:000000000000:cluster/default");
    let prefixed = client.list_schedules().name_prefix("oth").send().await.unwrap();
    assert_eq!(prefixed.schedules().len(), 1);
    let groups = client.list_schedule_groups().send().await.expect("ListScheduleGroups");
    let mut group_names: Vec<&str> = groups.schedule_groups().iter().filter_map(|g| g.name()).collect();
    group_names.sort();
    assert_eq!(group_names, ["default", "jobs"]);

    client.delete_schedule().name("nightly").group_name("jobs").send().await.expect("DeleteSchedule");
    let gone = client.get_schedule().name("nightly").group_name("jobs").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    client.delete_schedule_group().name("jobs").send().await.expect("DeleteScheduleGroup");
}

/// The modelled errors with their codes (REFERENCE A1: Validation 400, ResourceNotFound 404, Conflict 409).
#[tokio::test]
async fn errors_are_the_modelled_ones() {
    let sb = sandbox().await;
    let client = scheduler(&sb);
    let td = register_job(&sb).await;
    let create = |name: &str, expression: &str| {
        client
            .create_schedule()
            .name(name)
            .schedule_expression(expression)
            .flexible_time_window(off())
            .target(ecs_target(&td, &[]))
    };
    create("a", "rate(1 day)").send().await.unwrap();
    let conflict = create("a", "rate(1 day)").send().await.unwrap_err();
    assert_eq!(conflict.code(), Some("ConflictException"));
    assert_eq!(conflict.raw_response().unwrap().status().as_u16(), 409);
    for bad in ["cron(0 3 * * *)", "rate(0 minutes)", "at(2026-12-01 03:00)", "daily"] {
        let e = create("b", bad).send().await.unwrap_err();
        assert_eq!(e.code(), Some("ValidationException"), "{bad}");
        assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    }
    let no_group = create("c", "rate(1 day)").group_name("missing").send().await.unwrap_err();
    assert_eq!(no_group.code(), Some("ResourceNotFoundException"));
    assert_eq!(no_group.raw_response().unwrap().status().as_u16(), 404);
    let bad_zone = create("d", "rate(1 day)").schedule_expression_timezone("Mars/Olympus").send().await.unwrap_err();
    assert_eq!(bad_zone.code(), Some("ValidationException"));
    // FLEXIBLE needs a maximum window.
    let flexible = client
        .create_schedule()
        .name("e")
        .schedule_expression("rate(1 day)")
        .flexible_time_window(FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Flexible).build().unwrap())
        .target(ecs_target(&td, &[]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(flexible.code(), Some("ValidationException"));
    let bad_role = client
        .create_schedule()
        .name("f")
        .schedule_expression("rate(1 day)")
        .flexible_time_window(off())
        .target(
            Target::builder()
                .arn("arn:aws:ecs:us-east-1:000000000000:cluster/default")
                .role_arn("not-a-role")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_role.code(), Some("ValidationException"));
    let missing = client.delete_schedule().name("zzz").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    let default = client.delete_schedule_group().name("default").send().await.unwrap_err();
    assert_eq!(default.code(), Some("ValidationException"));
}

/// A one-time `at()` schedule with `ActionAfterCompletion: DELETE` runs its ECS target once at its time on the
/// scaled clock, with the target's `Input` as the task's overrides, and is gone afterwards (REFERENCE A1 "Target",
/// "One-time schedules and limits").
#[tokio::test]
async fn a_one_time_schedule_starts_its_task_at_its_time_and_deletes_itself() {
    let sb = sandbox().await;
    let client = scheduler(&sb);
    let td = register_job(&sb).await;
    let tricky = "a \"quoted\" value; with spaces";
    let started = Instant::now();
    client
        .create_schedule()
        .name("once")
        .schedule_expression(at_in(&sb, 20)) // 20 schedule minutes: 2 real seconds
        .flexible_time_window(off())
        .action_after_completion(ActionAfterCompletion::Delete)
        .target(ecs_target(&td, &[("PAYLOAD", tricky)]))
        .send()
        .await
        .expect("CreateSchedule");
    assert!(tasks(&sb, aws_sdk_ecs::types::DesiredStatus::Running).await.is_empty(), "nothing runs before its time");
    let task = loop {
        let running = tasks(&sb, aws_sdk_ecs::types::DesiredStatus::Running).await;
        let stopped = tasks(&sb, aws_sdk_ecs::types::DesiredStatus::Stopped).await;
        if let Some(t) = running.into_iter().chain(stopped).next() {
            break t;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the schedule never started its task");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(started.elapsed() >= Duration::from_millis(1500), "it ran before its time: {:?}", started.elapsed());
    assert_eq!(task.task_definition_arn(), Some(td.as_str()));
    assert_eq!(task.launch_type(), Some(&aws_sdk_ecs::types::LaunchType::Fargate));
    let over = &task.overrides().unwrap().container_overrides()[0];
    assert_eq!(over.name(), Some("job"));
    assert_eq!(over.environment()[0].value(), Some(tricky), "the Input reaches the task unchanged");
    let gone = client.get_schedule().name("once").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"), "DELETE after completion");
}

/// `rate()` and `cron()` keep invoking on the scaled clock; a DISABLED schedule does not; a one-time schedule
/// with `NONE` stays stored after its run.
#[tokio::test]
async fn recurring_schedules_keep_running_and_disabled_ones_do_not() {
    let sb = sandbox().await;
    let client = scheduler(&sb);
    let td = register_job(&sb).await;
    for (name, expression, state) in [
        ("every5", "rate(5 minutes)".to_owned(), ScheduleState::Enabled),
        ("cron", "cron(0/10 * * * ? *)".to_owned(), ScheduleState::Enabled),
        ("off", "rate(1 minute)".to_owned(), ScheduleState::Disabled),
        ("kept", at_in(&sb, 5), ScheduleState::Enabled),
    ] {
        client
            .create_schedule()
            .name(name)
            .schedule_expression(expression)
            .flexible_time_window(off())
            .state(state)
            .target(ecs_target(&td, &[("WHICH", name)]))
            .send()
            .await
            .expect("CreateSchedule");
    }
    // 2.5 real seconds = 25 schedule minutes: every5 runs 5 times, cron (every 10 minutes) 2 or 3 times.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut all = tasks(&sb, aws_sdk_ecs::types::DesiredStatus::Running).await;
    all.extend(tasks(&sb, aws_sdk_ecs::types::DesiredStatus::Stopped).await);
    let count = |which: &str| {
        all.iter()
            .filter(|t| t.overrides().unwrap().container_overrides()[0].environment()[0].value() == Some(which))
            .count()
    };
    assert!((4..=6).contains(&count("every5")), "rate(5 minutes) ran {} times", count("every5"));
    assert!((2..=3).contains(&count("cron")), "cron every 10 minutes ran {} times", count("cron"));
    assert_eq!(count("off"), 0, "a DISABLED schedule never runs");
    assert_eq!(count("kept"), 1, "a one-time schedule runs once");
    assert!(client.get_schedule().name("kept").send().await.is_ok(), "NONE keeps a completed one-time schedule");
}

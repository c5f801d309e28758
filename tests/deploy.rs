//! The deploy half end to end against the sandbox: rolling and CodeDeploy releases, the guard,
//! rollbacks, cancels, concurrency, and one-off tasks.

use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;

use crate::fixture::{Controller, repo_for};
use crate::harness::{Pipeline, Run, Sandbox, remove_local_images};

const ROLLED_BACK: i32 = 4;
const CANCELLED: i32 = 6;

const FAST: &str = "    guard:\n      poll-interval: 50ms\n";

fn release(repo: &crate::harness::Repo, sb: &Sandbox, version: &str) -> Run {
    Pipeline::new(repo).sandbox(sb).args(&["--output", "json", "release", "--version", version]).run()
}

fn cleanup(sb: &Sandbox) {
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn a_rolling_release_registers_deploys_and_verifies_then_an_unchanged_rerelease_does_nothing() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, FAST);

    let first = release(&repo, &sb, "1.0.0");
    first.code(0);
    let out = first.json();
    let td = out["task_definition_arn"].as_str().expect("a revision").to_owned();
    assert_ne!(td, svc.initial_td);
    assert!(out["deployment_id"].as_str().is_some_and(|d| d.starts_with("ecs-svc/")), "{out}");
    assert_eq!(sb.running_td(&svc), td, "the service runs the new revision");
    let tags = sb.td_tags(&td);
    assert!(tags.contains(&"pipeline:verified=true".to_string()), "{tags:?}");
    assert!(tags.contains(&"pipeline:version=1.0.0".to_string()), "{tags:?}");
    // The registered revision pins the image by the digest that was pushed.
    assert_eq!(sb.td_image(&td), out["image_uri"].as_str().unwrap());

    let before = sb.writes();
    let again = release(&repo, &sb, "1.0.0");
    again.code(0);
    let out = again.json();
    assert_eq!(out["task_definition_arn"], td.as_str(), "no new revision");
    assert!(out.get("deployment_id").is_none(), "no deployment: {out}");
    assert_eq!(sb.writes(), before, "no write call: nothing pushed, registered, deployed, tagged or armed");
    cleanup(&sb);
}

#[test]
fn a_rolling_release_whose_tasks_crash_is_caught_by_the_circuit_breaker() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, &format!("    env:\n      SANDBOX_EXIT_CODE: \"3\"\n{FAST}"));
    let run = release(&repo, &sb, "1.0.0");
    run.code(ROLLED_BACK).stderr_has("rolled back");
    let out = run.json();
    assert_eq!(out["rolled_back"], true);
    assert_eq!(sb.running_td(&svc), svc.initial_td, "ECS rolled the service back");
    // The stopped tasks' reasons are shown.
    assert!(run.stderr.contains("exit 3") || run.stdout.contains("exit 3"), "{}", run.stderr);
    cleanup(&sb);
}

#[test]
fn a_guard_alarm_during_the_bake_rolls_a_rolling_release_back_to_the_last_verified() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    sb.create_alarm("web-errors");
    let repo = repo_for(
        Controller::Rolling,
        "    guard:\n      poll-interval: 50ms\n      alarms: [web-errors]\n      bake: 30s\n",
    );
    // The first release is good and becomes the last verified one... (no bake for it)
    let good = repo_for(Controller::Rolling, "    guard:\n      poll-interval: 50ms\n      alarms: [web-errors]\n");
    release(&good, &sb, "1.0.0").code(0);
    let verified = sb.running_td(&svc);

    repo.write("content.txt", "v2");
    repo.commit("feat: v2");
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "2.0.0"]);
    let handle = std::thread::spawn(move || pipeline.run());
    // Wait until the new revision runs (the bake has started), then fire the alarm.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sb.running_td(&svc) == verified && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    sb.set_alarm("web-errors", StateValue::Alarm);
    let run = handle.join().unwrap();
    run.code(ROLLED_BACK).stderr_has("web-errors");
    assert_eq!(sb.running_td(&svc), verified, "back on the last verified revision");
    cleanup(&sb);
}

#[test]
fn a_firing_guard_alarm_blocks_the_start() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    sb.create_alarm("web-errors");
    sb.set_alarm("web-errors", StateValue::Alarm);
    let repo = repo_for(Controller::Rolling, "    guard:\n      alarms: [web-errors]\n");
    let run = release(&repo, &sb, "1.0.0");
    run.code(1).stderr_has("web-errors");
    assert_eq!(sb.running_td(&svc), svc.initial_td, "nothing deployed");
    cleanup(&sb);
}

#[test]
fn rollback_after_two_good_releases_returns_to_the_first() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, FAST);
    release(&repo, &sb, "1.0.0").code(0);
    let first = sb.running_td(&svc);
    repo.write("content.txt", "v2");
    repo.commit("feat: v2");
    release(&repo, &sb, "1.1.0").code(0);
    assert_ne!(sb.running_td(&svc), first);

    let run = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "rollback"]).run();
    run.code(0);
    assert_eq!(sb.running_td(&svc), first);
    cleanup(&sb);
}

#[test]
fn a_before_deploy_task_that_fails_stops_the_release_before_the_deployment() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, &format!("    before-deploy: [ {{ run-task: migrate }} ]\n{FAST}"));
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(
        ".pipeline.yml",
        &format!("{config}tasks:\n  migrate:\n    command: [\"migrate\"]\n    env:\n      SANDBOX_EXIT_CODE: \"3\"\n"),
    );
    repo.commit("feat: migrate");
    let run = release(&repo, &sb, "1.0.0");
    run.code(1).stderr_has("migrate").stderr_has("code 3");
    assert_eq!(sb.running_td(&svc), svc.initial_td, "nothing deployed");
    cleanup(&sb);
}

#[test]
fn a_codedeploy_canary_release_succeeds_and_is_verified() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::CodeDeploy);
    let repo = repo_for(Controller::CodeDeploy, FAST);
    let run = release(&repo, &sb, "1.0.0");
    run.code(0);
    let out = run.json();
    let td = out["task_definition_arn"].as_str().unwrap().to_owned();
    assert!(out["deployment_id"].as_str().is_some_and(|d| d.starts_with("d-")), "{out}");
    assert_eq!(sb.running_td(&svc), td);
    assert!(sb.td_tags(&td).contains(&"pipeline:verified=true".to_string()));
    assert!(run.stderr.contains("100% on the new release"), "traffic progress is reported:\n{}", run.stderr);
    cleanup(&sb);
}

#[test]
fn a_codedeploy_release_whose_alarm_fires_mid_shift_is_stopped_and_rolled_back() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::CodeDeploy);
    sb.create_alarm("web-errors");
    let repo = repo_for(Controller::CodeDeploy, "    guard:\n      poll-interval: 50ms\n      alarms: [web-errors]\n");
    let repo_config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    // Slow canary so the alarm lands mid-shift.
    repo.write(".pipeline.yml", &repo_config.replace("ECSCanary10Percent5Minutes", "ECSCanary10Percent15Minutes"));
    repo.commit("chore: slower canary");
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]);
    let handle = std::thread::spawn(move || pipeline.run());
    wait_for_deployment(&sb);
    std::thread::sleep(Duration::from_millis(200));
    sb.set_alarm("web-errors", StateValue::Alarm);
    let run = handle.join().unwrap();
    run.code(ROLLED_BACK).stderr_has("web-errors").stderr_has("CodeDeploy d-");
    assert_eq!(run.json()["rolled_back"], true);
    assert_eq!(sb.running_td(&svc), svc.initial_td, "the service is back on the old revision");
    cleanup(&sb);
}

#[test]
fn sigterm_mid_shift_rolls_back() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::CodeDeploy);
    let repo = repo_for(Controller::CodeDeploy, FAST);
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(".pipeline.yml", &config.replace("ECSCanary10Percent5Minutes", "ECSCanary10Percent15Minutes"));
    repo.commit("chore: slower canary");
    let child = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]).spawn();
    wait_for_deployment(&sb);
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id();
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let run: Run = child.wait_with_output().unwrap().into();
    run.code(CANCELLED).stderr_has("rolled back");
    assert_eq!(sb.running_td(&svc), svc.initial_td);
    cleanup(&sb);
}

#[test]
fn a_second_release_to_a_busy_deployment_group_fails_clearly_when_configured_to() {
    let sb = Sandbox::start();
    sb.service(Controller::CodeDeploy);
    let repo = repo_for(Controller::CodeDeploy, FAST);
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(
        ".pipeline.yml",
        &config.replace("ECSCanary10Percent5Minutes", "ECSCanary10Percent15Minutes\n      on-busy: fail"),
    );
    repo.commit("chore: fail when busy");
    let first = Pipeline::new(&repo).sandbox(&sb).args(&["release", "--version", "1.0.0"]).spawn();
    let active = wait_for_deployment(&sb);
    let second = release(&repo, &sb, "1.0.0");
    second.code(1).stderr_has(&active);
    let first: Run = first.wait_with_output().unwrap().into();
    first.code(0);
    cleanup(&sb);
}

/// Waits until the group has a deployment in progress and returns its id.
fn wait_for_deployment(sb: &Sandbox) -> String {
    let cd = sb.codedeploy();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = sb.block_on(async {
            let list =
                cd.list_deployments().application_name("web").deployment_group_name("web-prod").send().await.ok()?;
            list.deployments().first().cloned()
        });
        if let Some(id) = found {
            return id;
        }
        assert!(std::time::Instant::now() < deadline, "no CodeDeploy deployment started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_rolling_releases_at_once_run_one_after_the_other() {
    // A slower clock, so the first rollout is still in flight when the second release is ready.
    let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: 8.0, ..Default::default() });
    let svc = sb.service(Controller::Rolling);
    let first_repo = repo_for(Controller::Rolling, FAST);
    let second_repo = repo_for(Controller::Rolling, &format!("    env:\n      SECOND: \"yes\"\n{FAST}"));
    let first =
        Pipeline::new(&first_repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]).spawn();
    // Let the first one start its deployment before the second arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sb.running_td(&svc) == svc.initial_td && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = release(&second_repo, &sb, "2.0.0");
    let first: Run = first.wait_with_output().unwrap().into();
    first.code(0);
    second.code(0).stderr_has("waiting for deployment");
    assert_eq!(sb.running_td(&svc), second.json()["task_definition_arn"].as_str().unwrap(), "the later release wins");
    cleanup(&sb);
}

#[test]
fn deploy_promotes_an_existing_image_by_digest() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, FAST);
    let first = release(&repo, &sb, "1.0.0");
    first.code(0);
    let first_image = first.json()["image_uri"].as_str().unwrap().to_owned();
    repo.write("content.txt", "v2");
    repo.commit("feat: v2");
    release(&repo, &sb, "1.1.0").code(0);

    let promoted =
        Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "deploy", "--image", "web:v1.0.0"]).run();
    promoted.code(0);
    let out = promoted.json();
    assert_eq!(out["image_uri"], first_image.as_str(), "pinned by the digest behind the tag");
    let td = sb.running_td(&svc);
    assert_eq!(sb.td_image(&td), first_image);
    assert!(sb.td_tags(&td).contains(&"pipeline:version=1.0.0".to_string()), "{:?}", sb.td_tags(&td));

    let missing = Pipeline::new(&repo).sandbox(&sb).args(&["deploy", "--image", "web:v9.9.9"]).run();
    missing.code(3).stderr_has("not in ECR");
    cleanup(&sb);
}

#[test]
fn run_task_waits_for_the_exit_code_and_passes_values_without_a_shell() {
    let sb = Sandbox::start();
    sb.service(Controller::Rolling);
    let repo = repo_for(Controller::Rolling, FAST);
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    repo.write(".pipeline.yml", &format!("{config}tasks:\n  migrate:\n    command: [\"./migrate\", \"up\"]\n"));
    repo.commit("feat: migrate task");
    let tricky = "x; rm -rf / $(reboot)";
    Pipeline::new(&repo).sandbox(&sb).args(&["run-task", "migrate", "--var", &format!("NOTE={tricky}")]).run().code(0);
    let ecs = sb.ecs();
    let env = sb.block_on(async {
        let listed = ecs
            .list_tasks()
            .cluster("prod")
            .started_by("pipeline-migrate")
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .send()
            .await
            .unwrap();
        let tasks =
            ecs.describe_tasks().cluster("prod").set_tasks(Some(listed.task_arns().to_vec())).send().await.unwrap();
        let overrides = tasks.tasks()[0].overrides().unwrap().container_overrides()[0].clone();
        assert_eq!(overrides.command(), ["./migrate", "up"]);
        overrides
            .environment()
            .iter()
            .map(|kv| (kv.name().unwrap().to_owned(), kv.value().unwrap().to_owned()))
            .collect::<Vec<_>>()
    });
    assert!(env.contains(&("NOTE".to_string(), tricky.to_string())), "the value arrives as it was given: {env:?}");

    Pipeline::new(&repo)
        .sandbox(&sb)
        .args(&["run-task", "migrate", "--var", "SANDBOX_EXIT_CODE=5"])
        .run()
        // The job's exit code is pipeline's (issue 15; it was 1 before).
        .code(5)
        .stderr_has("code 5");
}

//! The guard in every phase: an alarm during the CodeDeploy bake (which runs inside the deployment's
//! termination wait), an alarm shorter than one poll interval, and `wait: false`, where AWS's own
//! alarms watch and `pipeline status` tells the end.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::StateValue;

use crate::fixture::{Controller, repo_for};
use crate::harness::{Pipeline, Sandbox, remove_local_images};
use crate::inflight::{edit_config, run_with};

const ROLLED_BACK: i32 = 4;

fn release(repo: &crate::harness::Repo, sb: &Sandbox) -> Pipeline {
    Pipeline::new(repo).sandbox(sb).args(&["--output", "json", "release", "--version", "1.0.0"])
}

#[test]
fn an_alarm_during_the_codedeploy_bake_returns_traffic_to_the_previous_revision() {
    let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: 60.0, ..Default::default() });
    let svc = sb.service(Controller::CodeDeploy);
    sb.termination_wait(60);
    sb.create_alarm("web-errors");
    let repo = repo_for(
        Controller::CodeDeploy,
        "    guard:\n      poll-interval: 50ms\n      alarms: [web-errors]\n      bake: 20s\n",
    );
    let started = Instant::now();
    let (run, seen) = run_with(release(&repo, &sb), "[bake]", Duration::from_millis(300), |_| {
        // Traffic is all on the new revision, and the previous one still runs.
        sb.set_alarm("web-errors", StateValue::Alarm)
    });
    assert!(seen, "the bake started\n{}", run.stderr);
    run.code(ROLLED_BACK).stderr_has("web-errors");
    assert_eq!(sb.running_td(&svc), svc.initial_td, "traffic is back on the previous revision");
    assert!(sb.settled(&svc, Duration::from_secs(10)).is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "rolled back inside the bake, not after: {:?}",
        started.elapsed()
    );
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn an_alarm_before_the_codedeploy_replacement_exists_is_a_rollback_where_nothing_had_moved() {
    // 1x: CodeDeploy spends three seconds (Created, then BeforeInstall) before Install creates the replacement task
    // set, so an alarm set as soon as the deployment is created stops it before then.
    let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: 1.0, ..Default::default() });
    let svc = sb.service(Controller::CodeDeploy);
    sb.create_alarm("web-errors");
    let repo = repo_for(Controller::CodeDeploy, "    guard:\n      poll-interval: 50ms\n      alarms: [web-errors]\n");
    let (run, seen) = run_with(release(&repo, &sb), "deployment d-", Duration::ZERO, |_| {
        sb.set_alarm("web-errors", StateValue::Alarm)
    });
    assert!(seen, "the deployment was created\n{}", run.stderr);
    run.code(ROLLED_BACK)
        .stderr_has("web-errors")
        .stderr_has(&format!("nothing had moved; the service still runs {}", svc.initial_td));
    assert_eq!(sb.running_td(&svc), svc.initial_td, "the service runs its initial revision");
    assert_eq!(sb.in_flight(&svc), Vec::<String>::new(), "nothing in flight");
    // The replacement never existed: Install was skipped, no rollback deployment was made, one task set only.
    let deployments = sb.codedeploy_deployments();
    assert_eq!(deployments.len(), 1, "no rollback deployment: {deployments:?}");
    let (cd, ecs) = (sb.codedeploy(), sb.ecs());
    let (events, task_sets) = sb.block_on(async {
        let target = cd.get_deployment_target().deployment_id(&deployments[0]).target_id("prod:web").send().await;
        let target = target.expect("GetDeploymentTarget");
        let ecs_target = target.deployment_target().and_then(|t| t.ecs_target()).expect("an ECS target").clone();
        let described = ecs.describe_services().cluster(&svc.cluster).services(&svc.name).send().await.unwrap();
        (ecs_target.lifecycle_events().to_vec(), described.services()[0].task_sets().len())
    });
    let install = events.iter().find(|e| e.lifecycle_event_name() == Some("Install")).expect("an Install event");
    assert_eq!(install.status().map(|s| s.as_str()), Some("Skipped"), "Install never ran: {events:?}");
    assert_eq!(task_sets, 1, "only the original task set");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn a_bake_longer_than_the_termination_wait_is_refused_at_plan_time_with_the_fix() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::CodeDeploy);
    sb.termination_wait(1);
    let repo = repo_for(Controller::CodeDeploy, "    guard:\n      bake: 5m\n");
    let run = release(&repo, &sb).run();
    run.code(3).stderr_has("termination wait of at least 5").stderr_has("update-deployment-group");
    assert!(sb.codedeploy_deployments().is_empty());
    assert_eq!(sb.running_td(&svc), svc.initial_td);
}

/// ALARM for ~150 ms, then OK again, with a one-second poll: only the alarm's history shows it.
fn blink(sb: &Sandbox) {
    sb.set_alarm("web-errors", StateValue::Alarm);
    std::thread::sleep(Duration::from_millis(150));
    sb.set_alarm("web-errors", StateValue::Ok);
}

#[test]
fn an_alarm_shorter_than_one_poll_interval_is_caught_during_the_shift_and_during_the_bake() {
    for (phase, marker) in [("shift", "deploy: deployment"), ("bake", "[bake]")] {
        // 8x: the rolling shift takes about two seconds, two polls.
        let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: 8.0, ..Default::default() });
        let svc = sb.service(Controller::Rolling);
        sb.create_alarm("web-errors");
        let repo = repo_for(
            Controller::Rolling,
            "    guard:\n      poll-interval: 1s\n      alarms: [web-errors]\n      bake: 10s\n",
        );
        let (run, seen) = run_with(release(&repo, &sb), marker, Duration::from_millis(200), |_| blink(&sb));
        assert!(seen, "{phase}: the phase started\n{}", run.stderr);
        assert_eq!(run.code, ROLLED_BACK, "{phase}: a short ALARM is caught\n{}", run.stderr);
        assert!(run.stderr.contains("web-errors"), "{phase}\n{}", run.stderr);
        assert_eq!(sb.running_td(&svc), svc.initial_td, "{phase}");
        remove_local_images(&format!("{}/web", sb.running.registry_host()));
    }
}

/// How many times the sandbox was called with `operation` (`service:Operation`).
fn calls_of(sb: &Sandbox, operation: &str) -> u64 {
    sb.running.sandbox.world().calls.operations.get(operation).map_or(0, |c| c.count)
}

#[test]
fn the_deployment_is_polled_quickly_and_the_alarms_once_per_poll_interval_and_at_the_end() {
    // 8x: the rolling shift takes two to three seconds, well inside one 5s interval.
    let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: 8.0, ..Default::default() });
    let svc = sb.service(Controller::Rolling);
    sb.create_alarm("web-errors");
    let repo = repo_for(Controller::Rolling, "    guard:\n      poll-interval: 5s\n      alarms: [web-errors]\n");
    let run = release(&repo, &sb).run();
    run.code(0);
    assert_ne!(sb.running_td(&svc), svc.initial_td, "the release runs");
    // The deployment at 100, 250, 475, 812 ms... after the start (planning reads the service too).
    let polls = calls_of(&sb, "ecs:DescribeServices");
    assert!(polls >= 6, "the deployment was polled {polls} times in a rollout of seconds\n{}", run.stderr);
    // The alarms' history at the first poll and once more when the rollout ended, not at every poll.
    assert_eq!(calls_of(&sb, "cloudwatch:DescribeAlarmHistory"), 2, "polls: {polls}\n{}", run.stderr);
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

fn attach_ecs_alarms(sb: &Sandbox) {
    use aws_sdk_ecs::types::{DeploymentAlarms, DeploymentCircuitBreaker, DeploymentConfiguration};
    let ecs = sb.ecs();
    sb.block_on(async {
        ecs.update_service()
            .cluster("prod")
            .service("web")
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .alarms(
                        DeploymentAlarms::builder()
                            .alarm_names("web-errors")
                            .enable(true)
                            .rollback(true)
                            .build()
                            .unwrap(),
                    )
                    .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
                    .build(),
            )
            .send()
            .await
            .expect("UpdateService")
    });
}

#[test]
fn wait_false_exits_at_once_and_aws_rolls_back_on_alarm_which_status_then_reports() {
    for controller in [Controller::Rolling, Controller::CodeDeploy] {
        let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: 8.0, ..Default::default() });
        let svc = sb.service(controller);
        sb.create_alarm("web-errors");
        if controller == Controller::Rolling {
            attach_ecs_alarms(&sb);
        }
        // The service's own first rollout (and ECS's alarm bake after it) ends before the release.
        assert!(sb.settled(&svc, Duration::from_secs(30)).is_empty());
        let repo = repo_for(controller, "    wait: false\n    guard:\n      alarms: [web-errors]\n");
        if controller == Controller::CodeDeploy {
            edit_config(&repo, "ECSCanary10Percent5Minutes", "ECSCanary10Percent15Minutes");
        }
        let started = Instant::now();
        let run = release(&repo, &sb).run();
        run.code(0).stderr_has("wait: false").stderr_has("web-errors");
        let out = run.json();
        let deployment = out["deployment_id"].as_str().expect("the deployment it started").to_owned();
        assert!(started.elapsed() < Duration::from_secs(15), "exits at once: {:?}", started.elapsed());
        assert!(!sb.in_flight(&svc).is_empty(), "still deploying after the exit");

        if controller == Controller::CodeDeploy {
            // Once the canary has traffic: there is something to roll back.
            let cd = sb.codedeploy();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let weight = sb.block_on(async {
                    let t = cd
                        .get_deployment_target()
                        .deployment_id(&deployment)
                        .target_id("prod:web")
                        .send()
                        .await
                        .ok()?;
                    let sets = t.deployment_target()?.ecs_target()?.task_sets_info().to_vec();
                    sets.iter()
                        .find(|s| s.task_set_label().map(|l| l.as_str()) == Some("Green"))
                        .map(|s| s.traffic_weight())
                });
                if weight.is_some_and(|w| w > 0.0) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // AWS, not the tool, rolls back on the alarm.
        sb.set_alarm("web-errors", StateValue::Alarm);
        let deadline = Instant::now() + Duration::from_secs(30);
        while (sb.running_td(&svc) != svc.initial_td || !sb.in_flight(&svc).is_empty()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(sb.running_td(&svc), svc.initial_td, "AWS rolled back");
        sb.set_alarm("web-errors", StateValue::Ok);

        let status = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "status"]).run();
        status.code(0);
        assert!(
            status.stderr.contains("ROLLBACK_SUCCESSFUL") || status.stderr.contains("rolled back by"),
            "status tells how {deployment} ended:\n{}",
            status.stderr
        );
        assert_eq!(status.json()["rolled_back"], true, "{}", status.stdout);
        remove_local_images(&format!("{}/web", sb.running.registry_host()));
    }
}

#[test]
fn wait_false_is_refused_when_nothing_would_watch() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    sb.create_alarm("web-errors");
    // The fixture service has the circuit breaker but no deployment alarms.
    let repo = repo_for(Controller::Rolling, "    wait: false\n    guard:\n      alarms: [web-errors]\n");
    let run = release(&repo, &sb).run();
    run.code(3).stderr_has("wait: false").stderr_has("deployment alarms");
    assert_eq!(sb.running_td(&svc), svc.initial_td, "nothing deployed");
}

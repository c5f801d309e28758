//! A cancel (SIGINT or SIGTERM, as a cancelled workflow sends) in every phase of a release, on a
//! rolling and on a CodeDeploy service: exit 6, the previous revision serving, nothing left deploying
//! (checked through the sandbox's own API).

use std::time::{Duration, Instant};

use crate::fixture::Controller;
use crate::harness::{Pipeline, Sandbox, remove_local_images};
use crate::inflight::{edit_config, repo, run_and_signal};

const CANCELLED: i32 = 6;

#[derive(Clone, Copy, Debug)]
enum Phase {
    Build,
    Push,
    Register,
    Task,
    Shift,
    Bake,
}

const PHASES: [Phase; 6] = [Phase::Build, Phase::Push, Phase::Register, Phase::Task, Phase::Shift, Phase::Bake];

/// One release cancelled by `signal` in `phase`; returns a failure description, or `None` when it held.
fn cancel_in(controller: Controller, phase: Phase, signal: &str) -> Option<String> {
    // Rolling rollouts take ~2 s at 8x; CodeDeploy's 15-minute canary takes 15 s at 60x.
    let scale = if controller == Controller::Rolling { 8.0 } else { 60.0 };
    let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: scale, ..Default::default() });
    let svc = sb.service(controller);
    let mut extra = String::new();
    if matches!(phase, Phase::Bake) {
        extra.push_str("      bake: 20s\n");
        if controller == Controller::CodeDeploy {
            sb.termination_wait(60);
        }
    }
    if matches!(phase, Phase::Task) {
        extra.push_str("    before-deploy: [ { run-task: migrate } ]\n");
    }
    let repo = repo(controller, &extra);
    if controller == Controller::CodeDeploy {
        edit_config(&repo, "ECSCanary10Percent5Minutes", "ECSCanary10Percent15Minutes");
    }
    if matches!(phase, Phase::Task) {
        let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
        repo.write(
            ".pipeline.yml",
            &format!(
                "{config}tasks:\n  migrate:\n    command: [migrate]\n    env:\n      SANDBOX_RUN_SECONDS: \"3000\"\n"
            ),
        );
        repo.commit("feat: migrate");
    }
    let (marker, delay) = match phase {
        Phase::Build => ("[build]", 0),
        Phase::Push => {
            sb.fault(r#"{"kind":"latency","service":"registry","operation":"request","latency_ms":400}"#);
            ("[push]", 300)
        }
        Phase::Register => {
            sb.fault(r#"{"kind":"latency","service":"ecs","operation":"RegisterTaskDefinition","latency_ms":1500}"#);
            ("[register]", 300)
        }
        Phase::Task => ("[task]", 300),
        Phase::Shift => ("deploy: deployment", 300),
        Phase::Bake => ("[bake]", 300),
    };
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]);
    let (run, signalled) = run_and_signal(pipeline, marker, Duration::from_millis(delay), signal);
    sb.clear_faults();
    let left = sb.settled(&svc, Duration::from_secs(20));
    let running = sb.running_td(&svc);
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
    let what = format!("{controller:?} {phase:?} SIG{signal}");
    if !signalled {
        return Some(format!("{what}: the phase marker {marker:?} never appeared\n{}", run.stderr));
    }
    if run.code != CANCELLED || !run.stderr.contains("cancelled") {
        return Some(format!("{what}: exit {} (want 6)\n{}", run.code, run.stderr));
    }
    if running != svc.initial_td {
        return Some(format!("{what}: the service runs {running}, not the previous {}", svc.initial_td));
    }
    if !left.is_empty() {
        return Some(format!("{what}: still in flight: {left:?}"));
    }
    None
}

fn every_phase(controller: Controller) {
    let start = Instant::now();
    let cases: Vec<(Phase, &str)> = PHASES.iter().flat_map(|p| [(*p, "INT"), (*p, "TERM")]).collect();
    let mut failures = Vec::new();
    // Six at a time: each case has its own sandbox and image build.
    for chunk in cases.chunks(6) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|(p, s)| (*p, s.to_string()))
            .map(|(p, s)| std::thread::spawn(move || cancel_in(controller, p, &s)))
            .collect();
        failures.extend(handles.into_iter().filter_map(|h| h.join().unwrap()));
    }
    eprintln!("{controller:?}: {} cancels in {:?}", cases.len(), start.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {} cancels did not hold:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n---\n")
    );
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if *self == Controller::Rolling { "rolling" } else { "codedeploy" })
    }
}

#[test]
fn sigint_and_sigterm_in_every_phase_of_a_rolling_release_leave_the_previous_revision_serving() {
    every_phase(Controller::Rolling);
}

#[test]
fn sigint_and_sigterm_in_every_phase_of_a_codedeploy_release_leave_the_previous_revision_serving() {
    every_phase(Controller::CodeDeploy);
}

#[test]
fn a_cancel_just_before_create_deployment_creates_none() {
    // The guard's DescribeAlarms is slowed, so the signal lands while the guard is armed: the next
    // boundary (before CreateDeployment) must stop the release with nothing deployed.
    let sb = Sandbox::start();
    let svc = sb.service(Controller::CodeDeploy);
    sb.fault(r#"{"kind":"latency","service":"cloudwatch","operation":"DescribeAlarms","latency_ms":1500}"#);
    let repo = repo(Controller::CodeDeploy, "");
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["release", "--version", "1.0.0"]);
    let (run, signalled) = run_and_signal(pipeline, "[register]", Duration::from_millis(300), "INT");
    assert!(signalled);
    run.code(CANCELLED).stderr_has("nothing was deployed");
    assert!(sb.codedeploy_deployments().is_empty(), "no deployment was created");
    assert_eq!(sb.running_td(&svc), svc.initial_td);
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

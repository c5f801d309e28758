//! The fault matrix: every AWS operation a release calls x {throttling, 500, latency} x {a burst that
//! ends, a fault that does not}. A release either completes, or ends with the service on the revision
//! that ran before it, with the documented exit code; exit 1 ("nothing is deploying") only when no
//! deployment was created, and exit 5 only naming what still runs and how to finish it. Nothing is left
//! in flight once the faults stop (checked through the sandbox's own API).

use std::time::{Duration, Instant};

use crate::fixture::Controller;
use crate::harness::{Pipeline, Sandbox, remove_local_images};
use crate::inflight::{edit_config, repo, run_and_signal, run_with};

/// (service, operation, controller, when the fault starts)
#[derive(Clone, Copy)]
enum When {
    /// From the start of the run.
    Start,
    /// Once the deployment is in flight.
    InFlight,
    /// Once in flight, with a SIGINT mid-shift so the undo path (StopDeployment) runs.
    CancelMidShift,
}

const OPERATIONS: [(&str, &str, Controller, When); 11] = [
    ("ecs", "RegisterTaskDefinition", Controller::Rolling, When::Start),
    ("codedeploy", "CreateDeployment", Controller::CodeDeploy, When::Start),
    ("codedeploy", "GetDeployment", Controller::CodeDeploy, When::InFlight),
    ("codedeploy", "GetDeploymentTarget", Controller::CodeDeploy, When::InFlight),
    ("codedeploy", "StopDeployment", Controller::CodeDeploy, When::CancelMidShift),
    ("ecs", "UpdateService", Controller::Rolling, When::Start),
    ("ecs", "DescribeServices", Controller::Rolling, When::InFlight),
    ("cloudwatch", "DescribeAlarms", Controller::CodeDeploy, When::InFlight),
    ("cloudwatch", "DescribeAlarmHistory", Controller::Rolling, When::InFlight),
    ("ecr", "PutImage", Controller::Rolling, When::Start),
    ("registry", "request", Controller::Rolling, When::Start),
];

struct Case {
    service: &'static str,
    operation: &'static str,
    controller: Controller,
    when: When,
    kind: &'static str,
    lasting: bool,
}

impl Case {
    fn name(&self) -> String {
        format!("{}:{} {} {}", self.service, self.operation, self.kind, if self.lasting { "lasting" } else { "burst" })
    }

    fn rule(&self) -> String {
        let count = if self.lasting { String::new() } else { ",\"count\":4".into() };
        let latency = if self.kind == "latency" { ",\"latency_ms\":400" } else { "" };
        format!(
            r#"{{"kind":"{}","service":"{}","operation":"{}"{count}{latency}}}"#,
            self.kind, self.service, self.operation
        )
    }
}

/// Runs one case; `Err` says why it did not hold.
fn run_case(case: &Case) -> Result<i32, String> {
    let scale = if case.controller == Controller::Rolling { 10.0 } else { 120.0 };
    let sb = Sandbox::with(pipeline_sandbox::SandboxOptions { time_scale: scale, ..Default::default() });
    let svc = sb.service(case.controller);
    // A rolling release bakes a little, so DescribeAlarmHistory is read while it is live.
    let repo = repo(case.controller, if case.controller == Controller::Rolling { "      bake: 2s\n" } else { "" });
    if case.controller == Controller::CodeDeploy {
        edit_config(&repo, "ECSCanary10Percent5Minutes", "ECSCanary10Percent15Minutes");
    }
    let pipeline = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]);
    let run = match case.when {
        When::Start => {
            sb.fault(&case.rule());
            pipeline.run()
        }
        When::InFlight => {
            let marker = "deploy: deployment";
            let (run, seen) = run_with(pipeline, marker, Duration::ZERO, |_| sb.fault(&case.rule()));
            if !seen {
                return Err(format!("never in flight (exit {})\n{}", run.code, run.stderr));
            }
            run
        }
        When::CancelMidShift => {
            sb.fault(&case.rule());
            run_and_signal(pipeline, "deploy: deployment", Duration::from_millis(500), "INT").0
        }
    };
    sb.clear_faults();
    let left = sb.settled(&svc, Duration::from_secs(30));
    let running = sb.running_td(&svc);
    let ours = run.json().get("task_definition_arn").and_then(|v| v.as_str()).map(str::to_owned);
    let deployments = sb.codedeploy_deployments();
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
    let explain = |why: &str| format!("{why} (exit {})\n{}", run.code, run.stderr);
    let held = match run.code {
        0 => ours.as_deref() == Some(running.as_str()),
        4 | 6 => running == svc.initial_td,
        1 => running == svc.initial_td && deployments.is_empty(),
        5 => {
            (run.stderr.contains("d-") || run.stderr.contains("ecs-svc/"))
                && (run.stderr.contains("stop-deployment")
                    || run.stderr.contains("pipeline status")
                    || run.stderr.contains("pipeline rollback"))
        }
        _ => false,
    };
    if !held {
        return Err(explain(&format!("did not hold: the service runs {running}, the release registered {ours:?}")));
    }
    if !left.is_empty() {
        return Err(explain(&format!("still in flight after the faults stopped: {left:?}")));
    }
    Ok(run.code)
}

#[test]
fn the_fault_matrix_never_abandons_a_live_deployment() {
    let start = Instant::now();
    let mut cases = Vec::new();
    for (service, operation, controller, when) in OPERATIONS {
        for kind in ["throttle", "error", "latency"] {
            for lasting in [false, true] {
                cases.push(Case { service, operation, controller, when, kind, lasting });
            }
        }
    }
    let cases = std::sync::Arc::new(cases);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let results = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    // Eight cases at a time, each with its own sandbox.
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (cases, next, results) = (cases.clone(), next.clone(), results.clone());
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { return };
                    let outcome = run_case(case);
                    results.lock().unwrap().push((case.name(), outcome));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let results = results.lock().unwrap();
    let held = results.iter().filter(|(_, r)| r.is_ok()).count();
    let mut codes = std::collections::BTreeMap::<i32, usize>::new();
    for (_, r) in results.iter() {
        if let Ok(code) = r {
            *codes.entry(*code).or_default() += 1;
        }
    }
    eprintln!("fault matrix: {held} held / {} tried in {:?}; exit codes {codes:?}", results.len(), start.elapsed());
    let failed: Vec<String> =
        results.iter().filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}"))).collect();
    assert!(failed.is_empty(), "{} of {} did not hold:\n{}", failed.len(), results.len(), failed.join("\n---\n"));
}

//! `verify:` on test traffic (issue 13): examples/hello runs as real containers behind the sandbox's load balancer
//! (`--tasks docker`, scenario `hello-verify`: a CodeDeploy group that waits for the reroute). pipeline probes the
//! test listener (port 8080) through the sandbox as the network for the ALB's DNS name, then lets production traffic
//! move, or stops the deployment with rollback before any production request reaches the new release. The sandbox's
//! records of what each listener carried (`/_sandbox/traffic`) say where every request went.

use std::process::Command;
use std::time::Duration;

use pipeline_sandbox::SandboxOptions;
use pipeline_sandbox::containers::TaskMode;
use serde_json::Value;

use crate::harness::{Pipeline, Repo, Run, Sandbox, http_get, remove_local_images, repo_root};
use crate::inflight::run_and_signal;

const ROLLED_BACK: i32 = 4;
const CANCELLED: i32 = 6;

/// The hello service's image for the scenario, built once per test (cheap when cached).
pub fn build_hello() {
    let hello = repo_root().join("examples/hello");
    let built = Command::new(hello.join("build.sh")).output().expect("examples/hello/build.sh runs");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    crate::harness::docker_build(&hello, "pipeline-demo/hello:initial");
}

struct World {
    sb: Sandbox,
    repo: Repo,
}

/// The `hello-verify` scenario with real containers, and a repo holding examples/hello whose config ends with
/// `extra` (YAML appended to the file: more keys under `tasks:` for instance).
fn world(verify: &str, extra: &str) -> World {
    build_hello();
    let sb = Sandbox::with(SandboxOptions {
        time_scale: 60.0,
        tasks: TaskMode::Docker,
        scenario: Some("hello-verify".into()),
        ..SandboxOptions::default()
    });
    let hello = repo_root().join("examples/hello");
    let repo = Repo::tiny("hello", "unused");
    for file in ["Dockerfile", ".dockerignore", "hello", "task-definition.json"] {
        std::fs::copy(hello.join(file), repo.path().join(file)).unwrap();
    }
    std::fs::remove_file(repo.path().join("content.txt")).unwrap();
    let config = std::fs::read_to_string(hello.join(".pipeline.yml")).unwrap();
    // The example's own checks are replaced by the test's.
    let start = config.find("    verify:").expect("examples/hello/.pipeline.yml has verify:");
    let end = config[start..].find("    timeout:").map(|i| start + i).expect("timeout after verify");
    let config = format!("{}{verify}{}{extra}", &config[..start], &config[end..]);
    repo.write(".pipeline.yml", &config);
    repo.commit("feat: hello");
    World { sb, repo }
}

impl World {
    fn release(&self, args: &[&str]) -> Run {
        let mut all = vec!["--output", "json", "release"];
        all.extend_from_slice(args);
        Pipeline::new(&self.repo).sandbox(&self.sb).args(&all).run()
    }

    fn running(&self) -> String {
        let ecs = aws_sdk_ecs::Client::new(&self.sb.sdk);
        self.sb.block_on(async {
            let out = ecs.describe_services().cluster("demo").services("hello").send().await.unwrap();
            out.services()[0].task_definition().unwrap().to_owned()
        })
    }

    /// The scenario's (production, test) listener ARNs: ports 80 and 8080 of the ALB `hello`.
    fn listeners(&self) -> (String, String) {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&self.sb.sdk);
        self.sb.block_on(async {
            let lb = elb.describe_load_balancers().names("hello").send().await.unwrap();
            let arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
            let out = elb.describe_listeners().load_balancer_arn(arn).send().await.unwrap();
            let port = |p: i32| {
                out.listeners().iter().find(|l| l.port() == Some(p)).unwrap().listener_arn().unwrap().to_owned()
            };
            (port(80), port(8080))
        })
    }

    /// `/_sandbox/traffic` entries of one listener.
    fn traffic(&self, listener: &str) -> Vec<Value> {
        let body = self.sb.block_on(http_get(&format!("{}/_sandbox/traffic", self.sb.running.endpoint())));
        let all: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("traffic is JSON ({e}): {body}"));
        all["traffic"].as_array().unwrap().iter().filter(|e| e["listener"] == listener).cloned().collect()
    }

    /// (status, rollback deployment id) of a CodeDeploy deployment.
    fn deployment(&self, id: &str) -> (String, Option<String>) {
        let cd = aws_sdk_codedeploy::Client::new(&self.sb.sdk);
        self.sb.block_on(async {
            let out = cd.get_deployment().deployment_id(id).send().await.unwrap();
            let info = out.deployment_info().unwrap();
            (
                info.status().unwrap().as_str().to_owned(),
                info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(str::to_owned),
            )
        })
    }

    /// What the production listener carried: (requests, 5xx, requests served by `revision`).
    fn production(&self, revision: &str) -> (u64, u64, u64) {
        let (production, _) = self.listeners();
        let entries = self.traffic(&production);
        let sum = |f: &dyn Fn(&Value) -> u64| entries.iter().map(f).sum::<u64>();
        (
            sum(&|e| e["requests"].as_u64().unwrap()),
            sum(&|e| e["status_5xx"].as_u64().unwrap()),
            sum(&|e| if e["task_definition"] == revision { e["requests"].as_u64().unwrap() } else { 0 }),
        )
    }

    /// A failed release: rolled back (exit 4) by stopping its deployment, the previous revision running, and not
    /// one production request served by the new revision, not one 5xx on the production listener.
    fn assert_rolled_back_before_production(&self, run: &Run, previous: &str) -> Value {
        run.code(ROLLED_BACK).stderr_has("no production request reached the new release");
        let out = run.json();
        assert_eq!(out["rolled_back"], true, "{out:#}");
        let bad = out["task_definition_arn"].as_str().unwrap().to_owned();
        assert_eq!(self.running(), previous, "the service runs the previous revision again");
        let id = out["deployment_id"].as_str().unwrap();
        let (status, rollback) = self.deployment(id);
        assert_eq!(status, "Stopped", "the deployment was stopped");
        let rollback = rollback.expect("CodeDeploy rolled it back");
        assert_eq!(self.deployment(&rollback).0, "Succeeded", "the rollback finished before pipeline returned");
        let (requests, five_xx, on_bad) = self.production(&bad);
        assert!(requests > 0, "the production listener carried the load balancer's probe traffic");
        assert_eq!((five_xx, on_bad), (0, 0), "no production request reached {bad}, none answered 5xx");
        out
    }
}

#[test]
fn a_release_failing_its_smoke_test_on_test_traffic_is_rolled_back_before_any_production_request() {
    let w = world("    verify:\n      - http: { path: /smoke, requests: 10, interval: 50ms, body: smoke ok }\n", "");
    let (production, test) = w.listeners();

    let good = w.release(&["--version", "1.0.0"]);
    good.code(0);
    let out = good.json();
    let good_td = out["task_definition_arn"].as_str().unwrap().to_owned();
    let check = &out["verify"][0];
    assert_eq!(
        (check["passed"].as_bool(), check["requests"].as_u64(), check["failures"].as_u64()),
        (Some(true), Some(10), Some(0)),
        "{out:#}"
    );
    assert!(check["name"].as_str().unwrap().contains(":8080/smoke"), "the test listener's URL: {check}");
    assert!(check["latency_max_ms"].is_u64(), "{check}");
    assert_eq!(w.running(), good_td);
    // The test listener sent the checks to the replacement task set, the new revision, and nowhere else.
    let tested = w.traffic(&test);
    assert!(!tested.is_empty() && tested.iter().all(|e| e["task_definition"] == good_td.as_str()), "{tested:#?}");
    assert_eq!(tested.iter().map(|e| e["status_2xx"].as_u64().unwrap()).sum::<u64>(), 10);

    // Same image, a configuration whose /smoke answers 500 (and / still 200).
    let bad = w.release(&[
        "--version",
        "1.1.0",
        "--set",
        "environments.demo.env.HELLO_FAIL=500",
        "--set",
        "environments.demo.env.HELLO_FAIL_PATH=/smoke",
    ]);
    let out = w.assert_rolled_back_before_production(&bad, &good_td);
    let check = &out["verify"][0];
    assert_eq!(check["passed"], false, "{out:#}");
    assert!(check["detail"].as_str().unwrap().contains("500 x"), "{check}");
    assert!(bad.stderr.contains("[verify] failed"), "{}", bad.stderr);
    let bad_td = out["task_definition_arn"].as_str().unwrap().to_owned();
    let tested_bad: u64 = w
        .traffic(&test)
        .iter()
        .filter(|e| e["task_definition"] == bad_td.as_str())
        .map(|e| e["status_5xx"].as_u64().unwrap())
        .sum();
    assert!(tested_bad >= 1, "the 500s came from the new revision on the test listener");

    // A good release after the failure goes through as the first one did.
    let again = w.release(&["--version", "1.2.0", "--set", "environments.demo.env.HELLO_VERSION=again"]);
    again.code(0);
    let again_td = again.json()["task_definition_arn"].as_str().unwrap().to_owned();
    assert_eq!(w.running(), again_td);
    let (_, five_xx, _) = w.production(&again_td);
    assert_eq!(five_xx, 0, "the production listener never answered 5xx in the whole history ({production})");
    let registry = w.sb.running.registry_host();
    drop(w);
    remove_local_images(&format!("{registry}/hello"));
}

#[test]
fn a_run_task_check_exiting_1_rolls_back_and_one_exiting_0_lets_the_release_through() {
    // hello as a one-off job: `HELLO_EXIT` makes it exit at start with that code.
    let w = world("    verify:\n      - run-task: smoke\n", "tasks:\n  smoke:\n    env: { HELLO_EXIT: \"0\" }\n");
    let initial = w.running();

    let bad = w.release(&["--version", "1.0.0", "--set", "tasks.smoke.env.HELLO_EXIT=1"]);
    let out = w.assert_rolled_back_before_production(&bad, &initial);
    let check = &out["verify"][0];
    assert_eq!(check["name"], "run-task smoke");
    assert!(check["detail"].as_str().unwrap().contains("exited with code 1"), "{check}");

    let good = w.release(&["--version", "1.0.1"]);
    good.code(0);
    let out = good.json();
    assert_eq!(out["verify"][0]["passed"], true, "{out:#}");
    assert!(out["verify"][0]["detail"].as_str().unwrap().contains("exited 0"), "{out:#}");
    assert_eq!(w.running(), out["task_definition_arn"].as_str().unwrap());
    let registry = w.sb.running.registry_host();
    drop(w);
    remove_local_images(&format!("{registry}/hello"));
}

#[test]
fn a_cancel_while_the_checks_run_stops_the_deployment_with_rollback() {
    let w = world("    verify:\n      - http: { path: /smoke, duration: 60s, interval: 100ms }\n", "");
    let initial = w.running();
    let pipeline = Pipeline::new(&w.repo).sandbox(&w.sb).args(&["--output", "json", "release", "--version", "1.0.0"]);
    let (run, signalled) = run_and_signal(pipeline, "[verify]", Duration::from_millis(500), "INT");
    assert!(signalled, "the checks started:\n{}", run.stderr);
    run.code(CANCELLED).stderr_has("cancelled");
    let out = run.json();
    assert_eq!(w.running(), initial, "the service runs what it ran before");
    let (status, rollback) = w.deployment(out["deployment_id"].as_str().unwrap());
    assert_eq!(status, "Stopped");
    assert!(rollback.is_some(), "stopped with rollback");
    let bad = out["task_definition_arn"].as_str().unwrap();
    assert_eq!(w.production(bad).2, 0, "no production request reached the cancelled release");
    let registry = w.sb.running.registry_host();
    drop(w);
    remove_local_images(&format!("{registry}/hello"));
}

#[test]
fn the_appspec_carries_the_configured_hooks_in_codedeploys_order() {
    use crate::fixture::{Controller, repo_for};
    let sb = Sandbox::start();
    sb.service(Controller::CodeDeploy);
    let repo = repo_for(
        Controller::CodeDeploy,
        "      hooks: { AfterAllowTraffic: fnAfter, BeforeAllowTraffic: fnSmoke, BeforeInstall: fnFirst }\n",
    );
    let run = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "release", "--version", "1.0.0"]).run();
    run.code(0);
    let id = run.json()["deployment_id"].as_str().unwrap().to_owned();
    let cd = sb.codedeploy();
    let content = sb.block_on(async {
        let out = cd.get_deployment().deployment_id(&id).send().await.unwrap();
        let revision = out.deployment_info().unwrap().revision().unwrap();
        revision.app_spec_content().unwrap().content().unwrap().to_owned()
    });
    let appspec: Value = serde_json::from_str(&content).unwrap();
    assert_eq!(
        appspec["Hooks"],
        serde_json::json!([{ "BeforeInstall": "fnFirst" }, { "BeforeAllowTraffic": "fnSmoke" }, { "AfterAllowTraffic": "fnAfter" }]),
        "{content}"
    );
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

//! `workflows-examples/release-on-push.yml` as written, for consecutive pushes: each job's `pipeline`
//! step runs through action.yml (the way `tests/action.rs` runs the action) against the sandbox, with
//! the `with:` inputs and `needs.*.outputs` of the workflow file. The checkout and AWS-credentials
//! steps are the runner's business: the test gives every job the repository and the sandbox.

use std::collections::BTreeMap;

use serde_norway::Value;

use crate::action::{Runner, job_env};
use crate::fixture::{Controller, TASK_DEFINITION};
use crate::harness::{Repo, Sandbox, remove_local_images, repo_root};

const CONFIG: &str = "version: 1
image:
  repository: web
environments:
  staging:
    cluster: staging
    service: web
    task-definition: staging.json
    container: web
    timeout: 2m
    guard: { poll-interval: 50ms }
  production:
    cluster: prod
    service: web
    task-definition: production.json
    container: web
    timeout: 2m
    guard: { poll-interval: 50ms }
";

fn workflow() -> Value {
    let text = std::fs::read_to_string(repo_root().join("workflows-examples/release-on-push.yml")).unwrap();
    serde_norway::from_str(&text).expect("the workflow is YAML")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// The `with:` of the job's `pipeline` step, `${{ needs.<job>.outputs.<name> }}` evaluated.
fn inputs(job: &Value, needs: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<(String, String)> {
    let steps = job["steps"].as_sequence().unwrap();
    let step = steps
        .iter()
        .find(|s| s.get("uses").map(text).is_some_and(|u| u.contains("/pipeline@")))
        .expect("the job has a pipeline step");
    let mut out = Vec::new();
    for (k, v) in step["with"].as_mapping().unwrap() {
        let mut value = text(v);
        if let Some(expr) = value.strip_prefix("${{").and_then(|e| e.strip_suffix("}}")) {
            let parts: Vec<&str> = expr.trim().split('.').collect();
            value = match parts.as_slice() {
                ["needs", job, "outputs", name] => needs[*job][*name].clone(),
                _ => panic!("the test does not evaluate `{expr}`"),
            };
        }
        out.push((text(k), value));
    }
    out
}

#[test]
fn release_on_push_workflow_releases_consecutive_pushes_to_staging_then_production() {
    let sb = Sandbox::start();
    let staging = sb.service_in("staging", Controller::Rolling);
    let production = sb.service(Controller::Rolling);
    let repo = Repo::tiny("web", "v1");
    repo.write(".pipeline.yml", CONFIG);
    repo.write("staging.json", &TASK_DEFINITION.replace("\"family\": \"web\"", "\"family\": \"staging-web\""));
    repo.write("production.json", TASK_DEFINITION);
    repo.commit("chore: release with pipeline");

    let workflow = workflow();
    let jobs = workflow["jobs"].as_mapping().unwrap();
    let order = ["staging", "production"];
    // The job that computes a new version publishes its git tag: it needs `contents: write`.
    assert_eq!(text(&jobs[&Value::from("staging")]["permissions"]["contents"]), "write");
    assert_eq!(text(&jobs[&Value::from("production")]["needs"]), "staging");

    let api = format!("{}/github", sb.running.endpoint());
    for (push, (message, content, expected)) in
        [("feat: search", "v2", "0.1.0"), ("fix: empty search", "v3", "0.1.1"), ("feat: export", "v4", "0.2.0")]
            .into_iter()
            .enumerate()
    {
        repo.write("content.txt", content);
        repo.commit(message);
        let mut needs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for name in order {
            let job = &jobs[&Value::from(name)];
            let with = inputs(job, &needs);
            let with_ref: Vec<(&str, &str)> = with.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut env = job_env(&repo, Some(&sb));
            env.extend([
                ("GITHUB_REPOSITORY".to_owned(), "acme/web".to_owned()),
                ("GITHUB_SERVER_URL".to_owned(), "https://github.com".to_owned()),
                ("GITHUB_API_URL".to_owned(), api.clone()),
            ]);
            let mut runner = Runner::new(&with_ref, env);
            assert!(runner.run(), "push {push}, job {name}\n{}", runner.explain());
            let out = runner.outputs();
            assert_eq!(out["status"], "success", "push {push}, job {name}: {out:?}");
            assert_eq!(out["version"], expected, "push {push}, job {name}");
            if name == "production" {
                // The same image as staging: nothing built or pushed again.
                assert_eq!(runner.log("run").json()["image_action"], "reused");
            }
            // `outputs:` of the job, as the runner evaluates them for `needs`.
            let mut job_outputs = BTreeMap::new();
            for (k, v) in job.get("outputs").and_then(Value::as_mapping).into_iter().flatten() {
                let expr = text(v);
                let name =
                    expr.trim_start_matches("${{").trim_end_matches("}}").trim().rsplit('.').next().unwrap().to_owned();
                job_outputs.insert(text(k), out[&name].clone());
            }
            needs.insert(name.to_owned(), job_outputs);
        }
        let v = format!("v{expected}");
        let td = sb.running_td(&staging);
        assert!(sb.td_tags(&td).contains(&format!("pipeline:version={expected}")), "staging runs {v}");
        let td = sb.running_td(&production);
        assert!(sb.td_tags(&td).contains(&format!("pipeline:version={expected}")), "production runs {v}");
        assert!(sb.digest("web", &v).is_some());
    }
    // Each push is one GitHub Deployment per environment, on the pushed commit.
    let deployments = sb.captured()["deployments"].as_array().cloned().unwrap_or_default();
    assert_eq!(deployments.len(), 6, "{deployments:#?}");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

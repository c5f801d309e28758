//! A first run that just works (issue 18): `pipeline init` from the files present or from a live
//! service, then the next step it prints, `plan` (exit 2) and `release` with no edits; `pipeline check`
//! without AWS credentials on a fork's pull request; and a closed stdout.

use std::path::Path;
use std::process::{Command, Stdio};

use pipeline_sandbox::SandboxOptions;

use crate::fixture::{Controller, TASK_DEFINITION, repo_for};
use crate::harness::{Pipeline, Repo, Sandbox, remove_local_images};

/// A repository with a Dockerfile and its content, and nothing of pipeline's yet.
fn bare_repo() -> Repo {
    let repo = Repo::tiny("unused", "v1");
    std::fs::remove_file(repo.path().join(".pipeline.yml")).unwrap();
    repo.commit("chore: no pipeline config yet");
    repo
}

/// The command `init` printed as the next step (`next: ...`), up to its parenthesised alternative.
fn next_step(stderr: &str) -> String {
    let line = stderr.lines().find_map(|l| l.split_once("next: ").map(|(_, rest)| rest)).expect("a next step");
    line.split("   (").next().unwrap().trim().to_owned()
}

/// Runs `init`'s next step as a user would paste it, with `pipeline` on the PATH and the sandbox's AWS
/// environment; returns the exit code of the last command of the chain (`pipeline plan`).
fn run_next_step(repo: &Repo, sb: &Sandbox, step: &str) -> (i32, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_pipeline")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(step).current_dir(repo.path()).env_clear().env("PATH", path).env("HOME", repo.path());
    for var in ["DOCKER_HOST"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    for (k, v) in sb.running.client_env() {
        cmd.env(k, v);
    }
    cmd.env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com");
    let out = cmd.output().expect("sh runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn init_with_a_dockerfile_and_a_task_definition_finds_the_service_and_releases_with_no_edits() {
    let sb = Sandbox::start();
    let svc = sb.service(Controller::Rolling);
    let repo = bare_repo();
    repo.write("task-definition.json", TASK_DEFINITION);
    repo.commit("chore: the task definition");

    let init = Pipeline::new(&repo).sandbox(&sb).args(&["init"]).run();
    init.code(0).stderr_has("task-definition.json").stderr_has("prod/web");
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    for line in [
        "repository: web",
        "cluster: prod",
        "service: web",
        "task-definition: task-definition.json",
        "container: web",
        "strategy: rolling",
        "region: us-east-1",
    ] {
        assert!(config.contains(line), "no {line:?} in\n{config}");
    }

    let step = next_step(&init.stderr);
    assert!(step.starts_with("git add .pipeline.yml && git commit"), "{step}");
    let (code, stderr) = run_next_step(&repo, &sb, &step);
    assert_eq!(code, 2, "the printed next step ends with `pipeline plan`, which has a release to make:\n{stderr}");

    let released = Pipeline::new(&repo).sandbox(&sb).args(&["release"]).run();
    released.code(0);
    assert_ne!(sb.running_td(&svc), svc.initial_td, "the service runs the new revision");
    assert_eq!(repo.git(&["status", "--porcelain"]), "", "nothing was edited after init");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn init_from_the_live_service_writes_config_and_task_definition_and_releases_with_no_edits() {
    let sb = Sandbox::with(SandboxOptions {
        time_scale: 600.0,
        scenario: Some("hello".into()),
        ..SandboxOptions::default()
    });
    let repo = bare_repo();

    let init = Pipeline::new(&repo).sandbox(&sb).args(&["init", "--from-service", "demo/hello"]).run();
    init.code(0).stderr_has("demo/hello");
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    for line in [
        "cluster: demo",
        "service: hello",
        "container: hello",
        "strategy: codedeploy",
        "application: hello",
        "deployment-group: hello-demo",
    ] {
        assert!(config.contains(line), "no {line:?} in\n{config}");
    }
    let td: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("task-definition.json")).unwrap()).unwrap();
    assert_eq!(td["family"], "hello");
    for read_only in
        ["taskDefinitionArn", "revision", "status", "registeredAt", "compatibilities", "requiresAttributes", "tags"]
    {
        assert!(td.get(read_only).is_none(), "{read_only} is not stripped: {td:#}");
    }

    let step = next_step(&init.stderr);
    assert!(step.contains("git add .pipeline.yml task-definition.json"), "{step}");
    let (code, stderr) = run_next_step(&repo, &sb, &step);
    assert_eq!(code, 2, "`pipeline plan` after the printed next step:\n{stderr}");

    let released = Pipeline::new(&repo).sandbox(&sb).args(&["release"]).run();
    released.code(0).stderr_has("CodeDeploy hello / hello-demo");
    assert_eq!(repo.git(&["status", "--porcelain"]), "", "nothing was edited after init");
    remove_local_images(&format!("{}/hello", sb.running.registry_host()));
}

#[test]
fn init_refuses_to_overwrite_and_names_what_it_needs() {
    let repo = bare_repo();
    repo.write(".pipeline.yml", "version: 1\n");
    Pipeline::new(&repo).args(&["init"]).run().code(3).stderr_has("--force");
    Pipeline::new(&repo)
        .args(&["init", "--force", "--from-service", "just-a-name"])
        .run()
        .code(3)
        .stderr_has("CLUSTER/SERVICE");
}

#[test]
fn check_without_aws_credentials_posts_a_passing_offline_plan_on_a_fork_pull_request() {
    let sb = Sandbox::start();
    let repo = repo_for(Controller::Rolling, "");
    let base = repo.head();
    repo.write(
        "task-definition.json",
        &TASK_DEFINITION.replace("\"essential\": true", "\"essential\": true, \"memoryReservation\": 256"),
    );
    let head = repo.commit("feat: a memory reservation");
    let runner = tempfile::tempdir().unwrap();
    let event = runner.path().join("event.json");
    std::fs::write(
        &event,
        format!(r#"{{"pull_request": {{"number": 8, "head": {{"sha": "{head}"}}, "base": {{"sha": "{base}"}}}}}}"#),
    )
    .unwrap();

    // A fork's pull request: the credentials step was skipped, so no AWS_* but the region.
    let run = Pipeline::new(&repo)
        .env("AWS_REGION", "us-east-1")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_SHA", "0000000000000000000000000000000000000000")
        .env("GITHUB_REPOSITORY", "acme/web")
        .env("GITHUB_TOKEN", "ghs_test_token")
        .env("GITHUB_API_URL", format!("{}/github", sb.running.endpoint()))
        .args(&["--output", "json", "check"])
        .run();
    run.code(0).stderr_has("live diff skipped: no AWS credentials");
    let outcome = run.json();
    assert_eq!(outcome["status"], "success");
    assert!(outcome["plan"]["offline"].as_str().unwrap().contains("no AWS credentials"), "{outcome:#}");

    let captured = sb.captured();
    let check = &captured["check_runs"][0];
    assert_eq!(check["head_sha"], head.as_str(), "the PR head, not the merge commit");
    assert_eq!(check["conclusion"], "success");
    let summary = check["output"]["summary"].as_str().unwrap();
    for needle in ["live diff skipped", "no AWS credentials", "v0.1.0", "sha-", "memoryReservation", &base[..12]] {
        assert!(summary.contains(needle), "no {needle:?} in the check run:\n{summary}");
    }
}

#[test]
fn check_without_credentials_still_fails_on_a_bad_task_definition() {
    let repo = repo_for(Controller::Rolling, "");
    repo.write("task-definition.json", &TASK_DEFINITION.replace("\"essential\"", "\"essentail\""));
    repo.commit("fix: typo");
    Pipeline::new(&repo)
        .env("AWS_REGION", "us-east-1")
        .args(&["check"])
        .run()
        .code(3)
        .stderr_has("task-definition.json:4:")
        .stderr_has("did you mean `essential`?");
}

#[test]
fn schema_into_a_closed_pipe_exits_quietly() {
    // The pipe's reader is gone before pipeline writes: every write fails with EPIPE.
    for args in [&["schema"][..], &["completions", "bash"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
    // As a user types it.
    let script = format!("set -o pipefail; '{}' schema | head -1", env!("CARGO_BIN_EXE_pipeline"));
    let out = Command::new("bash").arg("-c").arg(script).env("NO_COLOR", "1").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

//! The heart of the tool, with nothing pretended: examples/hello runs as real containers behind the
//! sandbox's load-balancer stand-in, a release whose containers answer 500 trips the 5xx guard from
//! real probe traffic, and pipeline stops the blue/green deployment and rolls it back.

use pipeline_sandbox::SandboxOptions;
use pipeline_sandbox::containers::TaskMode;

use crate::harness::{Pipeline, Repo, Sandbox, remove_local_images, repo_root};

const ROLLED_BACK: i32 = 4;

#[test]
fn a_release_that_really_answers_500_is_rolled_back_by_the_guard() {
    let root = repo_root();
    let hello = root.join("examples/hello");
    // The scenario's service starts on the local image `pipeline-demo/hello:initial`, before any release.
    crate::verify::build_hello();

    let sb = Sandbox::with(SandboxOptions {
        time_scale: 60.0,
        tasks: TaskMode::Docker,
        // The example's config verifies on test traffic: its group waits for the reroute.
        scenario: Some("hello-verify".into()),
        ..SandboxOptions::default()
    });
    let repo = Repo::tiny("hello", "unused");
    for file in ["Dockerfile", ".dockerignore", "hello", ".pipeline.yml", "task-definition.json"] {
        std::fs::copy(hello.join(file), repo.path().join(file)).unwrap();
    }
    std::fs::remove_file(repo.path().join("content.txt")).unwrap();
    repo.commit("feat: hello");
    let release = |args: &[&str]| {
        let mut all = vec!["--output", "json", "release"];
        all.extend_from_slice(args);
        Pipeline::new(&repo).sandbox(&sb).args(&all).run()
    };

    let good = release(&["--version", "1.0.0"]);
    good.code(0);
    let good_td = good.json()["task_definition_arn"].as_str().unwrap().to_owned();

    let bad = release(&["--version", "1.1.0", "--set", "environments.demo.env.HELLO_FAIL=500"]);
    bad.code(ROLLED_BACK).stderr_has("5xx");
    let out = bad.json();
    assert_eq!(out["rolled_back"], true);
    assert_eq!(out["image_action"], "reused", "a configuration release, same image");
    let ecs = aws_sdk_ecs::Client::new(&sb.sdk);
    let running = sb.block_on(async {
        let out = ecs.describe_services().cluster("demo").services("hello").send().await.unwrap();
        out.services()[0].task_definition().unwrap().to_owned()
    });
    assert_eq!(running, good_td, "the service runs the good revision again");
    let registry = sb.running.registry_host();
    drop(sb);
    remove_local_images(&format!("{registry}/hello"));
}

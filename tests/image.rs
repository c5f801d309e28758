//! The image half end to end: real builds on the local engine, real pushes through the sandbox's ECR.

use crate::harness::{Pipeline, Repo, Sandbox, remove_local_images};

fn release(repo: &Repo, sb: &Sandbox, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec!["--output", "json", "release"];
    args.extend_from_slice(extra);
    Pipeline::new(repo).sandbox(sb).args(&args).run()
}

#[test]
fn a_release_builds_pushes_and_tags_by_digest_then_a_rerelease_does_nothing() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("web", "one");
    let commit = repo.head();
    let sha_tag = format!("sha-{}", &commit[..12]);

    let first = release(&repo, &sb, &["--version", "1.0.0"]);
    first.code(0);
    let out = first.json();
    assert_eq!(out["status"], "success");
    assert_eq!(out["version"], "1.0.0");
    assert_eq!(out["image_action"], "built");
    let digest = out["image_digest"].as_str().expect("digest").to_owned();
    // The registry really holds it, under both immutable tags, with the digest we reported.
    assert_eq!(sb.digest("web", &sha_tag).as_deref(), Some(digest.as_str()));
    assert_eq!(sb.digest("web", "v1.0.0").as_deref(), Some(digest.as_str()));
    assert_eq!(out["image_uri"], format!("{}/web@{digest}", sb.running.registry_host()));

    // Same commit again: nothing to build, nothing to push, same digest.
    let second = release(&repo, &sb, &["--version", "1.0.0"]);
    second.code(0);
    let out = second.json();
    assert_eq!(out["image_action"], "reused");
    assert_eq!(out["image_digest"], digest.as_str());
    assert!(!second.stderr.contains("[build] building"), "no build on re-release:\n{}", second.stderr);

    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn a_new_version_of_a_released_commit_is_added_by_manifest_without_a_push() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("api", "same");
    release(&repo, &sb, &["--version", "2.0.0"]).code(0);
    let before = sb.digest("api", "v2.0.0").expect("v2.0.0 pushed");

    let again = release(&repo, &sb, &["--version", "2.0.1"]);
    again.code(0);
    let out = again.json();
    assert_eq!(out["image_action"], "reused");
    assert_eq!(out["tags_added"], serde_json::json!(["v2.0.1"]));
    assert_eq!(sb.digest("api", "v2.0.1"), Some(before));

    remove_local_images(&format!("{}/api", sb.running.registry_host()));
}

#[test]
fn other_content_under_an_existing_tag_fails_and_leaves_the_old_digest() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("svc", "first content");
    release(&repo, &sb, &["--version", "3.0.0"]).code(0);
    let old = sb.digest("svc", "v3.0.0").expect("pushed");

    repo.write("content.txt", "second content");
    repo.commit("fix: change");
    let clash = release(&repo, &sb, &["--version", "3.0.0"]);
    clash.code(1).stderr_has("v3.0.0").stderr_has(&old);
    let out = clash.json();
    assert_eq!(out["status"], "failure");
    assert_eq!(sb.digest("svc", "v3.0.0"), Some(old), "the old digest is untouched");
    // Nothing of the new commit was pushed either: the conflict is found before building.
    let new_tag = format!("sha-{}", &repo.head()[..12]);
    assert_eq!(sb.digest("svc", &new_tag), None);

    remove_local_images(&format!("{}/svc", sb.running.registry_host()));
}

#[test]
fn plan_exits_2_with_changes_and_0_when_everything_is_there() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("plan", "x");
    let planned = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "plan", "--version", "0.3.0"]).run();
    planned.code(2);
    assert_eq!(planned.json()["image_action"], "planned-build");
    // The plan created nothing.
    assert!(sb.block_on(sb.ecr().describe_repositories().repository_names("plan").send()).is_err());

    release(&repo, &sb, &["--version", "0.3.0"]).code(0);
    let settled = Pipeline::new(&repo).sandbox(&sb).args(&["--output", "json", "plan", "--version", "0.3.0"]).run();
    settled.code(0);
    assert_eq!(settled.json()["image_action"], "planned-reuse");

    remove_local_images(&format!("{}/plan", sb.running.registry_host()));
}

#[test]
fn a_created_repository_is_immutable() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("fresh", "x");
    release(&repo, &sb, &["--version", "0.1.0"]).code(0);
    let described = sb.block_on(sb.ecr().describe_repositories().repository_names("fresh").send()).unwrap();
    let mutability = described.repositories()[0].image_tag_mutability().map(|m| m.as_str().to_owned());
    assert_eq!(mutability.as_deref(), Some("IMMUTABLE"));
    remove_local_images(&format!("{}/fresh", sb.running.registry_host()));
}

#[test]
fn throttling_is_retried() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("throttled", "x");
    // Two throttles, then success: the standard retry policy absorbs them.
    sb.fault(r#"{"kind":"throttle","service":"ecr","operation":"DescribeRepositories","count":2}"#);
    release(&repo, &sb, &["--version", "0.1.0"]).code(0);
    remove_local_images(&format!("{}/throttled", sb.running.registry_host()));
}

#[test]
fn build_alone_needs_no_aws() {
    let repo = Repo::tiny("local-only", "x");
    let run = Pipeline::new(&repo).args(&["--output", "json", "build", "--version", "0.0.1"]).run();
    run.code(0);
    assert_eq!(run.json()["image_action"], "built");
    remove_local_images("local-only");
}

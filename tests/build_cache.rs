//! The layer cache from the registry (image/cache.rs): on an engine with no local layers and no build cache
//! (a fresh CI runner), a release takes the unchanged layers from the previous release's image in ECR; and the
//! cache never changes what is built: a changed dependency file rebuilds its layer, and the image holds it.
//!
//! "A fresh runner" means every local image of the repository removed and the engine's build cache pruned
//! (`docker builder prune -af`, as the issue asks), between releases.

use std::process::Command;

use crate::harness::{Pipeline, Repo, Run, Sandbox, remove_local_images};

const DOCKERFILE: &str = "FROM scratch\nCOPY deps.txt /deps.txt\nCOPY content.txt /content.txt\n";

fn release(repo: &Repo, sb: &Sandbox, version: &str) -> Run {
    let run = Pipeline::new(repo).sandbox(sb).args(&["-v", "--output", "json", "release", "--version", version]).run();
    run.code(0);
    run
}

fn fresh_runner(sb: &Sandbox) {
    remove_local_images(&format!("{}/layers", sb.running.registry_host()));
    let out = Command::new("docker").args(["builder", "prune", "-af"]).output().expect("docker runs");
    assert!(out.status.success(), "docker builder prune: {}", String::from_utf8_lossy(&out.stderr));
}

/// The layer digests of `repository:tag` as ECR stores its manifest, in Dockerfile order.
fn layers(sb: &Sandbox, tag: &str) -> Vec<String> {
    let manifest = manifest(sb, tag);
    manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_owned()).collect()
}

/// The image config of `layers:tag`, read from the registry as the engine reads it.
fn config(sb: &Sandbox, tag: &str) -> serde_json::Value {
    let digest = manifest(sb, tag)["config"]["digest"].as_str().unwrap().to_owned();
    let ecr = sb.ecr();
    let url = format!("http://{}/v2/layers/blobs/{digest}", sb.running.registry_host());
    sb.block_on(async move {
        let token = ecr.get_authorization_token().send().await.unwrap();
        let token = token.authorization_data()[0].authorization_token().unwrap().to_owned();
        let response =
            reqwest::Client::new().get(&url).header("authorization", format!("Basic {token}")).send().await.unwrap();
        assert!(response.status().is_success(), "{url}: {}", response.status());
        response.json().await.unwrap()
    })
}

fn manifest(sb: &Sandbox, tag: &str) -> serde_json::Value {
    let manifest = sb.block_on(async {
        let got = sb
            .ecr()
            .batch_get_image()
            .repository_name("layers")
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
            .unwrap();
        got.images()[0].image_manifest().unwrap().to_owned()
    });
    serde_json::from_str(&manifest).unwrap()
}

/// A file of the pushed image, through a created (never started) container.
fn file_in(image: &str, path: &str) -> String {
    let created = Command::new("docker").args(["create", image, "/none"]).output().expect("docker create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let id = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let copied = Command::new("docker").args(["cp", &format!("{id}:{path}"), "-"]).output().expect("docker cp");
    let _ = Command::new("docker").args(["rm", &id]).output();
    let mut archive = tar::Archive::new(copied.stdout.as_slice());
    let mut entry = archive.entries().unwrap().next().expect("one file").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
    text
}

/// The BuildKit progress lines of one COPY step (`#5 [2/3] COPY deps.txt /deps.txt` and what followed).
fn step_of<'a>(run: &'a Run, instruction: &str) -> Vec<&'a str> {
    let number = run
        .stderr
        .lines()
        .find_map(|l| l.contains(instruction).then(|| l.split_whitespace().find(|w| w.starts_with('#'))).flatten())
        .unwrap_or_else(|| panic!("no step `{instruction}` in\n{}", run.stderr))
        .to_owned();
    run.stderr.lines().filter(|l| l.split_whitespace().any(|w| w == number)).collect()
}

#[test]
fn a_fresh_runner_reuses_unchanged_layers_from_ecr_and_rebuilds_a_changed_dependency() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("layers", "app one");
    repo.write("Dockerfile", DOCKERFILE);
    repo.write("deps.txt", "dependency set A\n");
    repo.commit("feat: dependencies");
    let v1 = release(&repo, &sb, "1.0.0");
    assert_eq!(v1.json()["image_action"], "built");
    assert!(config(&sb, "v1.0.0").get("moby.buildkit.cache.v0").is_some(), "v1.0.0 carries inline cache metadata");
    let first = layers(&sb, "v1.0.0");

    // An app-only change on a fresh runner: the parent commit's image (and v1.0.0) are the cache sources.
    fresh_runner(&sb);
    repo.write("content.txt", "app two");
    repo.commit("fix: app");
    let v2 = release(&repo, &sb, "1.0.1");
    let registry = sb.running.registry_host();
    v2.stderr_has(&format!("layer cache from {registry}/layers:sha-")).stderr_has("importing cache manifest from");
    let deps = step_of(&v2, "COPY deps.txt");
    assert!(deps.iter().any(|l| l.ends_with("CACHED")), "the dependency layer came from the cache: {deps:#?}");
    let second = layers(&sb, "v1.0.1");
    assert_eq!(second[0], first[0], "the dependency layer is v1.0.0's");
    assert_ne!(second[1], first[1], "the app layer was rebuilt");

    // The next app-only change on a fresh runner. v1.0.1 was built from the cache, and the engine leaves the
    // layers it took from a cache out of that image's inline metadata: v1.0.0, the release before, still has them.
    fresh_runner(&sb);
    repo.write("content.txt", "app three");
    repo.commit("fix: app again");
    let next = release(&repo, &sb, "1.0.2");
    next.stderr_has(&format!("{registry}/layers:v1.0.0"));
    let deps = step_of(&next, "COPY deps.txt");
    assert!(deps.iter().any(|l| l.ends_with("CACHED")), "every release after a cached one is cached too: {deps:#?}");
    assert_eq!(layers(&sb, "v1.0.2")[0], first[0], "still v1.0.0's dependency layer");

    // A changed dependency file: its layer is built again, whatever the cache holds.
    fresh_runner(&sb);
    repo.write("deps.txt", "dependency set B\n");
    repo.commit("fix: bump dependencies");
    let v3 = release(&repo, &sb, "1.0.3");
    let deps = step_of(&v3, "COPY deps.txt");
    assert!(!deps.iter().any(|l| l.ends_with("CACHED")), "a changed file is never taken from the cache: {deps:#?}");
    let third = layers(&sb, "v1.0.3");
    assert_ne!(third[0], second[0], "the dependency layer differs");
    let pushed = format!("{registry}/layers:sha-{}", &repo.head()[..12]);
    assert_eq!(file_in(&pushed, "/deps.txt"), "dependency set B\n");
    assert_eq!(file_in(&pushed, "/content.txt"), "app three");
    remove_local_images(&format!("{registry}/layers"));
}

#[test]
fn cache_false_builds_without_sources_or_metadata() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("layers", "app one");
    repo.write(".pipeline.yml", "version: 1\nimage:\n  repository: layers\n  cache: false\n");
    repo.commit("chore: no cache");
    release(&repo, &sb, "1.0.0");
    repo.write("content.txt", "app two");
    repo.commit("fix: app");
    let run = release(&repo, &sb, "1.0.1");
    run.stderr_has("no layer cache (image.cache: false)");
    assert!(!run.stderr.contains("importing cache manifest"), "{}", run.stderr);
    assert!(config(&sb, "v1.0.1").get("moby.buildkit.cache.v0").is_none(), "no inline cache metadata");
    remove_local_images(&format!("{}/layers", sb.running.registry_host()));
}

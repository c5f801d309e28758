//! A real `docker login` + `docker push` through the sandbox's ECR registry (REFERENCE 1.3 and 1.4).
//!
//! Needs the Docker CLI and a daemon on this host; it fails (never skips) without them. The daemon treats
//! 127.0.0.0/8 registries as insecure, so the sandbox's plain-HTTP `127.0.0.1:PORT` works as a registry host.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability};
use base64::Engine;

/// Runs `docker` with an isolated `DOCKER_CONFIG` (so the login never lands in `~/.docker`) and the legacy builder
/// (this host has no buildx), feeding `stdin` if given.
async fn docker(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("docker")
        .args(args)
        .env("DOCKER_CONFIG", config)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("this test needs the docker CLI: {e}"));
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().await.expect("docker runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

async fn docker_ok(config: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let output = docker(config, args, stdin).await;
    assert!(output.status.success(), "docker {args:?} failed:\n{}", text(&output));
    text(&output)
}

/// Removes the temp dir and the images this test created, even when an assertion fails.
struct Cleanup {
    dir: PathBuf,
    image_ids: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in &self.image_ids {
            let _ = std::process::Command::new("docker").args(["rmi", "--force", id]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Builds `FROM scratch` + one file with `content` (nothing is pulled: there is no Docker Hub here) and returns the
/// local image ID.
async fn build(config: &Path, context: &Path, tag: &str, content: &str) -> String {
    std::fs::create_dir_all(context).expect("context dir");
    std::fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY hello.txt /\n").expect("Dockerfile");
    std::fs::write(context.join("hello.txt"), content).expect("hello.txt");
    let context = context.to_str().expect("utf-8 path");
    docker_ok(config, &["build", "--quiet", "--tag", tag, context], None).await;
    docker_ok(config, &["image", "inspect", "--format", "{{.Id}}", tag], None).await.trim().to_owned()
}

/// `docker push` prints `<tag>: digest: sha256:... size: N`.
fn pushed_digest(output: &str) -> String {
    output
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .unwrap_or_else(|| panic!("no digest in docker push output:\n{output}"))
        .to_owned()
}

async fn described_digest(sb: &common::TestSandbox, repo: &str, tag: &str) -> String {
    let out = sb
        .ecr()
        .describe_images()
        .repository_name(repo)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
        .expect("DescribeImages");
    out.image_details()[0].image_digest().expect("digest").to_owned()
}

/// REFERENCE 1.3 (login with the decoded token) and 1.4 (an immutable tag cannot be overwritten by a push, with
/// ECR's message): docker push lands in DescribeImages with the digest docker printed; a second push of different
/// content to the same tag fails and the tag keeps its digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_push_lands_in_ecr_and_cannot_overwrite_an_immutable_tag() {
    let sb = common::TestSandbox::start().await;
    let repo = "team/hello";
    sb.ecr()
        .create_repository()
        .repository_name(repo)
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .expect("CreateRepository");
    let dir = std::env::temp_dir().join(format!("sandbox-docker-push-{}", uuid::Uuid::new_v4()));
    let config = dir.join("docker-config");
    std::fs::create_dir_all(&config).expect("config dir");
    let mut cleanup = Cleanup { dir: dir.clone(), image_ids: Vec::new() };

    let token = sb.ecr().get_authorization_token().send().await.expect("GetAuthorizationToken");
    let data = &token.authorization_data()[0];
    let decoded = base64::engine::general_purpose::STANDARD.decode(data.authorization_token().expect("token"));
    let decoded = String::from_utf8(decoded.expect("base64")).expect("utf-8");
    let (user, password) = decoded.split_once(':').expect("AWS:<password>");
    let host = sb.running.registry_host();
    let endpoint = data.proxy_endpoint().expect("proxyEndpoint");
    assert_eq!(endpoint.trim_start_matches("http://"), host);
    docker_ok(&config, &["login", "--username", user, "--password-stdin", &host], Some(password)).await;

    let image = format!("{host}/{repo}:v1");
    cleanup.image_ids.push(build(&config, &dir.join("one"), &image, "hello from the first build\n").await);
    let pushed = docker_ok(&config, &["push", &image], None).await;
    let digest = pushed_digest(&pushed);
    assert_eq!(described_digest(&sb, repo, "v1").await, digest);

    cleanup.image_ids.push(build(&config, &dir.join("two"), &image, "different content\n").await);
    let refused = docker(&config, &["push", &image], None).await;
    let output = text(&refused);
    assert!(!refused.status.success(), "pushing over an immutable tag must fail:\n{output}");
    let expected = format!(
        "The image tag 'v1' already exists in the '{repo}' repository and cannot be overwritten because the \
         repository is immutable."
    );
    assert!(output.contains(&expected), "docker output lacks ECR's message:\n{output}");
    assert_eq!(described_digest(&sb, repo, "v1").await, digest, "the tag keeps its first image");

    // And `docker pull` serves the first image back: same digest, same image ID as the first build.
    docker_ok(&config, &["rmi", &image], None).await;
    let pulled = docker_ok(&config, &["pull", &image], None).await;
    assert!(pulled.contains(&digest), "docker pull output lacks {digest}:\n{pulled}");
    let pulled_id = docker_ok(&config, &["image", "inspect", "--format", "{{.Id}}", &image], None).await;
    assert_eq!(pulled_id.trim(), cleanup.image_ids[0]);
}

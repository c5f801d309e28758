//! Builds against the real Docker engine. These tests fail, loudly, when no engine is reachable: building
//! images is what this module is for, and a skipped test proves nothing.
//!
//! Images are `FROM scratch` (nothing can be pulled here); each test tags its image uniquely and removes it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bollard::Docker;
use bollard::query_parameters::RemoveImageOptionsBuilder;
use secrecy::SecretString;

use super::*;

async fn engine() -> Docker {
    let docker = connect(&docker_host()).expect("DOCKER_HOST must name a Docker engine");
    docker.ping().await.expect("these tests need a running Docker engine (DOCKER_HOST or /var/run/docker.sock)");
    docker
}

fn unique_tag(name: &str) -> String {
    format!("pipeline-test/{name}:{}", &unique_hex()[..12])
}

/// Removes the test's images however the test ends.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let tags = std::mem::take(&mut self.0);
        // Drop cannot await; a small runtime of its own keeps cleanup independent of the test's.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let docker = connect(&docker_host()).unwrap().negotiate_version().await.unwrap();
                for tag in tags {
                    let options = RemoveImageOptionsBuilder::default().force(true).build();
                    let _ = docker.remove_image(&tag, Some(options), None).await;
                }
            });
        })
        .join();
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn request(root: &Path, tags: &[String]) -> BuildRequest {
    BuildRequest {
        context: root.to_path_buf(),
        dockerfile: root.join("Dockerfile"),
        labels: BTreeMap::from([
            ("org.opencontainers.image.revision".to_string(), "0123456789ab".to_string()),
            ("org.opencontainers.image.version".to_string(), "v1.2.3".to_string()),
        ]),
        tags: tags.to_vec(),
        ..Default::default()
    }
}

/// A tiny scratch context: one file copied in, plus a file the .dockerignore keeps out.
fn scratch_context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM scratch\nCOPY greeting.txt /greeting.txt\nCOPY . /all/\n");
    write(dir.path(), "greeting.txt", "hi\n");
    write(dir.path(), "secret.env", "NOPE=1\n");
    write(dir.path(), ".dockerignore", "secret.env\n");
    dir
}

async fn build_scratch(builder: Builder) {
    let docker = engine().await;
    let dir = scratch_context();
    let tags = vec![unique_tag("scratch"), unique_tag("scratch-extra")];
    let _cleanup = Cleanup(tags.clone());
    let mut lines = Vec::new();
    let built = build_with(&docker, &request(dir.path(), &tags), builder, &mut |l| lines.push(l.to_string()))
        .await
        .unwrap_or_else(|err| panic!("{builder:?} build failed: {err:?}\n{}", lines.join("\n")));
    assert!(built.id.starts_with("sha256:"), "{}", built.id);
    assert!(!lines.is_empty());

    for tag in &tags {
        let image = docker.inspect_image(tag).await.unwrap_or_else(|err| panic!("{tag} missing: {err}"));
        assert_eq!(image.id.as_deref(), Some(built.id.as_str()));
        let labels = image.config.unwrap().labels.unwrap();
        assert_eq!(labels["org.opencontainers.image.version"], "v1.2.3");
        assert_eq!(labels["org.opencontainers.image.revision"], "0123456789ab");
    }
    // The .dockerignore kept secret.env out of `COPY . /all/`: export the filesystem and look.
    let files = image_files(&docker, &tags[0]).await;
    assert!(files.contains(&"greeting.txt".to_string()), "{files:?}");
    assert!(files.contains(&"all/greeting.txt".to_string()), "{files:?}");
    assert!(!files.iter().any(|f| f.ends_with("secret.env")), "{files:?}");
}

/// Paths in the image's filesystem, through a created (never started) container's export.
async fn image_files(docker: &Docker, image: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    let config = bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["/none".to_string()]),
        ..Default::default()
    };
    let created =
        docker.create_container(None::<bollard::query_parameters::CreateContainerOptions>, config).await.unwrap();
    let chunks: Vec<_> = docker.export_container(&created.id).try_collect().await.unwrap();
    let _ = docker.remove_container(&created.id, None::<bollard::query_parameters::RemoveContainerOptions>).await;
    let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.to_vec()).collect();
    let mut archive = tar::Archive::new(bytes.as_slice());
    archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

#[tokio::test]
async fn buildkit_builds_a_scratch_image_with_labels_and_tags() {
    build_scratch(Builder::BuildKit).await;
}

#[tokio::test]
async fn classic_builder_builds_a_scratch_image_with_labels_and_tags() {
    build_scratch(Builder::Classic).await;
}

#[tokio::test]
async fn auto_picks_buildkit_on_this_engine() {
    let docker = engine().await.negotiate_version().await.unwrap();
    assert!(engine_has_buildkit(&docker).await.unwrap(), "a Linux engine with API >= 1.39 has BuildKit");
}

async fn failing_build(builder: Builder) {
    let docker = engine().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM scratch\nCOPY present.txt /\nCOPY missing-file /\n");
    write(dir.path(), "present.txt", "here\n");
    let tag = unique_tag("failing");
    let mut cleanup = Cleanup(vec![tag.clone()]);
    let mut lines = Vec::new();
    let err = build_with(&docker, &request(dir.path(), &[tag]), builder, &mut |l| lines.push(l.to_string()))
        .await
        .expect_err("COPY of a missing file must fail");
    // The classic builder keeps the steps that succeeded as untagged images (its cache); they are ours to remove.
    cleanup.0.extend(lines.iter().filter_map(|l| l.trim().strip_prefix("---> ")).map(str::to_string));
    let BuildError::Failed { step, tail } = &err else { panic!("{builder:?}: expected Failed, got {err:?}") };
    assert!(step.contains("COPY missing-file"), "{builder:?} step: {step}");
    // Numbering differs: BuildKit counts COPYs only ([2/2]); the classic builder counts FROM and its LABELs ([3/5]).
    assert!(step.starts_with('['), "{builder:?} step: {step}");
    assert!(!tail.is_empty() && tail.len() <= crate::image::build_log::TAIL_LINES, "{tail:?}");
    assert!(tail.iter().any(|l| l.contains("missing-file")), "{builder:?} tail: {tail:?}");
    let rendered = format!("{:?}", miette::Report::new(err));
    assert!(rendered.contains("COPY missing-file"), "{rendered}");
    eprintln!("{builder:?} failure as the user sees it:\n{rendered}");
}

#[tokio::test]
async fn buildkit_failure_names_the_failing_step() {
    failing_build(Builder::BuildKit).await;
}

#[tokio::test]
async fn classic_failure_names_the_failing_step() {
    failing_build(Builder::Classic).await;
}

#[tokio::test]
async fn missing_dockerfile_is_reported_with_help() {
    let docker = engine().await;
    let dir = tempfile::tempdir().unwrap();
    let err = build(&docker, &request(dir.path(), &[]), &mut |_| {}).await.unwrap_err();
    assert!(matches!(&err, BuildError::DockerfileNotFound(p) if p.ends_with("Dockerfile")), "{err:?}");
    assert!(miette::Diagnostic::help(&err).unwrap().to_string().contains("image.dockerfile"));
}

#[tokio::test]
async fn unreachable_engine_is_reported_with_help() {
    let dir = scratch_context();
    for host in ["unix:///nonexistent", "tcp://127.0.0.1:1"] {
        let err = match connect(host) {
            Err(err) => err,
            Ok(docker) => build(&docker, &request(dir.path(), &[]), &mut |_| {}).await.unwrap_err(),
        };
        assert!(matches!(err, BuildError::EngineUnavailable { .. }), "{host}: {err:?}");
        assert!(miette::Diagnostic::help(&err).unwrap().to_string().contains("is Docker running?"));
    }
}

#[tokio::test]
async fn secrets_are_refused_by_the_classic_builder() {
    let docker = engine().await;
    let dir = scratch_context();
    let mut req = request(dir.path(), &[]);
    req.secrets = vec![BuildSecret { id: "token".into(), value: SecretString::from("x") }];
    let err = build_with(&docker, &req, Builder::Classic, &mut |_| {}).await.unwrap_err();
    assert!(matches!(&err, BuildError::SecretsNeedBuildKit { ids } if ids == &["token"]), "{err:?}");
}

/// Builds examples/hello's static binary once per test run (its own target dir, see build.sh).
fn hello_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello/build.sh");
        let out = std::process::Command::new("bash").arg(&script).output().expect("run examples/hello/build.sh");
        assert!(out.status.success(), "build.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello/hello")
    })
}

#[tokio::test]
async fn secret_is_mounted_but_never_in_history_or_log() {
    let docker = engine().await;
    let dir = tempfile::tempdir().unwrap();
    fs::copy(hello_binary(), dir.path().join("hello")).unwrap();
    // `required=true`: the build fails unless the session really delivered the secret. The hello binary is the
    // only executable a scratch image has; HELLO_EXIT=0 makes it exit at once. The nonce keeps BuildKit's cache
    // from answering for the RUN step (its cache key does not include the secret).
    let dockerfile = |nonce: &str| {
        format!(
            "FROM scratch\nCOPY hello /hello\nENV HELLO_EXIT=0 NONCE={nonce}\n\
             RUN --mount=type=secret,id=token,required=true [\"/hello\"]\n"
        )
    };
    write(dir.path(), "Dockerfile", &dockerfile(&unique_hex()));
    let value = format!("canary-{}", unique_hex());
    let tag = unique_tag("secret");
    let _cleanup = Cleanup(vec![tag.clone()]);
    let mut req = request(dir.path(), std::slice::from_ref(&tag));
    req.secrets = vec![BuildSecret { id: "token".into(), value: SecretString::from(value.clone()) }];
    let mut lines = Vec::new();
    let built = build(&docker, &req, &mut |l| lines.push(l.to_string()))
        .await
        .unwrap_or_else(|err| panic!("secret build failed: {err:?}\n{}", lines.join("\n")));

    let history = docker.image_history(&tag).await.unwrap();
    let history_text = format!("{history:?}");
    assert!(history_text.contains("--mount=type=secret") || history_text.contains("/hello"), "{history_text}");
    assert!(!history_text.contains(&value), "secret value in the image history");
    assert!(!lines.join("\n").contains(&value), "secret value in the build log");
    let image = docker.inspect_image(&tag).await.unwrap();
    assert_eq!(image.id.as_deref(), Some(built.id.as_str()));
    assert!(!format!("{image:?}").contains(&value), "secret value in the image config");
    assert!(!format!("{req:?}").contains(&value), "secret value in Debug output");

    // Without the secret the same build fails: `required=true` is enforced, so the pass above proves delivery.
    req.secrets.clear();
    write(dir.path(), "Dockerfile", &dockerfile(&unique_hex()));
    let err = build(&docker, &req, &mut |_| {}).await.expect_err("a required secret that is missing fails the build");
    assert!(matches!(&err, BuildError::Failed { tail, .. } if tail.join("\n").contains("secret")), "{err:?}");
    req.secrets = vec![BuildSecret { id: "token".into(), value: SecretString::from(value.clone()) }];

    // And the route still reports a failing build, without the value.
    write(dir.path(), "Dockerfile", "FROM scratch\nCOPY missing-file /\n");
    let err = build(&docker, &req, &mut |_| {}).await.unwrap_err();
    assert!(matches!(&err, BuildError::Failed { .. }), "{err:?}");
    assert!(!format!("{err:?}").contains(&value));
    eprintln!("secret-route failure as the user sees it:\n{:?}", miette::Report::new(err));
}

/// The example service builds with `build()` and answers over HTTP from its container.
#[tokio::test]
async fn hello_example_builds_and_serves() {
    let docker = engine().await.negotiate_version().await.unwrap();
    hello_binary();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello");
    let tag = unique_tag("hello");
    let _cleanup = Cleanup(vec![tag.clone()]);
    let mut req = request(&root, std::slice::from_ref(&tag));
    req.target = Some("runtime".into());
    let started = std::time::Instant::now();
    let mut lines = Vec::new();
    build(&docker, &req, &mut |l| lines.push(l.to_string()))
        .await
        .unwrap_or_else(|err| panic!("hello build failed: {err:?}\n{}", lines.join("\n")));
    eprintln!("hello image built in {:?}", started.elapsed());
    assert!(lines.iter().any(|l| l.contains("sending build context: 3 entries")), "{lines:?}");

    use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
    let host_config = HostConfig {
        port_bindings: Some(
            [(
                "8080/tcp".to_string(),
                Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) }]),
            )]
            .into(),
        ),
        auto_remove: Some(false),
        ..Default::default()
    };
    let config = ContainerCreateBody {
        image: Some(tag.clone()),
        env: Some(vec!["HELLO_VERSION=v-test".to_string()]),
        host_config: Some(host_config),
        ..Default::default()
    };
    let container =
        docker.create_container(None::<bollard::query_parameters::CreateContainerOptions>, config).await.unwrap();
    let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
    docker.start_container(&container.id, None::<bollard::query_parameters::StartContainerOptions>).await.unwrap();
    let inspect = docker
        .inspect_container(&container.id, None::<bollard::query_parameters::InspectContainerOptions>)
        .await
        .unwrap();
    let port =
        inspect.network_settings.unwrap().ports.unwrap()["8080/tcp"].as_ref().unwrap()[0].host_port.clone().unwrap();
    let body = get(&format!("127.0.0.1:{port}"), "/");
    let health = get(&format!("127.0.0.1:{port}"), "/health");
    docker.remove_container(&container.id, Some(remove)).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 200") && body.ends_with("hello from v-test\n"), "{body}");
    assert!(health.starts_with("HTTP/1.1 200") && health.ends_with("ok"), "{health}");
}

/// A plain HTTP/1.1 GET with retries while the container starts listening.
fn get(addr: &str, path: &str) -> String {
    for _ in 0..50 {
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut response = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut response).is_ok()
                && !response.is_empty()
            {
                return response;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no answer from {addr}{path}");
}

#[test]
fn pure_helpers() {
    assert_eq!(parse_api_version("1.41"), Some((1, 41)));
    assert_eq!(parse_api_version("x"), None);
    assert_eq!(split_tag("127.0.0.1:4599/web:sha-abc"), ("127.0.0.1:4599/web", "sha-abc"));
    assert_eq!(split_tag("127.0.0.1:4599/web"), ("127.0.0.1:4599/web", "latest"));
    assert!(refuses_buildkit("BuildKit is not supported on this platform"));
    assert!(!refuses_buildkit("COPY failed: file not found"));
}

/// The engine the tests build on: `DOCKER_HOST`, as the CLI reads it through the CI context.
fn docker_host() -> String {
    crate::ci::Ci::from_process().docker_host()
}

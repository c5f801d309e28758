//! The integration-test harness: a fresh sandbox per test, a throwaway git repository holding the
//! service, and a builder that runs the real `pipeline` binary against them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pipeline_sandbox::{RunningSandbox, SandboxOptions};

/// A sandbox running on its own runtime for the length of one test.
pub struct Sandbox {
    pub running: RunningSandbox,
    pub runtime: tokio::runtime::Runtime,
    pub sdk: aws_config::SdkConfig,
}

impl Sandbox {
    pub fn start() -> Self {
        Self::with(SandboxOptions { time_scale: 600.0, ..SandboxOptions::default() })
    }

    pub fn with(opts: SandboxOptions) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let running = runtime.block_on(pipeline_sandbox::start(opts)).expect("sandbox starts");
        let sdk = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(running.sandbox.ctx.region.clone()))
                .endpoint_url(running.endpoint())
                .credentials_provider(aws_sdk_ecr::config::Credentials::new("sandbox", "sandbox", None, None, "tests"))
                // A test's own call (SetAlarmState ALARM, then OK) must reach the sandbox once, in order: on a
                // loaded machine a slow answer would otherwise count as a stalled stream and be sent again,
                // and the first attempt could land after the test had moved on.
                .stalled_stream_protection(
                    aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
                )
                .load(),
        );
        Self { running, runtime, sdk }
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.sdk)
    }

    /// Runs a future on the sandbox's runtime (for direct SDK assertions).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// The digest ECR holds for `repo:tag`, if any.
    pub fn digest(&self, repo: &str, tag: &str) -> Option<String> {
        let ecr = self.ecr();
        self.block_on(async move {
            let out = ecr
                .describe_images()
                .repository_name(repo)
                .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build())
                .send()
                .await
                .ok()?;
            out.image_details().first().and_then(|d| d.image_digest()).map(str::to_owned)
        })
    }

    /// What the sandbox's GitHub/Slack capture recorded.
    pub fn captured(&self) -> serde_json::Value {
        let body = self.block_on(http_get(&format!("{}/_sandbox/captured", self.running.endpoint())));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("captured is JSON ({e}): {body}"))
    }

    /// The write calls the sandbox saw so far, with their counts (`GET /_sandbox/calls`; Describe*, List*, Get* and
    /// BatchGet* read).
    pub fn writes(&self) -> BTreeMap<String, u64> {
        let body = self.block_on(http_get(&format!("{}/_sandbox/calls", self.running.endpoint())));
        let value: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("calls is JSON ({e}): {body}"));
        let ops = value["operations"].as_object().cloned().unwrap_or_default();
        let read = |op: &str| {
            let name = op.split_once(':').map_or(op, |(_, n)| n);
            ["Describe", "List", "Get", "BatchGet"].iter().any(|p| name.starts_with(p))
        };
        ops.iter().filter(|(op, _)| !read(op)).map(|(op, v)| (op.clone(), v["count"].as_u64().unwrap_or(0))).collect()
    }

    /// Adds a fault rule through the control endpoint (JSON as in crates/sandbox/README.md).
    pub fn fault(&self, rule: &str) {
        let status = self.block_on(http_post(&format!("{}/_sandbox/faults", self.running.endpoint()), rule));
        assert_eq!(status, 204, "fault rule accepted");
    }
}

/// A git repository in a temp dir with a service to release.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

pub const TINY_DOCKERFILE: &str = "FROM scratch\nCOPY content.txt /content.txt\n";

impl Repo {
    /// A repo whose image is one text file: builds in well under a second.
    pub fn tiny(repository: &str, content: &str) -> Self {
        let repo = Self { dir: tempfile::tempdir().unwrap() };
        repo.write("Dockerfile", TINY_DOCKERFILE);
        repo.write("content.txt", content);
        repo.write(".pipeline.yml", &format!("version: 1\nimage:\n  repository: {repository}\n"));
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit("feat: first");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The real `pipeline` binary with a clean environment: nothing from the developer's shell
/// (AWS profiles, GITHUB_* variables) leaks into a test.
pub struct Pipeline {
    cmd: Command,
}

impl Pipeline {
    pub fn new(repo: &Repo) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipeline"));
        cmd.current_dir(repo.path()).env_clear();
        for var in ["PATH", "DOCKER_HOST"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        cmd.env("HOME", repo.path())
            .env("NO_COLOR", "1")
            // Never reach for instance metadata (169.254.169.254) from a test.
            .env("AWS_EC2_METADATA_DISABLED", "true");
        Self { cmd }
    }

    /// Points the AWS clients at the sandbox with its dummy credentials.
    pub fn sandbox(mut self, sb: &Sandbox) -> Self {
        for (k, v) in sb.running.client_env() {
            self.cmd.env(k, v);
        }
        self.cmd.env("AWS_MAX_ATTEMPTS", "3");
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.cmd.args(args);
        self
    }

    /// Starts without waiting (for signals and concurrency tests).
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        self.cmd.spawn().expect("pipeline starts")
    }

    pub fn run(mut self) -> Run {
        let output = self.cmd.output().expect("pipeline runs");
        Run::from(output)
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n--- stderr\n{}", self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A dependency-free HTTP/1.1 POST for the sandbox's control endpoints.
pub async fn http_post(url: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code")
}

/// A dependency-free HTTP/1.1 GET returning the body (control endpoints answer without chunking).
pub async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// Removes local images whose reference starts with `prefix` (tests clean up after themselves).
pub fn remove_local_images(prefix: &str) {
    let out = Command::new("docker").args(["images", "--format", "{{.Repository}}:{{.Tag}}"]).output();
    let Ok(out) = out else { return };
    let refs: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with(prefix)).map(str::to_owned).collect();
    if !refs.is_empty() {
        let _ = Command::new("docker").arg("rmi").arg("-f").args(&refs).output();
    }
}

/// `docker build` of `context` tagged `tag` with the classic builder, as a test's fixture image. Tests build the
/// same context side by side while others remove their tags of it from the shared engine, so a build can find a
/// cached step whose image was deleted a moment later ("unable to find image sha256:…", seen in CI): building
/// again takes the step afresh.
pub fn docker_build(context: &std::path::Path, tag: &str) {
    let mut stderr = String::new();
    for _ in 0..3 {
        let out = Command::new("docker")
            .args(["build", "-q", "-t", tag])
            .arg(context)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap_or_else(|e| panic!("the tests need the docker CLI: {e}"));
        if out.status.success() {
            return;
        }
        stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    panic!("docker build of {} failed three times: {stderr}", context.display());
}

/// The repository root (for examples/hello).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

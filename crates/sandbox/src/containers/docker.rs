//! The `docker` CLI, the only way the sandbox talks to the engine: no socket client to configure, and it
//! honours `DOCKER_HOST`/contexts exactly like the user's own shell. Every call uses the sandbox's private
//! `DOCKER_CONFIG`, where it logged in to its own registry, so the user's `~/.docker` is never touched.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Labels on every container the sandbox starts.
pub const LABEL_INSTANCE: &str = "pipeline-sandbox";
pub const LABEL_TASK: &str = "pipeline-sandbox.task";
pub const LABEL_CONTAINER: &str = "pipeline-sandbox.container";

#[derive(Debug)]
pub struct Docker {
    /// This sandbox's instance id, the value of the `pipeline-sandbox` label.
    pub instance: String,
    pub config_dir: PathBuf,
    /// Set at shutdown: no container is created after it.
    pub shutting_down: AtomicBool,
    /// `docker run` calls in flight; shutdown waits for them so none creates a container after the cleanup.
    pub creating: AtomicUsize,
}

/// What `docker run` needs for one container of a task.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub task_arn: String,
    pub container: String,
    pub image: String,
    pub env: Vec<(String, String)>,
    pub port: Option<u16>,
    pub entry_point: Vec<String>,
    pub command: Vec<String>,
    /// `--health-*` flags from the container definition's healthCheck.
    pub health_flags: Vec<String>,
}

pub type CmdResult = Result<String, String>;

impl Docker {
    pub fn new(instance: String) -> std::io::Result<Arc<Self>> {
        let config_dir = std::env::temp_dir().join(format!("pipeline-sandbox-{instance}"));
        std::fs::create_dir_all(&config_dir)?;
        Ok(Arc::new(Self {
            instance,
            config_dir,
            shutting_down: AtomicBool::new(false),
            creating: AtomicUsize::new(0),
        }))
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("docker");
        c.args(args)
            .env("DOCKER_CONFIG", &self.config_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// Runs `docker args...`; stdout on success, stderr (or the spawn error) on failure.
    pub async fn run(&self, args: &[&str]) -> CmdResult {
        let out = self.command(args).output().await.map_err(|e| format!("cannot run docker: {e}"))?;
        output(out)
    }

    /// `docker login` to the sandbox's own registry, so images pinned there are pulled like from ECR.
    pub async fn login(&self, registry: &str, password: &str) -> CmdResult {
        use tokio::io::AsyncWriteExt;
        let mut cmd = self.command(&["login", "-u", "AWS", "--password-stdin", registry]);
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot run docker: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(password.as_bytes()).await.map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
        output(out)
    }

    /// `docker run -d ...`; returns the container id. Runs as a blocking OS process on the blocking pool rather
    /// than through the async runtime: shutdown (a `Drop`, possibly on a stalled runtime thread) must be able to
    /// wait for every creation in flight, or a container created just after the cleanup would be left behind.
    pub async fn create(self: &Arc<Self>, spec: &RunSpec) -> CmdResult {
        let args = self.run_args(spec);
        let me = self.clone();
        let job = tokio::task::spawn_blocking(move || {
            me.creating.fetch_add(1, Ordering::SeqCst);
            let result = if me.shutting_down.load(Ordering::SeqCst) {
                Err("the sandbox is shutting down".to_owned())
            } else {
                std::process::Command::new("docker")
                    .args(&args)
                    .env("DOCKER_CONFIG", &me.config_dir)
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run docker: {e}"))
                    .and_then(output)
            };
            me.creating.fetch_sub(1, Ordering::SeqCst);
            result
        });
        let id = job.await.map_err(|e| e.to_string())??;
        Ok(id.trim().to_owned())
    }

    fn run_args(&self, spec: &RunSpec) -> Vec<String> {
        let mut a: Vec<String> = vec!["run".into(), "-d".into()];
        let mut push = |k: &str, v: String| {
            a.push(k.to_owned());
            a.push(v);
        };
        push("--label", format!("{LABEL_INSTANCE}={}", self.instance));
        push("--label", format!("{LABEL_TASK}={}", spec.task_arn));
        push("--label", format!("{LABEL_CONTAINER}={}", spec.container));
        for (k, v) in &spec.env {
            // `-e K=V` as one argument: values reach the container as given, never through a shell.
            push("-e", format!("{k}={v}"));
        }
        if let Some(p) = spec.port {
            // A random host port on loopback only: the task is reachable from this host, not the network.
            push("-p", format!("127.0.0.1::{p}"));
        }
        if let Some(first) = spec.entry_point.first() {
            push("--entrypoint", first.clone());
        }
        a.extend(spec.health_flags.iter().cloned());
        a.push(spec.image.clone());
        // An entryPoint with more than one element: the rest become the first arguments.
        a.extend(spec.entry_point.iter().skip(1).cloned());
        a.extend(spec.command.iter().cloned());
        a
    }

    /// The host port `container_port/tcp` is published on.
    pub async fn host_port(&self, id: &str, container_port: u16) -> Option<u16> {
        let out = self.run(&["port", id, &format!("{container_port}/tcp")]).await.ok()?;
        out.lines().find_map(|l| l.trim().rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
    }

    /// Waits for the container to stop and returns its exit code.
    pub async fn wait(&self, id: &str) -> Option<i64> {
        self.run(&["wait", id]).await.ok()?.trim().parse().ok()
    }

    /// `State.Health.Status` of a container with a health check (`starting`, `healthy`, `unhealthy`).
    pub async fn health(&self, id: &str) -> Option<String> {
        let out = self.run(&["inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", id]).await;
        out.ok().map(|s| s.trim().to_owned())
    }

    pub async fn remove(&self, ids: &[String]) -> CmdResult {
        if ids.is_empty() {
            return Ok(String::new());
        }
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        self.run(&args).await
    }

    /// (container id, task ARN) of every container of this instance, running or not.
    pub async fn list(&self) -> Result<Vec<(String, String)>, String> {
        let filter = format!("label={LABEL_INSTANCE}={}", self.instance);
        let format = format!("{{{{.ID}}}}\t{{{{.Label \"{LABEL_TASK}\"}}}}");
        let out = self.run(&["ps", "-a", "--no-trunc", "--filter", &filter, "--format", &format]).await?;
        Ok(parse_list(&out))
    }

    /// Shutdown: no new containers, wait (bounded) for creations in flight, then remove every container of this
    /// instance. Blocking on purpose: it runs from `Drop`, where nothing can be awaited.
    pub fn remove_all_blocking(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.creating.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let filter = format!("label={LABEL_INSTANCE}={}", self.instance);
        let listed = std::process::Command::new("docker")
            .args(["ps", "-aq", "--no-trunc", "--filter", &filter])
            .env("DOCKER_CONFIG", &self.config_dir)
            .stdin(Stdio::null())
            .output();
        if let Ok(out) = listed {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect();
            if !ids.is_empty() {
                let removed = std::process::Command::new("docker")
                    .args(["rm", "-f"])
                    .args(&ids)
                    .env("DOCKER_CONFIG", &self.config_dir)
                    .stdin(Stdio::null())
                    .output();
                if let Err(e) = removed {
                    tracing::warn!("cannot remove the sandbox's containers: {e}");
                }
            }
        }
        remove_config_dir(&self.config_dir);
    }
}

/// `pipeline-sandbox --cleanup`: removes the containers of every sandbox instance, e.g. after one was killed
/// with no chance to clean up. Running sandboxes lose theirs too, which is why it is never done implicitly.
/// Returns how many were removed.
pub fn remove_every_instance() -> Result<usize, String> {
    let listed = std::process::Command::new("docker")
        .args(["ps", "-aq", "--no-trunc", "--filter", &format!("label={LABEL_INSTANCE}")])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))
        .and_then(output)?;
    let ids: Vec<&str> = listed.split_whitespace().collect();
    if !ids.is_empty() {
        std::process::Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run docker: {e}"))
            .and_then(output)?;
    }
    Ok(ids.len())
}

fn remove_config_dir(dir: &Path) {
    // It holds the registry login; nothing else of value.
    let _ = std::fs::remove_dir_all(dir);
}

fn output(out: std::process::Output) -> CmdResult {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        Err(if err.is_empty() { format!("docker exited with {}", out.status) } else { err })
    }
}

fn parse_list(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let (id, task) = l.split_once('\t').unwrap_or((l, ""));
            let id = id.trim();
            (!id.is_empty()).then(|| (id.to_owned(), task.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_args_keep_values_whole_and_publish_on_loopback() {
        let d = Docker {
            instance: "i1".into(),
            config_dir: PathBuf::from("/tmp/x"),
            shutting_down: AtomicBool::new(false),
            creating: AtomicUsize::new(0),
        };
        let spec = RunSpec {
            task_arn: "arn:task".into(),
            container: "web".into(),
            image: "img".into(),
            env: vec![("A".into(), "x y; $(z)".into())],
            port: Some(8080),
            entry_point: vec!["/bin/app".into(), "--flag".into()],
            command: vec!["serve".into()],
            health_flags: Vec::new(),
        };
        let a = d.run_args(&spec);
        assert!(a.windows(2).any(|w| w[0] == "-e" && w[1] == "A=x y; $(z)"));
        assert!(a.windows(2).any(|w| w[0] == "-p" && w[1] == "127.0.0.1::8080"));
        assert!(a.windows(2).any(|w| w[0] == "--label" && w[1] == "pipeline-sandbox=i1"));
        assert_eq!(&a[a.len() - 3..], ["img", "--flag", "serve"]);
    }

    #[test]
    fn lists_ids_with_their_task() {
        assert_eq!(
            parse_list("abc\tarn:aws:ecs:r:1:task/c/1\ndef\t\n\n"),
            vec![("abc".into(), "arn:aws:ecs:r:1:task/c/1".into()), ("def".into(), String::new())]
        );
    }
}

//! action.yml, run the way the GitHub runner runs a composite action: inputs (defaults, then the
//! caller's `with:`) substituted into each step's `env:`, every `run` step executed by
//! `bash --noprofile --norc -eo pipefail` with its own GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files,
//! GITHUB_PATH carried to the next steps, and the action's outputs evaluated from the steps' outputs.
//! The install step uses the binary under test (PIPELINE_BIN_DIR) instead of downloading one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

use crate::harness::{Repo, Run, Sandbox, remove_local_images, repo_root};

const OUTPUT_KEYS: [&str; 8] =
    ["version", "tags", "image-uri", "image-digest", "task-definition-arn", "deployment-id", "status", "rolled-back"];

fn action() -> Value {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    serde_norway::from_str(&text).expect("action.yml is YAML")
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// Parses an environment file as the runner does: `name=value` and `name<<DELIM` heredocs.
fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_owned(), value.to_owned());
        }
    }
    out
}

/// The runner's side of one composite-action run.
pub(crate) struct Runner {
    inputs: BTreeMap<String, String>,
    /// `steps.<id>.outputs.<name>`
    steps: BTreeMap<String, BTreeMap<String, String>>,
    base_env: Vec<(String, String)>,
    path_additions: Vec<String>,
    dir: tempfile::TempDir,
    logs: Vec<(String, Run)>,
    /// `(step id, stderr marker)`: send SIGTERM to that step's process when the marker appears, as the
    /// runner does when the workflow is cancelled.
    cancel_at: Option<(String, String)>,
}

impl Runner {
    pub(crate) fn new(with: &[(&str, &str)], base_env: Vec<(String, String)>) -> Self {
        let action = action();
        let mut inputs = BTreeMap::new();
        for (name, spec) in action["inputs"].as_mapping().unwrap() {
            inputs.insert(str_of(name), spec.get("default").map(str_of).unwrap_or_default());
        }
        for (k, v) in with {
            assert!(inputs.contains_key(*k), "action.yml has no input {k}");
            inputs.insert((*k).to_owned(), (*v).to_owned());
        }
        let mut runner = Self {
            inputs: BTreeMap::new(),
            steps: BTreeMap::new(),
            base_env,
            path_additions: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
            logs: Vec::new(),
            cancel_at: None,
        };
        // Defaults may be expressions (`${{ github.token }}`): the runner evaluates them.
        runner.inputs = inputs.iter().map(|(k, v)| (k.clone(), runner.expand(v))).collect();
        runner
    }

    /// Evaluates the `${{ ... }}` expressions the action uses (plain context lookups).
    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            let expr = rest[start + 3..end].trim();
            out.push_str(&self.lookup(expr));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn lookup(&self, expr: &str) -> String {
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self.inputs.get(*name).cloned().unwrap_or_else(|| panic!("unknown input {name}")),
            ["steps", id, "outputs", name] => {
                self.steps.get(*id).and_then(|o| o.get(*name)).cloned().unwrap_or_default()
            }
            ["github", "action_path"] => repo_root().display().to_string(),
            ["github", "token"] => "ghs_test_token".into(),
            // `uses: ./`: no ref, no repository.
            ["github", "action_ref" | "action_repository"] => String::new(),
            _ => panic!("the test runner does not know the expression `{expr}`"),
        }
    }

    /// Runs every step of the composite action; stops at the first failing step like the runner.
    pub(crate) fn run(&mut self) -> bool {
        let action = action();
        let steps = action["runs"]["steps"].as_sequence().unwrap().clone();
        for (i, step) in steps.iter().enumerate() {
            let id = step.get("id").map(str_of).unwrap_or_else(|| format!("__{i}"));
            let script = str_of(step.get("run").expect("every step of this action is a `run` step"));
            assert_eq!(step.get("shell").map(str_of).as_deref(), Some("bash"), "step {id}: shell bash");
            let step_dir = self.dir.path().join(&id);
            std::fs::create_dir_all(&step_dir).unwrap();
            let script_path = step_dir.join("script.sh");
            std::fs::write(&script_path, self.expand(&script)).unwrap();
            let output_file = step_dir.join("output");
            let summary_file = step_dir.join("summary.md");
            let path_file = step_dir.join("path");
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&script_path).env_clear();
            for (k, v) in &self.base_env {
                cmd.env(k, v);
            }
            let mut path = self.path_additions.clone();
            path.push(std::env::var("PATH").unwrap_or_default());
            cmd.env("PATH", path.join(":"))
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_ACTION_PATH", repo_root())
                .env("GITHUB_OUTPUT", &output_file)
                .env("GITHUB_STEP_SUMMARY", &summary_file)
                .env("GITHUB_PATH", &path_file)
                .env("RUNNER_TEMP", self.dir.path())
                .env("RUNNER_TOOL_CACHE", self.dir.path().join("toolcache"));
            if let Some(env) = step.get("env").and_then(Value::as_mapping) {
                for (k, v) in env {
                    cmd.env(str_of(k), self.expand(&str_of(v)));
                }
            }
            let cwd = step.get("working-directory").map(|w| self.expand(&str_of(w))).unwrap_or_else(|| ".".into());
            let cwd = Path::new(&cwd);
            let home = self.base_env.iter().find(|(k, _)| k == "HOME").map(|(_, v)| PathBuf::from(v)).unwrap();
            cmd.current_dir(if cwd.is_absolute() { cwd.to_path_buf() } else { home.join(cwd) });
            let run = match &self.cancel_at {
                Some((step, marker)) if *step == id => {
                    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
                    let child = cmd.spawn().expect("bash runs");
                    crate::inflight::follow(child, marker, std::time::Duration::from_millis(300), |pid| {
                        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
                    })
                    .0
                }
                _ => Run::from(cmd.output().expect("bash runs")),
            };
            let ok = run.code == 0;
            let outputs = parse_env_file(&std::fs::read_to_string(&output_file).unwrap_or_default());
            self.steps.insert(id.clone(), outputs);
            let added = std::fs::read_to_string(&path_file).unwrap_or_default();
            self.path_additions.splice(0..0, added.lines().rev().map(str::to_owned).collect::<Vec<_>>());
            self.logs.push((id, run));
            if !ok {
                return false;
            }
        }
        true
    }

    /// The action's outputs, evaluated like `outputs.<name>.value`.
    pub(crate) fn outputs(&self) -> BTreeMap<String, String> {
        let action = action();
        action["outputs"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| (str_of(k), self.expand(&str_of(&v["value"]))))
            .collect()
    }

    pub(crate) fn log(&self, id: &str) -> &Run {
        &self.logs.iter().find(|(i, _)| i == id).unwrap_or_else(|| panic!("step {id} did not run")).1
    }

    fn summary(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(id).join("summary.md")).unwrap_or_default()
    }

    pub(crate) fn explain(&self) -> String {
        self.logs.iter().map(|(id, r)| format!("--- step {id}: exit {}\n{}\n{}", r.code, r.stdout, r.stderr)).collect()
    }
}

/// The environment a job gives every step: the sandbox's AWS endpoint, the repo as HOME (so the
/// relative working-directory resolves there), the binary under test as the "installed" one.
pub(crate) fn job_env(repo: &Repo, sb: Option<&Sandbox>) -> Vec<(String, String)> {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_pipeline")).parent().unwrap().display().to_string();
    let mut env = vec![
        ("HOME".to_owned(), repo.path().display().to_string()),
        ("NO_COLOR".to_owned(), "1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ("AWS_MAX_ATTEMPTS".to_owned(), "3".to_owned()),
        ("PIPELINE_BIN_DIR".to_owned(), bin_dir),
        ("GITHUB_EVENT_NAME".to_owned(), "push".to_owned()),
        ("GITHUB_SHA".to_owned(), repo.head()),
    ];
    if let Some(v) = std::env::var_os("DOCKER_HOST") {
        env.push(("DOCKER_HOST".to_owned(), v.to_string_lossy().into_owned()));
    }
    if let Some(sb) = sb {
        for (k, v) in sb.running.client_env() {
            env.push((k, v));
        }
    }
    env
}

#[test]
fn action_yml_passes_inputs_only_through_env_and_maps_every_output() {
    let action = action();
    assert_eq!(str_of(&action["runs"]["using"]), "composite");
    for step in action["runs"]["steps"].as_sequence().unwrap() {
        let script = str_of(&step["run"]);
        assert!(!script.contains("${{"), "no expression is pasted into a script:\n{script}");
        for (k, _) in step.get("env").and_then(Value::as_mapping).into_iter().flatten() {
            let k = str_of(k);
            assert!(k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'), "env name {k}");
        }
    }
    let outputs = action["outputs"].as_mapping().unwrap();
    let names: Vec<String> = outputs.keys().map(str_of).collect();
    assert_eq!(names, OUTPUT_KEYS);
    for (k, v) in outputs {
        assert_eq!(str_of(&v["value"]), format!("${{{{ steps.run.outputs.{} }}}}", str_of(k)));
        assert!(!str_of(&v["description"]).is_empty());
    }
    for input in
        ["command", "config", "environment", "version", "working-directory", "args", "github-token", "pipeline-version"]
    {
        assert!(action["inputs"].get(input).is_some(), "input {input}");
    }
    assert_eq!(str_of(&action["inputs"]["command"]["default"]), "release");
    assert_eq!(str_of(&action["inputs"]["github-token"]["default"]), "${{ github.token }}");
}

#[test]
fn action_release_of_a_tiny_repo_sets_the_outputs_and_the_job_summary() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("web", "from the action");
    let mut runner = Runner::new(
        &[("command", "release"), ("version", "1.0.0"), ("working-directory", ".")],
        job_env(&repo, Some(&sb)),
    );
    assert!(runner.run(), "the action succeeds\n{}", runner.explain());

    let install = &runner.steps["install"];
    assert_eq!(install.get("source").map(String::as_str), Some("local"));

    let out = runner.outputs();
    assert_eq!(out["status"], "success", "{out:?}");
    assert_eq!(out["version"], "1.0.0");
    assert_eq!(out["rolled-back"], "false");
    let digest = out["image-digest"].clone();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(out["image-uri"], format!("{}/web@{digest}", sb.running.registry_host()));
    let sha_tag = format!("sha-{}", &repo.head()[..12]);
    assert_eq!(out["tags"].split(',').collect::<Vec<_>>(), ["v1.0.0", sha_tag.as_str()]);
    // The registry holds what the outputs say.
    assert_eq!(sb.digest("web", "v1.0.0").as_deref(), Some(digest.as_str()));

    // stdout of the step is the JSON document, the same facts as the outputs.
    let json = runner.log("run").json();
    assert_eq!(json["image_digest"], digest.as_str());
    assert_eq!(json["status"], "success");
    assert!(!runner.summary("run").trim().is_empty(), "the job summary is written");

    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

#[test]
fn action_plan_in_dry_run_reports_changes_without_failing_the_step() {
    let sb = Sandbox::start();
    let repo = Repo::tiny("planned", "plan me");
    repo.write("sub/.pipeline.yml", "version: 1\nimage:\n  repository: planned\n  context: ..\n");
    repo.commit("chore: config in a subdirectory");
    let mut runner = Runner::new(
        &[("command", "plan"), ("args", "--dry-run"), ("version", "0.3.0"), ("working-directory", "sub")],
        job_env(&repo, Some(&sb)),
    );
    assert!(runner.run(), "plan's exit 2 is not a failure\n{}", runner.explain());
    let out = runner.outputs();
    assert_eq!(out["status"], "changes", "{out:?}");
    assert_eq!(out["version"], "0.3.0");
    // Nothing was pushed.
    assert_eq!(sb.digest("planned", "v0.3.0"), None);
}

#[test]
fn action_inputs_reach_the_binary_as_literal_arguments_never_as_shell() {
    let repo = Repo::tiny("web", "x");
    // A stand-in binary that records its argv and environment.
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("argv");
    std::fs::write(
        bin.path().join("pipeline"),
        format!(
            "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\" > '{log}'\n\
             printf 'ENV=%s\\nVERSION=%s\\nCONFIG=%s\\nTOKEN=%s\\n' \"${{PIPELINE_ENV-unset}}\" \"${{PIPELINE_VERSION-unset}}\" \
             \"${{PIPELINE_CONFIG-unset}}\" \"$GITHUB_TOKEN\" >> '{log}'\nexit 3\n",
            log = log.display()
        ),
    )
    .unwrap();
    assert!(Command::new("chmod").arg("+x").arg(bin.path().join("pipeline")).status().unwrap().success());
    let mut env = job_env(&repo, None);
    env.retain(|(k, _)| k != "PIPELINE_BIN_DIR");
    env.push(("PIPELINE_BIN_DIR".into(), bin.path().display().to_string()));
    let pwned = repo.path().join("pwned");
    let hostile = format!("$(touch {p}) `touch {p}` ; touch {p}", p = pwned.display());
    let mut runner =
        Runner::new(&[("command", "deploy"), ("environment", &hostile), ("args", "--image a@sha256:00 *")], env);
    assert!(!runner.run(), "the binary's exit code 3 fails the step");
    assert_eq!(runner.log("run").code, 3);
    assert!(!pwned.exists(), "an input was executed by the shell");
    let argv = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = argv.lines().collect();
    assert_eq!(&lines[..5], ["--output", "json", "deploy", "--image", "a@sha256:00"]);
    assert_eq!(lines[5], "*", "no glob expansion");
    assert_eq!(lines[6], format!("ENV={hostile}"));
    // Empty inputs stay unset so pipeline's defaults apply (an empty PIPELINE_CONFIG is an error).
    assert_eq!(lines[7], "VERSION=unset");
    assert_eq!(lines[8], "CONFIG=unset");
    assert_eq!(lines[9], "TOKEN=ghs_test_token");
}

#[test]
fn action_run_step_receiving_sigterm_mid_shift_rolls_back() {
    use crate::fixture::{Controller, repo_for};
    let sb = Sandbox::start();
    let svc = sb.service(Controller::CodeDeploy);
    let repo = repo_for(Controller::CodeDeploy, "    guard:\n      poll-interval: 50ms\n");
    crate::inflight::edit_config(&repo, "ECSCanary10Percent5Minutes", "ECSCanary10Percent15Minutes");
    let mut runner = Runner::new(
        &[("command", "release"), ("version", "1.0.0"), ("environment", "prod")],
        job_env(&repo, Some(&sb)),
    );
    runner.cancel_at = Some(("run".into(), "deploy: deployment".into()));
    assert!(!runner.run(), "a cancelled step fails");
    let run = runner.log("run");
    assert_eq!(run.code, 6, "the binary itself got the signal and exited 'cancelled'\n{}", runner.explain());
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(sb.running_td(&svc), svc.initial_td, "the previous revision serves");
    assert!(sb.settled(&svc, std::time::Duration::from_secs(10)).is_empty());
    assert_eq!(runner.outputs()["status"], "failure");
    remove_local_images(&format!("{}/web", sb.running.registry_host()));
}

/// A job's payload through the action, as a multi-line input and as a file: each line is one value, never split
/// on whitespace nor read by a shell. hello runs as a real container and exits 0 only if PAYLOAD arrived unchanged.
#[test]
fn action_run_task_passes_a_multi_line_payload_and_a_payload_file_unchanged() {
    use crate::jobs::{HelloImage, TRICKY, cluster, docker_sandbox, hello_job_td, standalone_repo};
    let image = HelloImage::build();
    let sb = docker_sandbox();
    cluster(&sb, "jobs");
    let repo = standalone_repo(&hello_job_td(TRICKY), &image.tag, "");
    repo.write("payload.env", &format!("PAYLOAD={TRICKY}\n"));
    let run = |with: &[(&str, &str)]| {
        let mut runner = Runner::new(with, job_env(&repo, Some(&sb)));
        let ok = runner.run();
        (ok, runner)
    };

    let multi_line = format!("OTHER=one two\nPAYLOAD={TRICKY}");
    let (ok, runner) = run(&[("command", "run-task load"), ("payload", &multi_line)]);
    assert!(ok, "the payload input arrives unchanged\n{}", runner.explain());
    assert_eq!(runner.outputs()["status"], "success");

    let (ok, runner) = run(&[("command", "run-task load"), ("env-file", "payload.env")]);
    assert!(ok, "the payload file arrives unchanged\n{}", runner.explain());

    // The input wins over the file; a value that is not the expected one fails the step with the job's code.
    let (ok, runner) =
        run(&[("command", "run-task load"), ("env-file", "payload.env"), ("payload", "PAYLOAD=a value")]);
    assert!(!ok, "hello exits 9 on a different value");
    assert_eq!(runner.log("run").code, 9, "{}", runner.explain());
}

//! Helpers for the tests of a deployment in flight (faults.rs, cancel.rs): the real binary spawned
//! with its stderr followed line by line (a signal sent when a phase starts), and the sandbox asked
//! whether anything is still deploying.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::fixture::{Controller, Service};
use crate::harness::{Pipeline, Run, Sandbox};

/// Runs `pipeline` and, when a stderr line contains `marker`, waits `delay` and sends `signal`
/// (`INT`, `TERM`). Returns the run and whether the marker was seen.
pub fn run_and_signal(pipeline: Pipeline, marker: &str, delay: Duration, signal: &str) -> (Run, bool) {
    let signal = signal.to_owned();
    run_with(pipeline, marker, delay, move |pid| {
        let _ = std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
    })
}

/// Runs `pipeline` and calls `act(pid)` once, `delay` after the first stderr line containing `marker`.
pub fn run_with(pipeline: Pipeline, marker: &str, delay: Duration, act: impl FnOnce(u32)) -> (Run, bool) {
    follow(pipeline.spawn(), marker, delay, act)
}

/// Follows a spawned child (stdout and stderr piped) to its end, acting once on `marker`.
pub fn follow(mut child: std::process::Child, marker: &str, delay: Duration, act: impl FnOnce(u32)) -> (Run, bool) {
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel::<String>();
    let err = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut act = Some(act);
    while let Ok(line) = rx.recv() {
        if line.contains(marker)
            && let Some(act) = act.take()
        {
            std::thread::sleep(delay);
            act(pid);
        }
    }
    let signalled = act.is_none();
    let status = child.wait().unwrap();
    let run = Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    (run, signalled)
}

impl Sandbox {
    /// Deployments still in flight: CodeDeploy deployments not yet ended, ECS deployments rolling out.
    pub fn in_flight(&self, svc: &Service) -> Vec<String> {
        let (cd, ecs) = (self.codedeploy(), self.ecs());
        self.block_on(async {
            let mut found = Vec::new();
            if let Ok(list) = cd
                .list_deployments()
                .application_name("web")
                .deployment_group_name("web-prod")
                .include_only_statuses(aws_sdk_codedeploy::types::DeploymentStatus::Created)
                .include_only_statuses(aws_sdk_codedeploy::types::DeploymentStatus::Queued)
                .include_only_statuses(aws_sdk_codedeploy::types::DeploymentStatus::InProgress)
                .include_only_statuses(aws_sdk_codedeploy::types::DeploymentStatus::Ready)
                .send()
                .await
            {
                found.extend(list.deployments().iter().cloned());
            }
            let out = ecs.describe_services().cluster(&svc.cluster).services(&svc.name).send().await.unwrap();
            for d in out.services()[0].deployments() {
                if d.rollout_state().map(|s| s.as_str()) == Some("IN_PROGRESS") {
                    found.push(d.id().unwrap_or_default().to_owned());
                }
            }
            found
        })
    }

    /// Waits (bounded) until nothing is in flight; returns what still is.
    pub fn settled(&self, svc: &Service, within: Duration) -> Vec<String> {
        let end = Instant::now() + within;
        loop {
            let now = self.in_flight(svc);
            if now.is_empty() || Instant::now() >= end {
                return now;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// CodeDeploy deployments of the fixture's group, newest first.
    pub fn codedeploy_deployments(&self) -> Vec<String> {
        let cd = self.codedeploy();
        self.block_on(async {
            cd.list_deployments()
                .application_name("web")
                .deployment_group_name("web-prod")
                .send()
                .await
                .map(|l| l.deployments().to_vec())
                .unwrap_or_default()
        })
    }

    /// Gives the fixture's deployment group a termination wait (the bake runs inside it).
    pub fn termination_wait(&self, minutes: i32) {
        use aws_sdk_codedeploy::types::*;
        let cd = self.codedeploy();
        self.block_on(async {
            cd.update_deployment_group()
                .application_name("web")
                .current_deployment_group_name("web-prod")
                .blue_green_deployment_configuration(
                    BlueGreenDeploymentConfiguration::builder()
                        .terminate_blue_instances_on_deployment_success(
                            BlueInstanceTerminationOption::builder()
                                .action(InstanceAction::Terminate)
                                .termination_wait_time_in_minutes(minutes)
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .expect("UpdateDeploymentGroup")
        });
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        let url = format!("{}/_sandbox/faults", self.running.endpoint());
        let rest = url.strip_prefix("http://").unwrap().to_owned();
        self.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (host, path) = rest.split_once('/').unwrap();
            let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
            let req = format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            stream.write_all(req.as_bytes()).await.unwrap();
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response).await;
        });
    }
}

/// A repo for the fixture service with a fast guard poll, a short transient window, and `extra`.
pub fn repo(controller: Controller, extra: &str) -> crate::harness::Repo {
    crate::fixture::repo_for(
        controller,
        &format!("    guard:\n      poll-interval: 50ms\n      transient-window: 2s\n{extra}"),
    )
}

/// Replaces text in the repo's config and commits it.
pub fn edit_config(repo: &crate::harness::Repo, from: &str, to: &str) {
    let config = std::fs::read_to_string(repo.path().join(".pipeline.yml")).unwrap();
    assert!(config.contains(from), "{from} in\n{config}");
    repo.write(".pipeline.yml", &config.replacen(from, to, 1));
    repo.commit("chore: config");
}

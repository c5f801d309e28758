//! `verify:` checks on test traffic, run while the new release is reachable only through the test listener and
//! before any production traffic moves: HTTP probes (`http.rs`) and one-off tasks (`task.rs`). One entry point,
//! [`run`], independent of the strategy: it takes what to probe and returns the outcome; the strategy decides what
//! to do with it (CodeDeploy: ContinueDeployment READY_WAIT or StopDeployment with rollback; ECS: the PAUSE hook's
//! CONTINUE or ROLLBACK). `listener.rs` derives the test listener's URL through ELBv2.

pub mod http;
pub mod listener;
pub mod task;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Task, VerifyCheck};
use crate::deploy::cancel::Cancel;
use crate::deploy::job::Defaults;
use crate::ecs::service::ServiceInfo;
use crate::report::{CheckReport, Event, Reporter, Stage};

/// The checks of a release and where they reach it, decided read-only with the plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyPlan {
    pub checks: Vec<VerifyCheck>,
    /// The test listener's ARN, when the strategy has one.
    pub test_listener: Option<String>,
    /// `http(s)://<load balancer DNS name>:<port>` of the test listener (what HTTP checks without `url:` probe).
    pub test_url: Option<String>,
    /// `pipeline rollback`: the target is a verified release, so the checks are skipped and production traffic
    /// moves as soon as the deployment waits for it.
    pub skip_checks: bool,
}

impl VerifyPlan {
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The plan lines: where the checks reach the release, then one line per check.
    pub fn describe(&self) -> Vec<String> {
        if self.checks.is_empty() {
            return Vec::new();
        }
        if self.skip_checks {
            return vec!["verify: skipped (a rollback returns to a verified release)".into()];
        }
        let place = self.test_url.as_deref().unwrap_or("no test listener found");
        let mut lines = vec![format!("verify on test traffic ({place}) before production traffic moves:")];
        for check in &self.checks {
            lines.push(format!("  - {}", describe_check(check, self.test_url.as_deref())));
        }
        lines
    }
}

fn describe_check(check: &VerifyCheck, test_url: Option<&str>) -> String {
    match check {
        VerifyCheck::RunTask(name) => format!("run-task {name}: exit 0 passes"),
        VerifyCheck::Http(h) => {
            let url = http::url_of(h, test_url).unwrap_or_else(|| format!("<test listener>{}", h.path));
            let amount = match h.duration {
                Some(d) => format!("for {}s", d.as_secs_f64()),
                None => format!("{} requests", h.requests),
            };
            let body = h.body.as_ref().map(|b| format!(" containing {b:?}")).unwrap_or_default();
            format!("http GET {url}: {amount}, expect {}{body}, max error rate {}", h.expect, h.max_error_rate)
        }
    }
}

/// What the one-off task checks need to run a job: the tasks of the config and where jobs run by default.
pub struct Jobs<'a> {
    pub ecs: &'a aws_sdk_ecs::Client,
    pub tasks: &'a BTreeMap<String, Task>,
    pub defaults: Defaults,
    pub service: Option<&'a ServiceInfo>,
    /// The revision being verified: tasks without their own task definition run it.
    pub task_definition: &'a str,
}

/// How the checks ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyOutcome {
    /// One result per check that ran, in order (a failed check ends the run: later ones do not run).
    pub checks: Vec<CheckReport>,
    /// A cancel arrived while the checks ran.
    pub cancelled: bool,
}

impl VerifyOutcome {
    pub fn passed(&self) -> bool {
        !self.cancelled && self.checks.iter().all(|c| c.passed)
    }

    /// The first failed check, as a sentence for the rollback reason.
    pub fn failure(&self) -> Option<String> {
        self.checks.iter().find(|c| !c.passed).map(|c| format!("verify check `{}` failed: {}", c.name, c.detail))
    }
}

/// Runs the checks in order, each reported as it ends ([`Event::Check`]); stops at the first failure or a cancel.
pub async fn run(plan: &VerifyPlan, jobs: &Jobs<'_>, cancel: &mut Cancel, reporter: &mut Reporter) -> VerifyOutcome {
    let mut outcome = VerifyOutcome::default();
    if plan.checks.is_empty() {
        return outcome;
    }
    let place = plan.test_url.as_deref().unwrap_or("the test listener");
    reporter.started(Stage::Verify, format!("{} check(s) on test traffic ({place})", plan.checks.len()));
    let mut cancelled = cancel.clone();
    for check in &plan.checks {
        let report = tokio::select! {
            report = run_one(check, plan, jobs, cancel, reporter) => report,
            _ = cancelled.cancelled() => None,
        };
        let Some(report) = report else {
            outcome.cancelled = true;
            reporter.emit(Event::Failed { stage: Stage::Verify, diagnostics: vec!["cancelled while checking".into()] });
            return outcome;
        };
        let passed = report.passed;
        reporter.emit(Event::Check { report: report.clone() });
        outcome.checks.push(report);
        if !passed {
            let why = outcome.failure().unwrap_or_default();
            reporter.emit(Event::Failed { stage: Stage::Verify, diagnostics: vec![why] });
            return outcome;
        }
    }
    reporter.finished(Stage::Verify, format!("{} check(s) passed on test traffic", outcome.checks.len()));
    outcome
}

/// `None`: cancelled.
async fn run_one(
    check: &VerifyCheck,
    plan: &VerifyPlan,
    jobs: &Jobs<'_>,
    cancel: &mut Cancel,
    reporter: &mut Reporter,
) -> Option<CheckReport> {
    match check {
        VerifyCheck::Http(h) => Some(http::run(h, plan.test_url.as_deref()).await),
        VerifyCheck::RunTask(name) => task::run(name, jobs, cancel, reporter).await,
    }
}

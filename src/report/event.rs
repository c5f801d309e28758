//! The events a run emits and the outcome it ends with.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Version,
    Repository,
    Build,
    Push,
    Tag,
    /// The plan: what the run will do, before it does anything.
    Plan,
    /// A one-off task (`run-task`, `before-deploy`).
    Task,
    /// The 5xx guard: alarms ensured and checked before the deployment.
    Guard,
    /// Register the task definition (skipped when it equals the latest revision).
    Register,
    /// Start the deployment (rolling, CodeDeploy or ECS blue/green).
    Deploy,
    /// Traffic shifting to the new release; progress comes as [`Event::Traffic`].
    Traffic,
    /// Watching the guard alarm after 100% of the traffic.
    Bake,
    /// `verify:` checks on test traffic, before production traffic moves; results come as [`Event::Check`].
    Verify,
    Rollback,
    /// Scheduled jobs: EventBridge Scheduler schedules created, updated or deleted.
    Schedule,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Version => "version",
            Stage::Repository => "repository",
            Stage::Build => "build",
            Stage::Push => "push",
            Stage::Tag => "tag",
            Stage::Plan => "plan",
            Stage::Task => "task",
            Stage::Guard => "guard",
            Stage::Register => "register",
            Stage::Deploy => "deploy",
            Stage::Traffic => "traffic",
            Stage::Bake => "bake",
            Stage::Verify => "verify",
            Stage::Rollback => "rollback",
            Stage::Schedule => "schedule",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Success,
    /// `plan`: the release would change something.
    Changes,
    Failure,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Changes => "changes",
            Status::Failure => "failure",
        }
    }
}

/// What happens (or happened) to the image: `planned-build` / `planned-reuse` in a plan, `built` /
/// `reused` after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageOutcome {
    PlannedBuild,
    PlannedReuse,
    Built,
    Reused,
}

impl ImageOutcome {
    pub fn name(self) -> &'static str {
        match self {
            ImageOutcome::PlannedBuild => "planned-build",
            ImageOutcome::PlannedReuse => "planned-reuse",
            ImageOutcome::Built => "built",
            ImageOutcome::Reused => "reused",
        }
    }
}

/// Everything a caller needs at the end of a run; `--output json` prints exactly this.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub command: String,
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_action: Option<ImageOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_added: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// Unified diff of the rendered task definition against the live one, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_diff: Option<String>,
    /// The same diff as data: `{"changes": [{path, kind, old, new}]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_changes: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The deployment failed and the service went back to the previous release.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rolled_back: bool,
    /// After a failure: what serves traffic now (e.g. "web:41 (v1.3.0), the last verified release").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_now: Option<String>,
    /// A release of several services (`services:`): one line per service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<super::ServiceLine>,
    /// `run-task`: the job's task; `status --task`: the task asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// The task's last status (`RUNNING`, `STOPPED`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_status: Option<String>,
    /// The exit code of the job's essential container, once it stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_exit_code: Option<i32>,
    /// `run-task --at`: the one-time schedule that will run the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// The whole plan as data, for `plan`, `check` and `--dry-run` (what `--output json` returns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
    /// The `verify:` checks on test traffic, one result each, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<CheckReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

/// The result of one `verify:` check.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckReport {
    /// `http GET http://lb:8080/smoke`, `run-task smoke`.
    pub name: String,
    pub passed: bool,
    /// HTTP: requests sent; run-task: 1.
    pub requests: u32,
    /// HTTP: requests that did not answer as expected; run-task: 1 unless it exited 0.
    pub failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_max_ms: Option<u64>,
    /// What was seen, e.g. `2 of 20 answered 500 (expected 200)`, `exited 0`.
    pub detail: String,
}

impl CheckReport {
    /// One line for terminals, summaries and Slack.
    pub fn line(&self) -> String {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        let latency = match (self.latency_p50_ms, self.latency_max_ms) {
            (Some(p50), Some(max)) => format!(", latency p50 {p50}ms max {max}ms"),
            _ => String::new(),
        };
        format!(
            "{} {verdict}: {} requests, {} failed{latency}; {}",
            self.name, self.requests, self.failures, self.detail
        )
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ErrorReport {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    pub exit_code: u8,
    /// File, 1-based line and column, for errors that point into a file (config errors): the
    /// GitHub Actions sink turns it into an `::error file=,line=,col=::` annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<(String, usize, usize)>,
}

/// `error.report()`: the error as the JSON document and the other sinks show it.
pub trait ErrorReportExt {
    fn report(&self) -> ErrorReport;
}

impl ErrorReportExt for crate::Error {
    fn report(&self) -> ErrorReport {
        let e = self;
        use miette::Diagnostic;
        ErrorReport {
            message: e.to_string(),
            code: e.code().map(|c| c.to_string()),
            help: e.help().map(|h| h.to_string()),
            exit_code: e.exit_code().code(),
            location: e.location(),
        }
    }
}

// `RunFinished` carries the whole outcome once per run; boxing it would only burden every
// caller that builds the event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event {
    RunStarted {
        command: String,
    },
    StageStarted {
        stage: Stage,
        detail: String,
    },
    Progress {
        stage: Stage,
        message: String,
    },
    /// Share of the traffic on the new release, 0.0..=100.0 (blue/green, canary, linear).
    Traffic {
        percent: f64,
    },
    /// One `verify:` check ended.
    Check {
        report: CheckReport,
    },
    StageFinished {
        stage: Stage,
        detail: String,
    },
    /// The stage failed; `diagnostics` are what the user needs to see (stopped task reasons,
    /// service events, the alarm that fired).
    Failed {
        stage: Stage,
        diagnostics: Vec<String>,
    },
    /// The new release serves all traffic in `environment`.
    Released {
        environment: String,
        task_definition_arn: String,
    },
    /// The service went back to the previous release.
    RolledBack {
        reason: String,
    },
    /// Something the user should know that does not stop the run (a skipped sink, a field the
    /// tool does not check, a permission missing for an optional step).
    Warning {
        message: String,
    },
    /// Extra Markdown for the job summary, e.g. the plan of `pipeline check` when the check run
    /// fell back to a commit status. Only the GitHub Actions sink shows it.
    Summary {
        markdown: String,
    },
    /// Always the last event, on every path.
    RunFinished {
        outcome: Outcome,
    },
}

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
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Version => "version",
            Stage::Repository => "repository",
            Stage::Build => "build",
            Stage::Push => "push",
            Stage::Tag => "tag",
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

/// Everything a caller needs at the end of a run; `--output json` prints exactly this.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub command: String,
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// `built`, `reused` or `planned-build` / `planned-reuse` for plans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_action: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_added: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    pub exit_code: u8,
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
            exit_code: e.exit_code() as u8,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    RunStarted { command: String },
    StageStarted { stage: Stage, detail: String },
    Progress { stage: Stage, message: String },
    StageFinished { stage: Stage, detail: String },
    /// Always the last event, on every path.
    RunFinished { outcome: Outcome },
}

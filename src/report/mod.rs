//! One place reports: the pipeline emits typed events, sinks render them: the terminal, the JSON
//! document, the GitHub Actions runtime (commands, outputs, job summary), the GitHub API through
//! octocrab (Deployments, PR check runs, tags and Releases) and Slack (one message per release, updated in place).
//!
//! Sinks never fail a run unless their config says `required: true`; then [`Reporter::close`]
//! returns a [`ReportError`].

mod console;
mod event;
mod github;
mod github_actions;
mod http;
mod json;
mod mask;
mod plan_recorder;
mod record;
mod reporter;
pub(crate) mod retry;
mod service_line;
mod settings;
mod slack;
mod slack_blocks;
mod summary;
mod terminal;
mod worker;

#[cfg(test)]
mod canary_tests;
#[cfg(test)]
mod snapshot_tests;

pub use console::{Captured, Console};
pub use event::{CheckReport, ErrorReport, ErrorReportExt, Event, ImageOutcome, Outcome, Stage, Status};
pub use github::{
    Annotation, AnnotationLevel, CONTENTS_WRITE, CheckConclusion, CheckPosted, Deployment, DeploymentId,
    DeploymentState, GithubApi, GithubDeploymentSink, MissingPermission, NewRelease, ReleaseOutcome, TagOutcome,
};
pub use github_actions::GithubActionsSink;
pub use json::JsonSink;
pub use mask::Redactor;
pub use plan_recorder::PlanRecorder;
pub use record::RunRecord;
pub use reporter::{ReportError, Reporter, Sink};
pub use service_line::{ServiceLine, ServiceState};
pub use settings::{
    GITHUB_API_URL, GithubSettings, NotifySettings, ReleaseContext, SlackSettings, sinks_for_release,
    sinks_for_release_to,
};
pub use slack::SlackSink;
pub use summary::{check_summary, job_summary};
pub use terminal::TerminalSink;

//! The GitHub REST API through octocrab: the PR check run (or a commit status), Deployments and
//! their statuses (a sink), and what a verified release publishes (a git tag, a Release).
//!
//! Retries (429, 5xx, rate-limit 403, network errors; `Retry-After` honoured) live in the
//! transport, so every call gets them.

mod checks;
mod client;
mod deployments;
mod releases;
mod sink;
mod transport;

#[cfg(test)]
pub(super) mod test_support;

pub use checks::{Annotation, AnnotationLevel, CheckConclusion, CheckPosted};
pub use client::GithubApi;
pub use deployments::{Deployment, DeploymentId, DeploymentState};
pub use releases::{CONTENTS_WRITE, MissingPermission, NewRelease, ReleaseOutcome, TagOutcome};
pub use sink::GithubDeploymentSink;

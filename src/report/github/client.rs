//! [`GithubApi`]: one repository's GitHub client over octocrab, with the token and every masked
//! secret kept out of what it sends and of the errors it returns.

use std::sync::OnceLock;

use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::transport;
use crate::report::{GithubSettings, Redactor, ReportError};

/// GitHub rejects status and deployment-status descriptions over 140 characters.
const DESCRIPTION_MAX: usize = 140;

/// The GitHub REST client for one repository: the PR check ([`GithubApi::post_check`]),
/// Deployments and their statuses, git tags and Releases.
pub struct GithubApi {
    /// Built on the first call: octocrab needs the tokio runtime the calls run on.
    crab: OnceLock<Result<Octocrab, String>>,
    api_url: String,
    token: SecretString,
    pub(super) owner: String,
    pub(super) repo: String,
    pub(super) redactor: Redactor,
    pub(super) settings: GithubSettings,
}

impl std::fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApi")
            .field("api_url", &self.api_url)
            .field("repository", &format_args!("{}/{}", self.owner, self.repo))
            .finish_non_exhaustive()
    }
}

impl GithubApi {
    /// `None` without a token or an `owner/repo`.
    pub fn from_settings(settings: &GithubSettings) -> Option<Self> {
        let token = settings.token.clone()?;
        let (owner, repo) = settings.repository.split_once('/')?;
        if owner.is_empty() || repo.is_empty() {
            return None;
        }
        let mut redactor = Redactor::default();
        redactor.add(token.expose_secret());
        Some(Self {
            crab: OnceLock::new(),
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
            token,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            redactor,
            settings: settings.clone(),
        })
    }

    /// Keeps `secret` out of everything sent (the token is masked already).
    pub fn mask(&mut self, secret: &str) {
        self.redactor.add(secret);
    }

    pub(super) fn crab(&self) -> Result<&Octocrab, ApiError> {
        self.crab.get_or_init(|| transport::octocrab(&self.api_url, &self.token)).as_ref().map_err(|reason| ApiError {
            doing: "connecting to GitHub",
            status: None,
            message: reason.clone(),
        })
    }

    /// `/repos/{owner}/{repo}/{path}`, for the calls octocrab has no typed API for.
    pub(super) fn route(&self, path: &str) -> String {
        format!("/repos/{}/{}/{path}", self.owner, self.repo)
    }

    /// A string to send, with every masked secret replaced.
    pub(super) fn clean(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// A JSON body to send, with every masked secret replaced.
    pub(super) fn clean_json(&self, mut body: Value) -> Value {
        self.redactor.redact_json(&mut body);
        body
    }

    /// A failed call, described without secrets.
    pub(super) fn failed(&self, doing: &'static str, error: octocrab::Error) -> ApiError {
        let (status, message) = match &error {
            octocrab::Error::GitHub { source, .. } => (Some(source.status_code.as_u16()), source.message.clone()),
            other => (None, chain(other)),
        };
        ApiError { doing, status, message: self.redactor.redact(&message) }
    }
}

/// A GitHub call that did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub doing: &'static str,
    /// The HTTP status GitHub answered with; `None` when no answer came (network, timeout).
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "{} failed: HTTP {status}: {}", self.doing, self.message),
            None => write!(f, "{} failed: {}", self.doing, self.message),
        }
    }
}

impl ApiError {
    pub fn report(&self, sink: &'static str) -> ReportError {
        ReportError::Api { sink, reason: self.to_string() }
    }
}

/// An error and its causes on one line (octocrab wraps transport errors a few layers deep).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// At most 140 characters, as GitHub requires of descriptions.
pub(super) fn description(text: &str) -> String {
    if text.chars().count() <= DESCRIPTION_MAX {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(DESCRIPTION_MAX - 1).collect();
    out.push('…');
    out
}

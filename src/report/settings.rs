//! What the caller hands the report module: notification settings (mapped from the config's
//! `notify` section) and the release context, and the constructors that turn them into sinks.

use std::time::Duration;

use secrecy::SecretString;

use super::{Console, GithubDeploymentSink, Sink, SlackSink};

pub const SLACK_API_URL: &str = "https://slack.com/api";
pub const GITHUB_API_URL: &str = "https://api.github.com";

#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    pub slack: Option<SlackSettings>,
    pub github: Option<GithubSettings>,
}

/// Slack: a bot token (one message updated in place; needs `channel`) or an incoming webhook
/// (a start and an end message). The token wins when both are set.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// Channel ID (or name for chat.postMessage; updates use the ID Slack returns).
    pub channel: Option<String>,
    pub token: Option<SecretString>,
    pub webhook: Option<SecretString>,
    pub required: bool,
    /// `https://slack.com/api`; tests point it at a mock server.
    pub api_url: String,
    /// Slack's chat.update is rate limited: updates are at least this far apart (1 s).
    pub min_update_interval: Duration,
}

impl Default for SlackSettings {
    fn default() -> Self {
        Self {
            channel: None,
            token: None,
            webhook: None,
            required: false,
            api_url: SLACK_API_URL.into(),
            min_update_interval: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// Create a Deployment per environment with statuses.
    pub deployments: bool,
    /// `pipeline check` posts a check run (see [`super::GithubApi::post_check`]).
    pub checks: bool,
    pub required: bool,
    pub token: Option<SecretString>,
    /// `GITHUB_API_URL` (GitHub Enterprise), default `https://api.github.com`.
    pub api_url: String,
    /// `owner/repo`.
    pub repository: String,
    /// `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`.
    pub run_url: Option<String>,
    pub environment: Option<String>,
    pub environment_url: Option<String>,
    /// The commit deployed, or the PR head commit for checks (never the merge commit).
    pub commit_sha: Option<String>,
    /// Defaults to true for environments named `production` or `prod`.
    pub production_environment: Option<bool>,
}

impl Default for GithubSettings {
    fn default() -> Self {
        Self {
            deployments: false,
            checks: false,
            required: false,
            token: None,
            api_url: GITHUB_API_URL.into(),
            repository: String::new(),
            run_url: None,
            environment: None,
            environment_url: None,
            commit_sha: None,
            production_environment: None,
        }
    }
}

/// What the release is, for the Slack card and the Deployment description.
#[derive(Debug, Clone, Default)]
pub struct ReleaseContext {
    pub service: Option<String>,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub commit_sha: Option<String>,
    /// `https://github.com/owner/repo`, to link the commit.
    pub repository_url: Option<String>,
    pub actor: Option<String>,
    pub run_url: Option<String>,
}

/// The sinks `notify` configures for a release: Slack, and GitHub Deployments. Needs a tokio
/// runtime (they send from a background task). Incomplete settings are skipped with a warning.
pub fn sinks_for_release(notify: &NotifySettings, context: &ReleaseContext) -> Vec<Box<dyn Sink>> {
    sinks_for_release_to(notify, context, Console::stderr())
}

pub fn sinks_for_release_to(notify: &NotifySettings, context: &ReleaseContext, console: Console) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(slack) = &notify.slack {
        match SlackSink::new(slack.clone(), context.clone(), console.clone()) {
            Ok(sink) => sinks.push(Box::new(sink)),
            Err(why) => console.line(&format!("warning: slack: {why}; not reporting to Slack")),
        }
    }
    if let Some(github) = notify.github.as_ref().filter(|g| g.deployments) {
        match GithubDeploymentSink::new(github.clone(), context.clone(), console.clone()) {
            Ok(sink) => sinks.push(Box::new(sink)),
            Err(why) => console.line(&format!("warning: github deployments: {why}; not creating a Deployment")),
        }
    }
    sinks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn incomplete_settings_are_skipped_with_a_warning() {
        let (console, captured) = Console::capture();
        let notify = NotifySettings {
            slack: Some(SlackSettings { token: Some("xoxb-1234".into()), ..SlackSettings::default() }),
            github: Some(GithubSettings { deployments: true, ..GithubSettings::default() }),
        };
        let sinks = sinks_for_release_to(&notify, &ReleaseContext::default(), console);
        assert!(sinks.is_empty());
        assert_eq!(
            captured.text(),
            "warning: slack: a bot token needs `channel` (the channel ID); not reporting to Slack\n\
             warning: github deployments: no commit sha; not creating a Deployment\n"
        );
        // Settings print no secret in Debug (SecretString).
        assert!(!format!("{notify:?}").contains("xoxb-1234"));
    }
}

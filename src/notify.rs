//! Who hears about a run: the config's `notify:` section and the CI context turned into report
//! sinks (Slack, GitHub Deployments) and the secrets they must mask. `report/` knows nothing of
//! the config; this is the one place that maps one onto the other.

use secrecy::ExposeSecret;

use crate::ci::Ci;
use crate::config::{Config, Environment, SlackAuth};
use crate::publish_release::ReleasePublisher;
use crate::report::{GithubSettings, NotifySettings, ReleaseContext, Reporter, SlackSettings, sinks_for_release};

/// The secrets every run masks before anything is printed: the GitHub token and the Slack
/// variables the config may name (read before the config is, so a config error cannot leak one).
pub fn known_secrets(ci: &Ci) -> Vec<String> {
    ["GITHUB_TOKEN", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL"]
        .iter()
        .filter_map(|name| ci.var(name))
        .map(str::to_owned)
        .collect()
}

/// Who publishes the git tag and the GitHub Release of a verified release (`notify.github.tags`,
/// `notify.github.releases`): the GitHub client, in GitHub Actions with a token.
///
/// Not wired yet: the GitHub client implementing [`ReleasePublisher`] (octocrab's `create_ref` and
/// `releases().create`) is being introduced on its own; until then nothing is published and the plan
/// still shows what would be.
pub fn release_publisher(config: &Config, ci: &Ci) -> Option<Box<dyn ReleasePublisher>> {
    let github = &config.notify.github;
    if !github.tags || ci.repository().is_none() || ci.github_token().is_none() {
        return None;
    }
    None
}

/// The environment a release or rollback goes to, for its notifications.
pub struct Target<'a> {
    pub name: &'a str,
    pub env: &'a Environment,
    /// `None` when the version is not known (a rollback).
    pub version: Option<String>,
    /// The commit released, when known; else the one the workflow runs on.
    pub commit: Option<String>,
}

/// Adds the sinks `notify:` configures, masking their secrets first.
pub fn attach(config: &Config, ci: &Ci, target: &Target<'_>, reporter: &mut Reporter) {
    let settings = settings(config, ci, target);
    let slack = settings.slack.as_ref();
    for secret in [slack.and_then(|s| s.token.as_ref()), slack.and_then(|s| s.webhook.as_ref())].into_iter().flatten() {
        reporter.mask(secret.expose_secret());
    }
    let context = ReleaseContext {
        service: Some(format!("{}/{}", target.env.cluster, target.env.service)),
        environment: Some(target.name.to_owned()),
        version: target.version.clone(),
        commit_sha: commit(ci, target),
        repository_url: ci.repository_url(),
        actor: ci.actor().map(str::to_owned),
        run_url: ci.run_url(),
    };
    for sink in sinks_for_release(&settings, &context) {
        reporter.add_sink(sink);
    }
}

/// The commit a Deployment is created for: the release's, else the one the workflow runs on.
fn commit(ci: &Ci, target: &Target<'_>) -> Option<String> {
    target.commit.clone().or_else(|| ci.github_sha().map(str::to_owned))
}

fn settings(config: &Config, ci: &Ci, target: &Target<'_>) -> NotifySettings {
    let slack = config.notify.slack.as_ref().map(|s| {
        let (token, webhook) = match s.auth() {
            SlackAuth::BotTokenEnv(name) => (ci.secret(name), None),
            SlackAuth::WebhookEnv(name) => (None, ci.secret(name)),
        };
        let defaults = SlackSettings::default();
        SlackSettings {
            channel: Some(s.channel.clone()),
            token,
            webhook,
            required: s.required,
            // A proxy or the sandbox's capture can stand in for Slack's API.
            api_url: ci.slack_api_url().map_or(defaults.api_url.clone(), str::to_owned),
            ..defaults
        }
    });
    let github = &config.notify.github;
    let github = ci.repository().map(|repository| GithubSettings {
        deployments: github.deployments,
        checks: github.checks,
        required: github.required,
        token: ci.github_token(),
        api_url: ci.github_api_url(),
        repository: repository.to_owned(),
        run_url: ci.run_url(),
        environment: Some(target.name.to_owned()),
        environment_url: target.env.url.clone(),
        commit_sha: commit(ci, target),
        production_environment: None,
    });
    NotifySettings { slack, github }
}

//! Who hears about a run: the config's `notify:` section and the CI context turned into report
//! sinks (Slack, GitHub Deployments) and the secrets they must mask. `report/` knows nothing of
//! the config; this is the one place that maps one onto the other.

use futures_util::future::BoxFuture;
use secrecy::ExposeSecret;

use crate::ci::Ci;
use crate::config::{Config, Environment, SlackAuth};
use crate::publish_release::{GithubRelease, PublishError, ReleasePublisher};
use crate::report::{
    GithubApi, GithubSettings, NewRelease, NotifySettings, ReleaseContext, ReleaseOutcome, Reporter, SlackSettings,
    TagOutcome, sinks_for_release,
};

/// The secrets every run masks before anything is printed: the GitHub token and the Slack
/// variables the config may name (read before the config is, so a config error cannot leak one).
pub fn known_secrets(ci: &Ci) -> Vec<String> {
    ["GITHUB_TOKEN", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL"]
        .iter()
        .filter_map(|name| ci.var(name))
        .map(str::to_owned)
        .collect()
}

/// The GitHub client that publishes a verified release's git tag (and Release), when the config
/// and the CI context allow it: a repository and a token.
pub fn release_publisher(config: &Config, ci: &Ci) -> Option<Box<dyn ReleasePublisher>> {
    let github = &config.notify.github;
    if !github.tags {
        return None;
    }
    let settings = GithubSettings {
        token: ci.github_token(),
        api_url: ci.github_api_url(),
        repository: ci.repository()?.to_owned(),
        ..GithubSettings::default()
    };
    GithubApi::from_settings(&settings).map(|api| Box::new(GithubPublisher(api)) as Box<dyn ReleasePublisher>)
}

/// [`ReleasePublisher`] over the octocrab client: its outcomes mapped onto the decisions'.
struct GithubPublisher(GithubApi);

impl ReleasePublisher for GithubPublisher {
    fn create_tag<'a>(&'a self, tag: &'a str, commit: &'a str) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            match self.0.create_tag(tag, commit).await {
                Ok(TagOutcome::Created) => Ok(()),
                Ok(TagOutcome::AlreadyThere) => Err(PublishError::Exists),
                Ok(TagOutcome::PointsElsewhere { sha }) => Err(PublishError::Elsewhere(sha)),
                Ok(TagOutcome::MissingPermission(m)) => Err(PublishError::Forbidden(m.message)),
                Err(e) => Err(PublishError::Failed(e.to_string())),
            }
        })
    }

    fn create_release<'a>(&'a self, release: &'a GithubRelease) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let new =
                NewRelease { tag: &release.tag_name, name: &release.name, body: &release.body, prerelease: false };
            match self.0.create_release(&new).await {
                Ok(ReleaseOutcome::Created { .. }) => Ok(()),
                Ok(ReleaseOutcome::AlreadyThere) => Err(PublishError::Exists),
                Ok(ReleaseOutcome::MissingPermission(m)) => Err(PublishError::Forbidden(m.message)),
                Err(e) => Err(PublishError::Failed(e.to_string())),
            }
        })
    }
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

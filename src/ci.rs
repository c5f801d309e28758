//! The CI context: what the process environment says about where this run happens (GitHub
//! Actions' `GITHUB_*` and `RUNNER_*`, the event payload, `NO_COLOR`, the Docker engine) and the
//! values of the variables the config names (tokens, build secrets). Read once, at the edge
//! ([`Ci::from_process`]); every other module asks this value instead of the environment, so tests
//! hand it exact variables instead of mutating the process.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;

/// A snapshot of the environment variables. Its Debug output names the variables, never their values.
#[derive(Clone, Default)]
pub struct Ci {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Ci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ci").field("vars", &self.vars.keys().collect::<Vec<_>>()).finish()
    }
}

impl Ci {
    /// The only place that reads the process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { vars: vars.into_iter().collect() }
    }

    /// A variable's value; unset and blank are the same (Actions sets unset inputs to "").
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// A variable that holds a secret (a token, a webhook URL, a build secret).
    pub fn secret(&self, name: &str) -> Option<SecretString> {
        self.var(name).map(SecretString::from)
    }

    pub fn in_github_actions(&self) -> bool {
        self.var("GITHUB_ACTIONS") == Some("true")
    }

    /// `NO_COLOR` set to anything non-empty (https://no-color.org).
    pub fn no_color(&self) -> bool {
        self.var("NO_COLOR").is_some()
    }

    /// `owner/repo` in GitHub Actions.
    pub fn repository(&self) -> Option<&str> {
        self.var("GITHUB_REPOSITORY")
    }

    /// The commit the workflow runs on (for a pull request: the merge commit, see [`Self::commit`]).
    pub fn github_sha(&self) -> Option<&str> {
        self.var("GITHUB_SHA")
    }

    pub fn github_token(&self) -> Option<SecretString> {
        self.secret("GITHUB_TOKEN")
    }

    /// `GITHUB_API_URL` (GitHub Enterprise, the sandbox's capture), else the public API.
    pub fn github_api_url(&self) -> String {
        self.var("GITHUB_API_URL").unwrap_or(crate::report::GITHUB_API_URL).to_owned()
    }

    /// Slack's API base URL, when a proxy or the sandbox's capture stands in for it.
    pub fn slack_api_url(&self) -> Option<&str> {
        self.var("SLACK_API_URL")
    }

    /// `https://github.com/owner/repo`, to link commits and for the OCI `source` label.
    pub fn repository_url(&self) -> Option<String> {
        Some(format!("{}/{}", self.var("GITHUB_SERVER_URL")?, self.repository()?))
    }

    /// The workflow run's page.
    pub fn run_url(&self) -> Option<String> {
        Some(format!("{}/actions/runs/{}", self.repository_url()?, self.var("GITHUB_RUN_ID")?))
    }

    pub fn actor(&self) -> Option<&str> {
        self.var("GITHUB_ACTOR")
    }

    /// The commit a run is about: in a pull-request event the PR head (never the merge commit),
    /// else `GITHUB_SHA`; `None` outside GitHub Actions.
    pub fn commit(&self) -> Option<String> {
        self.event().pull_request_head().ok().flatten().or_else(|| self.github_sha().map(str::to_owned))
    }

    /// The triggering event's name and payload file.
    pub fn event(&self) -> GithubEvent {
        GithubEvent {
            name: self.var("GITHUB_EVENT_NAME").map(str::to_owned),
            path: self.var("GITHUB_EVENT_PATH").map(PathBuf::from),
        }
    }

    /// Where the GitHub Actions sink writes step outputs and the job summary; `None` outside Actions.
    pub fn actions_files(&self) -> Option<ActionsFiles> {
        self.in_github_actions().then(|| ActionsFiles {
            output_path: self.var("GITHUB_OUTPUT").map(PathBuf::from),
            summary_path: self.var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        })
    }

    /// The Docker engine, as `DOCKER_HOST` names it.
    pub fn docker_host(&self) -> String {
        self.var("DOCKER_HOST").unwrap_or("unix:///var/run/docker.sock").to_owned()
    }

    /// Where the local engine's kernel lists its binfmt_misc emulators (`PIPELINE_BINFMT_MISC`, for tests that
    /// need a machine without emulation); `None` for a remote engine, whose kernel this process cannot see.
    pub fn binfmt_misc(&self) -> Option<PathBuf> {
        if !self.docker_host().starts_with("unix://") {
            return None;
        }
        Some(PathBuf::from(self.var("PIPELINE_BINFMT_MISC").unwrap_or(crate::image::platform::BINFMT_MISC)))
    }

    /// `DOCKER_BUILDKIT=0` keeps its usual meaning: the classic builder.
    pub fn buildkit_disabled(&self) -> bool {
        self.var("DOCKER_BUILDKIT").is_some_and(|v| v.trim() == "0")
    }
}

/// The GitHub Actions runtime files (https://docs.github.com/actions/reference/workflow-commands).
#[derive(Debug, Clone, Default)]
pub struct ActionsFiles {
    pub output_path: Option<PathBuf>,
    pub summary_path: Option<PathBuf>,
}

/// The event that triggered the workflow.
#[derive(Debug, Clone, Default)]
pub struct GithubEvent {
    pub name: Option<String>,
    pub path: Option<PathBuf>,
}

impl GithubEvent {
    /// In a pull request event, the PR head commit from the event payload; None for other events.
    pub fn pull_request_head(&self) -> Result<Option<String>, EventError> {
        let Some(event) = self.name.as_deref() else { return Ok(None) };
        if !matches!(event, "pull_request" | "pull_request_target") {
            return Ok(None);
        }
        // In a PR event, falling back to HEAD would release the merge commit: refuse instead.
        let fail = |reason: String| EventError { event: event.to_string(), reason };
        let path = self.path.as_ref().ok_or_else(|| fail("GITHUB_EVENT_PATH is not set".into()))?;
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let payload: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("{} is not JSON: {e}", path.display())))?;
        let sha = payload
            .pointer("/pull_request/head/sha")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| fail(format!("{} has no pull_request.head.sha", path.display())))?;
        if !is_full_hash(sha) {
            return Err(fail(format!("pull_request.head.sha `{sha}` is not a 40-hex commit hash")));
        }
        Ok(Some(sha.to_ascii_lowercase()))
    }
}

impl GithubEvent {
    /// In a pull request event, the base commit the PR merges into (`pull_request.base.sha`), when the payload
    /// names one; what a PR changes is measured against it.
    pub fn pull_request_base(&self) -> Option<String> {
        let event = self.name.as_deref()?;
        if !matches!(event, "pull_request" | "pull_request_target") {
            return None;
        }
        let text = std::fs::read_to_string(self.path.as_ref()?).ok()?;
        let payload: serde_json::Value = serde_json::from_str(&text).ok()?;
        let sha = payload.pointer("/pull_request/base/sha")?.as_str()?;
        is_full_hash(sha).then(|| sha.to_ascii_lowercase())
    }
}

/// A pull-request event whose payload does not name the head commit.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot tell which commit the `{event}` event releases: {reason}")]
#[diagnostic(
    code(pipeline::version),
    help("run inside GitHub Actions' pull request event, or unset GITHUB_EVENT_NAME when running by hand")
)]
pub struct EventError {
    pub event: String,
    pub reason: String,
}

fn is_full_hash(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(vars: &[(&str, &str)]) -> Ci {
        Ci::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn blank_is_unset_and_debug_shows_no_value() {
        let ci = ci(&[("GITHUB_TOKEN", "ghs_canary"), ("GITHUB_SHA", "  ")]);
        assert_eq!(ci.github_sha(), None);
        assert!(ci.github_token().is_some());
        assert!(!format!("{ci:?}").contains("ghs_canary"));
    }

    #[test]
    fn run_url_and_actions_files_only_in_actions() {
        let outside = ci(&[("GITHUB_OUTPUT", "/tmp/o")]);
        assert!(outside.actions_files().is_none());
        let inside = ci(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_OUTPUT", "/tmp/o"),
        ]);
        assert_eq!(inside.run_url().as_deref(), Some("https://github.com/o/r/actions/runs/7"));
        assert_eq!(inside.actions_files().and_then(|f| f.output_path), Some(PathBuf::from("/tmp/o")));
    }

    #[test]
    fn a_pull_request_commit_is_the_head_not_the_merge_commit() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        let head = "a".repeat(40);
        std::fs::write(&event, format!(r#"{{"pull_request": {{"head": {{"sha": "{head}"}}}}}}"#)).unwrap();
        let ci = ci(&[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_SHA", &"b".repeat(40)),
        ]);
        assert_eq!(ci.commit(), Some(head));
    }
}

//! The PR check of `pipeline check`: the plan as a completed check run (octocrab's typed Checks
//! API), falling back to a commit status when the token may not create check runs (REFERENCE 6.1,
//! 6.2: only GitHub Apps and GITHUB_TOKEN can).

use octocrab::models::{CheckRunId, StatusState};
use octocrab::params::checks::{
    CheckRunConclusion, CheckRunOutput, CheckRunOutputAnnotation, CheckRunOutputAnnotationLevel, CheckRunStatus,
};
use serde::Serialize;

use super::client::{ApiError, GithubApi, description};
use crate::report::summary::{CHECK_SUMMARY_LIMIT, truncate};
use crate::report::{ErrorReport, Outcome, ReportError, Status};

/// GitHub takes 50 annotations per request; further updates append.
const ANNOTATIONS_PER_REQUEST: usize = 50;
pub const CHECK_NAME: &str = "pipeline plan";
pub const STATUS_CONTEXT: &str = "pipeline/plan";
const SINK: &str = "github checks";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckConclusion {
    Success,
    Failure,
    Neutral,
    ActionRequired,
}

impl CheckConclusion {
    /// `pipeline check`'s conclusion for an outcome: a config error fails the check.
    pub fn for_outcome(outcome: &Outcome) -> Self {
        match outcome.status {
            Some(Status::Failure) => CheckConclusion::Failure,
            _ => CheckConclusion::Success,
        }
    }

    fn octocrab(self) -> CheckRunConclusion {
        match self {
            CheckConclusion::Success => CheckRunConclusion::Success,
            CheckConclusion::Failure => CheckRunConclusion::Failure,
            CheckConclusion::Neutral => CheckRunConclusion::Neutral,
            CheckConclusion::ActionRequired => CheckRunConclusion::ActionRequired,
        }
    }

    /// The commit-status state for the fallback (statuses know success/failure/error/pending).
    fn state(self) -> StatusState {
        match self {
            CheckConclusion::Success | CheckConclusion::Neutral => StatusState::Success,
            CheckConclusion::Failure | CheckConclusion::ActionRequired => StatusState::Failure,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

/// A check-run annotation (a config error at file:line:column).
#[derive(Debug, Clone, Serialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: usize,
    pub end_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
    pub annotation_level: AnnotationLevel,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Annotation {
    /// The annotation for an error that points into a file, if it does.
    pub fn for_error(error: &ErrorReport) -> Option<Self> {
        let (path, line, col) = error.location.clone()?;
        Some(Self {
            path,
            start_line: line,
            end_line: line,
            start_column: Some(col),
            end_column: Some(col),
            annotation_level: AnnotationLevel::Failure,
            message: error.help.as_ref().map_or_else(|| error.message.clone(), |h| format!("{}\n\n{h}", error.message)),
            title: error.code.clone(),
        })
    }
}

/// Where the plan went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckPosted {
    CheckRun {
        id: u64,
        html_url: Option<String>,
    },
    /// The token may not create check runs (403): a commit status instead; the full plan is in
    /// the job summary.
    CommitStatus,
}

impl GithubApi {
    /// Posts the plan as a completed check run on the commit (the PR head), annotations 50 per
    /// request; on 403 falls back to a commit status.
    pub async fn post_check(
        &self,
        plan_markdown: &str,
        conclusion: CheckConclusion,
        annotations: &[Annotation],
    ) -> Result<CheckPosted, ReportError> {
        let sha = self
            .settings
            .commit_sha
            .clone()
            .ok_or_else(|| ReportError::Api { sink: SINK, reason: "no commit sha to check".into() })?;
        self.check_run(&sha, plan_markdown, conclusion, annotations).await.map_err(|e| e.report(SINK))
    }

    async fn check_run(
        &self,
        sha: &str,
        plan_markdown: &str,
        conclusion: CheckConclusion,
        annotations: &[Annotation],
    ) -> Result<CheckPosted, ApiError> {
        let crab = self.crab()?;
        let checks = crab.checks(&self.owner, &self.repo);
        let summary = truncate(self.clean(plan_markdown), CHECK_SUMMARY_LIMIT);
        let title = match conclusion {
            CheckConclusion::Failure | CheckConclusion::ActionRequired => "pipeline plan failed",
            _ => "pipeline plan",
        };
        let mut chunks = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let mut create = checks
            .create_check_run(CHECK_NAME, sha)
            .status(CheckRunStatus::Completed)
            .conclusion(conclusion.octocrab())
            .output(self.output(title, &summary, chunks.next().unwrap_or_default()));
        if let Some(url) = &self.settings.run_url {
            create = create.details_url(self.clean(url));
        }
        let run = match create.send().await {
            Ok(run) => run,
            Err(e) => {
                let error = self.failed("creating the check run", e);
                if error.status == Some(403) {
                    return self.commit_status(sha, conclusion, plan_markdown).await;
                }
                return Err(error);
            }
        };
        // Further annotations are appended by updates of the same run.
        for chunk in chunks {
            checks
                .update_check_run(run.id)
                .output(self.output(title, &summary, chunk))
                .send()
                .await
                .map_err(|e| self.failed("adding annotations", e))?;
        }
        let CheckRunId(id) = run.id;
        Ok(CheckPosted::CheckRun { id, html_url: run.html_url })
    }

    fn output(&self, title: &str, summary: &str, annotations: &[Annotation]) -> CheckRunOutput {
        CheckRunOutput {
            title: title.to_owned(),
            summary: summary.to_owned(),
            text: None,
            annotations: annotations.iter().map(|a| self.annotation(a)).collect(),
            images: Vec::new(),
        }
    }

    fn annotation(&self, a: &Annotation) -> CheckRunOutputAnnotation {
        let line = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        CheckRunOutputAnnotation {
            path: a.path.clone(),
            start_line: line(a.start_line),
            end_line: line(a.end_line),
            start_column: a.start_column.map(line),
            end_column: a.end_column.map(line),
            annotation_level: match a.annotation_level {
                AnnotationLevel::Notice => CheckRunOutputAnnotationLevel::Notice,
                AnnotationLevel::Warning => CheckRunOutputAnnotationLevel::Warning,
                AnnotationLevel::Failure => CheckRunOutputAnnotationLevel::Failure,
            },
            message: self.clean(&a.message),
            title: a.title.as_deref().map(|t| self.clean(t)),
            raw_details: None,
        }
    }

    async fn commit_status(
        &self,
        sha: &str,
        conclusion: CheckConclusion,
        plan_markdown: &str,
    ) -> Result<CheckPosted, ApiError> {
        let first = plan_markdown
            .lines()
            .map(|l| l.trim_start_matches('#').trim())
            .find(|l| !l.is_empty())
            .unwrap_or("pipeline plan");
        let crab = self.crab()?;
        let repos = crab.repos(&self.owner, &self.repo);
        let mut status = repos
            .create_status(sha.to_owned(), conclusion.state())
            .context(STATUS_CONTEXT.to_owned())
            .description(description(&self.clean(&format!("{first} (details in the job summary)"))));
        if let Some(url) = &self.settings.run_url {
            status = status.target(self.clean(url));
        }
        status
            .send()
            .await
            .map_err(|e| self.failed("creating the commit status (check runs are forbidden for this token)", e))?;
        Ok(CheckPosted::CommitStatus)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::super::test_support::*;
    use super::*;
    use crate::report::GithubSettings;

    fn annotation(line: usize) -> Annotation {
        Annotation::for_error(&ErrorReport {
            message: format!("unknown field on line {line}"),
            code: Some("pipeline::config".into()),
            help: None,
            exit_code: 3,
            location: Some((".pipeline.yml".into(), line, 3)),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn the_plan_becomes_a_check_run_with_annotations_fifty_at_a_time() {
        let server = MockServer::start().await;
        let html_url = "https://github.com/acme/web/runs/99";
        mount(&server, "POST", "/repos/acme/web/check-runs", 201, check_run(99, Some(html_url))).await;
        mount(&server, "PATCH", "/repos/acme/web/check-runs/99", 200, check_run(99, Some(html_url))).await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let annotations: Vec<Annotation> = (1..=60).map(annotation).collect();
        let posted =
            api.post_check("## Plan for `v1.4.0`\n\n- build", CheckConclusion::Failure, &annotations).await.unwrap();
        assert_eq!(
            posted,
            CheckPosted::CheckRun { id: 99, html_url: Some("https://github.com/acme/web/runs/99".into()) }
        );

        let requests = server.received_requests().await.unwrap();
        assert_headers(&requests);
        assert_eq!(calls(&requests), ["POST /repos/acme/web/check-runs", "PATCH /repos/acme/web/check-runs/99"]);
        let create = body(&requests[0]);
        assert_eq!(create["name"], "pipeline plan");
        assert_eq!(create["head_sha"], SHA);
        assert_eq!(create["status"], "completed");
        assert_eq!(create["conclusion"], "failure");
        assert_eq!(create["details_url"], "https://github.com/acme/web/actions/runs/42");
        assert_eq!(create["output"]["title"], "pipeline plan failed");
        assert_eq!(create["output"]["summary"], "## Plan for `v1.4.0`\n\n- build");
        assert_eq!(create["output"]["annotations"].as_array().unwrap().len(), 50);
        assert_eq!(
            create["output"]["annotations"][0],
            json!({
                "path": ".pipeline.yml", "start_line": 1, "end_line": 1, "start_column": 3, "end_column": 3,
                "annotation_level": "failure", "message": "unknown field on line 1", "title": "pipeline::config",
            })
        );
        let update = body(&requests[1]);
        assert_eq!(update["output"]["annotations"].as_array().unwrap().len(), 10);
        assert_eq!(update["output"]["annotations"][0]["start_line"], 51);
    }

    #[tokio::test]
    async fn a_token_without_checks_permission_falls_back_to_a_commit_status() {
        let server = MockServer::start().await;
        mount(
            &server,
            "POST",
            "/repos/acme/web/check-runs",
            403,
            json!({"message": "Resource not accessible by integration"}),
        )
        .await;
        mount(&server, "POST", &format!("/repos/acme/web/statuses/{SHA}"), 201, commit_status(5, "success")).await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let plan = format!("## Plan for `v1.4.0` {}\n\n- build", "x".repeat(200));
        let posted = api.post_check(&plan, CheckConclusion::Success, &[]).await.unwrap();
        assert_eq!(posted, CheckPosted::CommitStatus);
        let requests = server.received_requests().await.unwrap();
        assert_headers(&requests);
        assert_eq!(
            calls(&requests),
            ["POST /repos/acme/web/check-runs", &format!("POST /repos/acme/web/statuses/{SHA}")]
        );
        let status = body(&requests[1]);
        assert_eq!(status["state"], "success");
        assert_eq!(status["context"], "pipeline/plan");
        assert_eq!(status["target_url"], "https://github.com/acme/web/actions/runs/42");
        let description = status["description"].as_str().unwrap();
        assert_eq!(description.chars().count(), 140);
        assert!(description.starts_with("Plan for `v1.4.0` xxx"));
    }

    #[tokio::test]
    async fn secondary_rate_limits_are_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/repos/acme/web/check-runs"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        mount(&server, "POST", "/repos/acme/web/check-runs", 201, check_run(3, None)).await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let posted = api.post_check("plan", CheckConclusion::Success, &[]).await.unwrap();
        assert_eq!(posted, CheckPosted::CheckRun { id: 3, html_url: None });
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    /// A 403 that carries `Retry-After` is GitHub's secondary rate limit (REFERENCE A4), not a
    /// missing permission: waited for and retried, no fallback to a commit status.
    #[tokio::test]
    async fn a_rate_limited_403_waits_for_retry_after() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/repos/acme/web/check-runs"))
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"message": "You have exceeded a secondary rate limit"})),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        mount(&server, "POST", "/repos/acme/web/check-runs", 201, check_run(4, None)).await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let started = Instant::now();
        let posted = api.post_check("plan", CheckConclusion::Success, &[]).await.unwrap();
        assert_eq!(posted, CheckPosted::CheckRun { id: 4, html_url: None });
        assert!(started.elapsed() >= Duration::from_secs(1));
        let requests = server.received_requests().await.unwrap();
        assert_eq!(calls(&requests), ["POST /repos/acme/web/check-runs", "POST /repos/acme/web/check-runs"]);
        assert_eq!(body(&requests[0]), body(&requests[1]), "the same body, sent again");
    }

    #[tokio::test]
    async fn server_errors_are_retried_with_backoff_then_reported() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/repos/acme/web/check-runs"))
            .respond_with(ResponseTemplate::new(502).set_body_json(json!({"message": "Server Error"})))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        mount(&server, "POST", "/repos/acme/web/check-runs", 201, check_run(5, None)).await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let started = Instant::now();
        assert!(api.post_check("plan", CheckConclusion::Success, &[]).await.is_ok());
        // Backoff of 200 ms then 400 ms (plus jitter) before the third attempt.
        assert!(started.elapsed() >= Duration::from_millis(600), "{:?}", started.elapsed());
        assert_eq!(server.received_requests().await.unwrap().len(), 3);

        // A server that keeps failing: four attempts, then GitHub's message.
        let failing = MockServer::start().await;
        mount(&failing, "POST", "/repos/acme/web/check-runs", 503, json!({"message": "Service Unavailable"})).await;
        let api = GithubApi::from_settings(&settings(&failing)).unwrap();
        let err = api.post_check("plan", CheckConclusion::Success, &[]).await.unwrap_err();
        assert_eq!(err.to_string(), "github checks: creating the check run failed: HTTP 503: Service Unavailable");
        assert_eq!(failing.received_requests().await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn network_errors_are_retried_then_reported_without_the_token() {
        // A port nobody listens on: every attempt is refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let mut settings = GithubSettings { api_url: format!("http://{address}"), ..GithubSettings::default() };
        settings.token = Some(TOKEN.into());
        settings.repository = "acme/web".into();
        settings.commit_sha = Some(SHA.into());
        let api = GithubApi::from_settings(&settings).unwrap();
        let started = Instant::now();
        let err = api.post_check("plan", CheckConclusion::Success, &[]).await.unwrap_err().to_string();
        // Three waits of 200, 400 and 800 ms at least: the call was tried four times.
        assert!(started.elapsed() >= Duration::from_millis(1400), "{:?}", started.elapsed());
        assert!(err.starts_with("github checks: creating the check run failed: "), "{err}");
        assert!(!err.contains(TOKEN), "{err}");
    }
}

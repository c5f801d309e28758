//! The GitHub REST API: a Deployment per environment with its statuses (a sink), and the PR
//! check run for `pipeline check`, falling back to a commit status when the token may not create
//! check runs. Plain REST over reqwest: octocrab has no typed Deployments API anyway.

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Value, json};

use super::http::{Http, Reply};
use super::summary::{CHECK_SUMMARY_LIMIT, truncate};
use super::worker::{Events, SharedRedactor, Worker};
use super::{Console, Event, GithubSettings, Outcome, Redactor, ReleaseContext, ReportError, Sink, Status};

/// GitHub limits: 50 annotations per request, 140 characters of status description.
const ANNOTATIONS_PER_REQUEST: usize = 50;
const DESCRIPTION_MAX: usize = 140;
pub const CHECK_NAME: &str = "pipeline plan";
pub const STATUS_CONTEXT: &str = "pipeline/plan";

/// A REST client for one repository.
pub struct GithubApi {
    http: Http,
    api_url: String,
    token: SecretString,
    repository: String,
    redactor: Redactor,
    settings: GithubSettings,
}

impl std::fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApi")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckConclusion {
    Success,
    Failure,
    Neutral,
    ActionRequired,
}

impl CheckConclusion {
    /// The commit-status state for the fallback (statuses know success/failure/error/pending).
    fn state(self) -> &'static str {
        match self {
            CheckConclusion::Success | CheckConclusion::Neutral => "success",
            CheckConclusion::Failure | CheckConclusion::ActionRequired => "failure",
        }
    }

    /// `pipeline check`'s conclusion for an outcome: a config error fails the check.
    pub fn for_outcome(outcome: &Outcome) -> Self {
        match outcome.status {
            Some(Status::Failure) => CheckConclusion::Failure,
            _ => CheckConclusion::Success,
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
    pub fn for_error(error: &super::ErrorReport) -> Option<Self> {
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
    /// `None` without a token or a repository.
    pub fn from_settings(settings: &GithubSettings) -> Option<Self> {
        let token = settings.token.clone()?;
        if !settings.repository.contains('/') {
            return None;
        }
        let mut redactor = Redactor::default();
        redactor.add(token.expose_secret());
        Some(Self {
            http: Http::new(),
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
            token,
            repository: settings.repository.clone(),
            redactor,
            settings: settings.clone(),
        })
    }

    /// Posts the plan as a completed check run on the commit (the PR head), annotations 50 per
    /// request; on 403 falls back to a commit status.
    pub async fn post_check(
        &self,
        plan_markdown: &str,
        conclusion: CheckConclusion,
        annotations: &[Annotation],
    ) -> Result<CheckPosted, ReportError> {
        let fail = |reason: String| ReportError::Api { sink: "github checks", reason };
        let sha = self.settings.commit_sha.clone().ok_or_else(|| fail("no commit sha to check".into()))?;
        let summary = truncate(plan_markdown.to_owned(), CHECK_SUMMARY_LIMIT);
        let title = match conclusion {
            CheckConclusion::Failure | CheckConclusion::ActionRequired => "pipeline plan failed",
            _ => "pipeline plan",
        };
        let mut chunks = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let mut body = json!({
            "name": CHECK_NAME,
            "head_sha": sha,
            "status": "completed",
            "conclusion": conclusion,
            "output": {"title": title, "summary": summary, "annotations": chunks.next().unwrap_or_default()},
        });
        if let Some(url) = &self.settings.run_url {
            body["details_url"] = json!(url);
        }
        let reply = self.call(reqwest::Method::POST, "check-runs", Some(body)).await.map_err(fail)?;
        if reply.status == 403 {
            return self.post_status(&sha, conclusion, plan_markdown).await.map_err(fail);
        }
        let created = ok(reply, "creating the check run").map_err(fail)?;
        let id = created.get("id").and_then(Value::as_u64).ok_or_else(|| fail("the check run has no id".into()))?;
        // Further annotations are appended by updates of the same run.
        for chunk in chunks {
            let body = json!({"output": {"title": title, "summary": summary, "annotations": chunk}});
            let reply =
                self.call(reqwest::Method::PATCH, &format!("check-runs/{id}"), Some(body)).await.map_err(fail)?;
            ok(reply, "adding annotations").map_err(fail)?;
        }
        let html_url = created.get("html_url").and_then(Value::as_str).map(str::to_owned);
        Ok(CheckPosted::CheckRun { id, html_url })
    }

    async fn post_status(
        &self,
        sha: &str,
        conclusion: CheckConclusion,
        plan_markdown: &str,
    ) -> Result<CheckPosted, String> {
        let first = plan_markdown
            .lines()
            .map(|l| l.trim_start_matches('#').trim())
            .find(|l| !l.is_empty())
            .unwrap_or("pipeline plan");
        let mut body = json!({
            "state": conclusion.state(),
            "context": STATUS_CONTEXT,
            "description": description(&format!("{first} (details in the job summary)")),
        });
        if let Some(url) = &self.settings.run_url {
            body["target_url"] = json!(url);
        }
        let reply = self.call(reqwest::Method::POST, &format!("statuses/{sha}"), Some(body)).await?;
        ok(reply, "creating the commit status (check runs are forbidden for this token)")?;
        Ok(CheckPosted::CommitStatus)
    }

    /// Creates the Deployment and returns its id.
    async fn create_deployment(&self, description_text: &str) -> Result<u64, String> {
        let environment = self.settings.environment.clone().unwrap_or_else(|| "production".into());
        let sha = self.settings.commit_sha.clone().ok_or("no commit sha to deploy")?;
        let production =
            self.settings.production_environment.unwrap_or(matches!(environment.as_str(), "production" | "prod"));
        let body = json!({
            "ref": sha,
            "task": "deploy",
            "environment": environment,
            "auto_merge": false,
            "required_contexts": [],
            "description": description(description_text),
            "production_environment": production,
            "transient_environment": false,
        });
        let reply = self.call(reqwest::Method::POST, "deployments", Some(body)).await?;
        if reply.status == 202 {
            return Err("GitHub merged the default branch instead of creating the deployment (202)".into());
        }
        ok(reply, "creating the deployment")?
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| "the deployment has no id".to_owned())
    }

    async fn deployment_status(&self, id: u64, state: &str, description_text: &str) -> Result<(), String> {
        let mut body = json!({"state": state, "description": description(description_text), "auto_inactive": true});
        if let Some(url) = &self.settings.run_url {
            body["log_url"] = json!(url);
        }
        if let Some(url) = &self.settings.environment_url {
            body["environment_url"] = json!(url);
        }
        let reply = self.call(reqwest::Method::POST, &format!("deployments/{id}/statuses"), Some(body)).await?;
        ok(reply, "setting the deployment status").map(drop)
    }

    /// `auto_inactive` leaves production deployments alone: mark the earlier successful ones of
    /// this environment inactive ourselves (the first page, newest first, is enough in practice).
    async fn inactivate_previous(&self, current: u64) -> Result<(), String> {
        let environment = self.settings.environment.clone().unwrap_or_else(|| "production".into());
        let mut url = reqwest::Url::parse(&format!("{}/repos/{}/deployments", self.api_url, self.repository))
            .map_err(|e| format!("bad GitHub API URL: {e}"))?;
        url.query_pairs_mut()
            .append_pair("environment", &environment)
            .append_pair("task", "deploy")
            .append_pair("per_page", "30");
        let reply = self.send(reqwest::Method::GET, url.as_str(), None).await?;
        let list = ok(reply, "listing deployments")?;
        let ids = list.as_array().into_iter().flatten().filter_map(|d| d.get("id").and_then(Value::as_u64));
        for id in ids.filter(|id| *id != current) {
            let reply = self.call(reqwest::Method::GET, &format!("deployments/{id}/statuses?per_page=1"), None).await?;
            let statuses = ok(reply, "reading a deployment status")?;
            let latest = statuses.get(0).and_then(|s| s.get("state")).and_then(Value::as_str);
            if latest == Some("success") {
                let body = json!({"state": "inactive", "description": "superseded by a newer release"});
                let reply = self.call(reqwest::Method::POST, &format!("deployments/{id}/statuses"), Some(body)).await?;
                ok(reply, "marking an earlier deployment inactive")?;
            }
        }
        Ok(())
    }

    /// A call under `/repos/{owner}/{repo}/`.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Reply, String> {
        let url = format!("{}/repos/{}/{path}", self.api_url, self.repository);
        self.send(method, &url, body).await
    }

    async fn send(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<Reply, String> {
        let body = body.map(|mut b| {
            self.redactor.redact_json(&mut b);
            b
        });
        self.http
            .send(|c| {
                let request = c
                    .request(method.clone(), url)
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
                    .bearer_auth(self.token.expose_secret());
                match &body {
                    Some(b) => request.json(b),
                    None => request,
                }
            })
            .await
            .map(|reply| Reply { body: self.redactor.redact(&reply.body), ..reply })
    }

    /// Keeps `secret` out of everything sent (the token is masked already).
    pub fn mask(&mut self, secret: &str) {
        self.redactor.add(secret);
    }
}

/// The JSON of a 2xx reply, or GitHub's `message` for the error.
fn ok(reply: Reply, doing: &str) -> Result<Value, String> {
    if reply.is_success() {
        return Ok(reply.json());
    }
    let json = reply.json();
    let message = json
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| reply.body.chars().take(200).collect());
    Err(format!("{doing} failed: HTTP {}: {message}", reply.status))
}

/// GitHub rejects descriptions over 140 characters.
fn description(text: &str) -> String {
    if text.chars().count() <= DESCRIPTION_MAX {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(DESCRIPTION_MAX - 1).collect();
    out.push('…');
    out
}

/// The Deployment sink: created at the start (in_progress), success or failure at the end, and
/// after a success the earlier deployments of the environment marked inactive.
pub struct GithubDeploymentSink {
    worker: Worker,
}

impl GithubDeploymentSink {
    pub fn new(mut settings: GithubSettings, context: ReleaseContext, console: Console) -> Result<Self, String> {
        settings.environment = settings.environment.or_else(|| context.environment.clone());
        settings.commit_sha = settings.commit_sha.or_else(|| context.commit_sha.clone());
        if settings.commit_sha.is_none() {
            return Err("no commit sha".into());
        }
        let api = GithubApi::from_settings(&settings).ok_or("needs a token and `owner/repo`")?;
        let worker = Worker::spawn("github deployments", settings.required, console, move |events, redactor| {
            deployment_task(events, redactor, api, context)
        });
        Ok(Self { worker })
    }
}

impl Sink for GithubDeploymentSink {
    fn emit(&mut self, event: &Event) {
        self.worker.send(event);
    }

    fn mask(&mut self, secret: &str) {
        self.worker.mask(secret);
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), ReportError>> {
        self.worker.close()
    }
}

async fn deployment_task(
    mut events: Events,
    redactor: SharedRedactor,
    mut api: GithubApi,
    ctx: ReleaseContext,
) -> Result<(), String> {
    let mut id = None;
    let mut rollback = None;
    while let Some(event) = events.recv().await {
        // Masks arrive through the shared redactor; copy them before each request.
        if let Ok(r) = redactor.lock() {
            api.redactor = merge(&api.redactor, &r);
        }
        match event {
            Event::RunStarted { command } => {
                let what = ctx
                    .version
                    .as_deref()
                    .map_or_else(|| format!("pipeline {command}"), |v| format!("pipeline {command} {v}"));
                let created = api.create_deployment(&what).await?;
                api.deployment_status(created, "in_progress", &format!("{what}: in progress")).await?;
                id = Some(created);
            }
            Event::RolledBack { reason } => rollback = Some(reason),
            Event::RunFinished { outcome } => {
                let Some(id) = id else { continue };
                let (state, text) = match (&outcome.error, &rollback) {
                    (None, _) => (
                        "success",
                        outcome.version.as_deref().map_or_else(|| "released".to_owned(), |v| format!("released {v}")),
                    ),
                    (Some(_), Some(reason)) => ("failure", format!("rolled back: {reason}")),
                    (Some(e), None) => ("failure", e.message.clone()),
                };
                api.deployment_status(id, state, &text).await?;
                if state == "success" {
                    api.inactivate_previous(id).await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn merge(a: &Redactor, b: &Redactor) -> Redactor {
    let mut out = a.clone();
    for s in b.secrets() {
        out.add(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;
    use crate::report::{Captured, ErrorReport};

    const TOKEN: &str = "ghs_testtoken0000";
    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn settings(server: &MockServer) -> GithubSettings {
        GithubSettings {
            deployments: true,
            checks: true,
            token: Some(TOKEN.into()),
            api_url: server.uri(),
            repository: "acme/web".into(),
            run_url: Some("https://github.com/acme/web/actions/runs/42".into()),
            environment: Some("production".into()),
            environment_url: Some("https://web.example.com".into()),
            commit_sha: Some(SHA.into()),
            ..GithubSettings::default()
        }
    }

    fn body(r: &Request) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    /// The REST headers GitHub asks for, on every call.
    fn assert_headers(requests: &[Request]) {
        for r in requests {
            assert_eq!(r.headers.get("accept").unwrap(), "application/vnd.github+json");
            assert_eq!(r.headers.get("x-github-api-version").unwrap(), "2022-11-28");
            assert_eq!(r.headers.get("authorization").unwrap(), &format!("Bearer {TOKEN}"));
            assert!(r.headers.get("user-agent").unwrap().to_str().unwrap().starts_with("pipeline/"));
        }
    }

    fn calls(requests: &[Request]) -> Vec<String> {
        requests.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect()
    }

    async fn mount(server: &MockServer, verb: &str, at: &str, status: u16, reply: Value) {
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(ResponseTemplate::new(status).set_body_json(reply))
            .mount(server)
            .await;
    }

    fn sink(server: &MockServer) -> (GithubDeploymentSink, Captured) {
        let (console, captured) = Console::capture();
        let ctx = ReleaseContext { version: Some("v1.4.0".into()), ..ReleaseContext::default() };
        (GithubDeploymentSink::new(settings(server), ctx, console).unwrap(), captured)
    }

    #[tokio::test]
    async fn a_release_creates_a_deployment_and_retires_earlier_successes() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/deployments", 201, json!({"id": 42})).await;
        mount(&server, "POST", "/repos/acme/web/deployments/42/statuses", 201, json!({"id": 1})).await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/web/deployments"))
            .and(query_param("environment", "production"))
            .and(query_param("task", "deploy"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 42}, {"id": 41}, {"id": 40}])))
            .mount(&server)
            .await;
        mount(&server, "GET", "/repos/acme/web/deployments/41/statuses", 200, json!([{"state": "success"}])).await;
        mount(&server, "GET", "/repos/acme/web/deployments/40/statuses", 200, json!([{"state": "inactive"}])).await;
        mount(&server, "POST", "/repos/acme/web/deployments/41/statuses", 201, json!({"id": 2})).await;

        let (mut sink, captured) = sink(&server);
        sink.emit(&Event::RunStarted { command: "release".into() });
        let outcome = Outcome {
            command: "release".into(),
            status: Some(Status::Success),
            version: Some("v1.4.0".into()),
            ..Outcome::default()
        };
        sink.emit(&Event::RunFinished { outcome });
        sink.close().await.unwrap();

        let requests = server.received_requests().await.unwrap();
        assert_headers(&requests);
        assert_eq!(
            calls(&requests),
            [
                "POST /repos/acme/web/deployments",
                "POST /repos/acme/web/deployments/42/statuses",
                "POST /repos/acme/web/deployments/42/statuses",
                "GET /repos/acme/web/deployments",
                "GET /repos/acme/web/deployments/41/statuses",
                "POST /repos/acme/web/deployments/41/statuses",
                "GET /repos/acme/web/deployments/40/statuses",
            ]
        );
        assert_eq!(
            body(&requests[0]),
            json!({
                "ref": SHA, "task": "deploy", "environment": "production", "auto_merge": false,
                "required_contexts": [], "description": "pipeline release v1.4.0",
                "production_environment": true, "transient_environment": false,
            })
        );
        assert_eq!(
            body(&requests[1]),
            json!({
                "state": "in_progress", "description": "pipeline release v1.4.0: in progress", "auto_inactive": true,
                "log_url": "https://github.com/acme/web/actions/runs/42", "environment_url": "https://web.example.com",
            })
        );
        assert_eq!(body(&requests[2])["state"], "success");
        assert_eq!(body(&requests[2])["description"], "released v1.4.0");
        assert_eq!(requests[4].url.query(), Some("per_page=1"));
        assert_eq!(body(&requests[5]), json!({"state": "inactive", "description": "superseded by a newer release"}));
        assert_eq!(captured.text(), "");
    }

    #[tokio::test]
    async fn a_rolled_back_release_is_a_failure_and_keeps_the_earlier_deployment() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/deployments", 201, json!({"id": 7})).await;
        mount(&server, "POST", "/repos/acme/web/deployments/7/statuses", 201, json!({})).await;
        let (mut sink, _) = sink(&server);
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::RolledBack { reason: "the 5xx alarm fired".into() });
        let error = ErrorReport { message: "deployment failed".into(), exit_code: 4, ..ErrorReport::default() };
        let outcome = Outcome {
            command: "release".into(),
            status: Some(Status::Failure),
            error: Some(error),
            ..Outcome::default()
        };
        sink.emit(&Event::RunFinished { outcome });
        sink.close().await.unwrap();
        let requests = server.received_requests().await.unwrap();
        assert_eq!(calls(&requests).len(), 3);
        assert_eq!(body(&requests[2])["state"], "failure");
        assert_eq!(body(&requests[2])["description"], "rolled back: the 5xx alarm fired");
    }

    #[tokio::test]
    async fn a_github_error_warns_once_with_its_message() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/deployments", 409, json!({"message": "Conflict: failing contexts"}))
            .await;
        let (mut sink, captured) = sink(&server);
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::RunFinished { outcome: Outcome::default() });
        sink.close().await.unwrap();
        assert_eq!(
            captured.text(),
            "warning: github deployments: creating the deployment failed: HTTP 409: Conflict: failing contexts \
             — the release goes on without it\n"
        );
    }

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
        mount(
            &server,
            "POST",
            "/repos/acme/web/check-runs",
            201,
            json!({"id": 99, "html_url": "https://github.com/acme/web/runs/99"}),
        )
        .await;
        mount(&server, "PATCH", "/repos/acme/web/check-runs/99", 200, json!({"id": 99})).await;
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
        mount(&server, "POST", &format!("/repos/acme/web/statuses/{SHA}"), 201, json!({"id": 5})).await;
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
        mount(&server, "POST", "/repos/acme/web/check-runs", 201, json!({"id": 3})).await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let posted = api.post_check("plan", CheckConclusion::Success, &[]).await.unwrap();
        assert_eq!(posted, CheckPosted::CheckRun { id: 3, html_url: None });
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }
}

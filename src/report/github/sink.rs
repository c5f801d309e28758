//! The Deployment sink: a Deployment created at the start (`in_progress`), `success` or `failure`
//! at the end, and after a success the environment's earlier deployments marked inactive.

use futures_util::future::BoxFuture;

use super::client::GithubApi;
use super::deployments::DeploymentState;
use crate::report::worker::{Events, SharedRedactor, Worker};
use crate::report::{Console, Event, GithubSettings, Redactor, ReleaseContext, ReportError, Sink};

pub struct GithubDeploymentSink {
    worker: Worker,
}

impl GithubDeploymentSink {
    /// Fails (and the caller warns) without a commit to deploy, a token or an `owner/repo`.
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
    let environment = api.environment();
    let sha = api.settings.commit_sha.clone().unwrap_or_default();
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
                let created = api.new_deployment(&sha, &environment, &what).await.map_err(|e| e.to_string())?;
                api.deployment_status(created, DeploymentState::InProgress, &format!("{what}: in progress"))
                    .await
                    .map_err(|e| e.to_string())?;
                id = Some(created);
            }
            Event::RolledBack { reason } => rollback = Some(reason),
            Event::RunFinished { outcome } => {
                let Some(id) = id else { continue };
                let (state, mut text) = match (&outcome.error, &rollback) {
                    (None, _) => (
                        DeploymentState::Success,
                        outcome.version.as_deref().map_or_else(|| "released".to_owned(), |v| format!("released {v}")),
                    ),
                    (Some(_), Some(reason)) => (DeploymentState::Failure, format!("rolled back: {reason}")),
                    (Some(e), None) => (DeploymentState::Failure, e.message.clone()),
                };
                // Several services: each named with what became of it (the description is cut at 140 characters).
                if !outcome.services.is_empty() {
                    let each: Vec<String> =
                        outcome.services.iter().map(|s| format!("{} {}", s.name, s.state.name())).collect();
                    text = format!("{text} [{}]", each.join(", "));
                }
                api.deployment_status(id, state, &text).await.map_err(|e| e.to_string())?;
                if state == DeploymentState::Success {
                    api.retire(&environment, id).await.map_err(|e| e.to_string())?;
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
    use serde_json::json;
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::super::test_support::*;
    use super::*;
    use crate::report::{Captured, ErrorReport, Outcome, Status};

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
}

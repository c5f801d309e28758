//! GitHub Deployments and their statuses (REFERENCE 6.3). octocrab has no typed Deployments API,
//! so these go through its generic `post`/`get`, with the bodies GitHub documents.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{ApiError, GithubApi, description};
use crate::report::ReportError;

const SINK: &str = "github deployments";

/// A GitHub Deployment's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(pub u64);

impl std::fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The states a deployment status can be created with (`error` and `pending` exist too; the
/// tool does not write them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Queued,
    InProgress,
    Success,
    Failure,
    Inactive,
}

/// One of the repository's deployments, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Deployment {
    pub id: DeploymentId,
    #[serde(default)]
    pub sha: String,
    #[serde(default)]
    pub environment: String,
}

impl GithubApi {
    /// Creates a Deployment of `sha` (a commit: the release's, or the one a rollback or
    /// `deploy --image` read from the task definition's tags) to `environment`. Never merges the
    /// default branch in (`auto_merge: false`) and requires no status checks.
    pub async fn create_deployment(
        &self,
        sha: &str,
        environment: &str,
        description_text: &str,
    ) -> Result<DeploymentId, ReportError> {
        self.new_deployment(sha, environment, description_text).await.map_err(|e| e.report(SINK))
    }

    /// Adds a status to a deployment, with the run's log URL and the environment URL; a success
    /// lets GitHub retire earlier non-production deployments itself (`auto_inactive`).
    pub async fn set_deployment_status(
        &self,
        id: DeploymentId,
        state: DeploymentState,
        description_text: &str,
    ) -> Result<(), ReportError> {
        self.deployment_status(id, state, description_text).await.map_err(|e| e.report(SINK))
    }

    /// The environment's deployments made by this tool (`task: deploy`), newest first (the first
    /// page of 30).
    pub async fn deployments(&self, environment: &str) -> Result<Vec<Deployment>, ReportError> {
        self.list_deployments(environment).await.map_err(|e| e.report(SINK))
    }

    /// Marks the environment's earlier successful deployments inactive, after `current`
    /// succeeded: `auto_inactive` leaves production environments alone (REFERENCE 6.3). Returns
    /// the ones marked.
    pub async fn inactivate_previous(
        &self,
        environment: &str,
        current: DeploymentId,
    ) -> Result<Vec<DeploymentId>, ReportError> {
        self.retire(environment, current).await.map_err(|e| e.report(SINK))
    }

    pub(super) fn environment(&self) -> String {
        self.settings.environment.clone().unwrap_or_else(|| "production".into())
    }

    pub(super) async fn new_deployment(
        &self,
        sha: &str,
        environment: &str,
        description_text: &str,
    ) -> Result<DeploymentId, ApiError> {
        const DOING: &str = "creating the deployment";
        let production = self.settings.production_environment.unwrap_or(matches!(environment, "production" | "prod"));
        let body = self.clean_json(json!({
            "ref": sha,
            "task": "deploy",
            "environment": environment,
            "auto_merge": false,
            "required_contexts": [],
            "description": description(description_text),
            "production_environment": production,
            "transient_environment": false,
        }));
        let crab = self.crab()?;
        let response = crab._post(self.route("deployments"), Some(&body)).await.map_err(|e| self.failed(DOING, e))?;
        // 202 is GitHub's "merged the default branch into the ref instead" (REFERENCE 6.3).
        if response.status() == http::StatusCode::ACCEPTED {
            return Err(ApiError {
                doing: DOING,
                status: Some(202),
                message: "GitHub merged the default branch instead of creating the deployment".into(),
            });
        }
        let response = octocrab::map_github_error(response).await.map_err(|e| self.failed(DOING, e))?;
        let created =
            <Value as octocrab::FromResponse>::from_response(response).await.map_err(|e| self.failed(DOING, e))?;
        let id = created.get("id").and_then(Value::as_u64).ok_or_else(|| ApiError {
            doing: DOING,
            status: None,
            message: "the deployment has no id".into(),
        })?;
        Ok(DeploymentId(id))
    }

    pub(super) async fn deployment_status(
        &self,
        id: DeploymentId,
        state: DeploymentState,
        description_text: &str,
    ) -> Result<(), ApiError> {
        let mut body = json!({"state": state, "description": description(description_text), "auto_inactive": true});
        if let Some(url) = &self.settings.run_url {
            body["log_url"] = json!(url);
        }
        if let Some(url) = &self.settings.environment_url {
            body["environment_url"] = json!(url);
        }
        self.post_status(id, body, "setting the deployment status").await
    }

    async fn post_status(&self, id: DeploymentId, body: Value, doing: &'static str) -> Result<(), ApiError> {
        let body = self.clean_json(body);
        let _: Value = self
            .crab()?
            .post(self.route(&format!("deployments/{id}/statuses")), Some(&body))
            .await
            .map_err(|e| self.failed(doing, e))?;
        Ok(())
    }

    async fn list_deployments(&self, environment: &str) -> Result<Vec<Deployment>, ApiError> {
        let query = [("environment", environment), ("task", "deploy"), ("per_page", "30")];
        self.crab()?
            .get(self.route("deployments"), Some(&query))
            .await
            .map_err(|e| self.failed("listing deployments", e))
    }

    pub(super) async fn retire(&self, environment: &str, current: DeploymentId) -> Result<Vec<DeploymentId>, ApiError> {
        let mut retired = Vec::new();
        for deployment in self.list_deployments(environment).await? {
            if deployment.id == current {
                continue;
            }
            let latest: Vec<Value> = self
                .crab()?
                .get(self.route(&format!("deployments/{}/statuses", deployment.id)), Some(&[("per_page", "1")]))
                .await
                .map_err(|e| self.failed("reading a deployment status", e))?;
            if latest.first().and_then(|s| s.get("state")).and_then(Value::as_str) == Some("success") {
                let body = json!({"state": DeploymentState::Inactive, "description": "superseded by a newer release"});
                self.post_status(deployment.id, body, "marking an earlier deployment inactive").await?;
                retired.push(deployment.id);
            }
        }
        Ok(retired)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::super::test_support::*;
    use super::*;

    /// Issue 11: a rollback or `deploy --image` deploys the commit the task definition's tags
    /// name, not the workflow's; the Deployment is created for that sha (REFERENCE 6.3: `ref`
    /// may be a SHA).
    #[tokio::test]
    async fn a_deployment_is_created_for_an_explicit_commit() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/deployments", 201, json!({"id": 77, "sha": "feedface"})).await;
        mount(&server, "POST", "/repos/acme/web/deployments/77/statuses", 201, json!({"id": 1, "state": "success"}))
            .await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let rollback_commit = "feedfacefeedfacefeedfacefeedfacefeedface";
        let id = api.create_deployment(rollback_commit, "staging", "pipeline rollback v1.0.1").await.unwrap();
        assert_eq!(id, DeploymentId(77));
        api.set_deployment_status(id, DeploymentState::Success, "rolled back to v1.0.1").await.unwrap();

        let requests = server.received_requests().await.unwrap();
        assert_headers(&requests);
        assert_eq!(
            body(&requests[0]),
            json!({
                "ref": rollback_commit, "task": "deploy", "environment": "staging", "auto_merge": false,
                "required_contexts": [], "description": "pipeline rollback v1.0.1",
                "production_environment": false, "transient_environment": false,
            })
        );
        assert_eq!(
            body(&requests[1]),
            json!({
                "state": "success", "description": "rolled back to v1.0.1", "auto_inactive": true,
                "log_url": "https://github.com/acme/web/actions/runs/42", "environment_url": "https://web.example.com",
            })
        );
    }

    #[tokio::test]
    async fn a_202_auto_merge_is_an_error_not_a_deployment() {
        let server = MockServer::start().await;
        mount(&server, "POST", "/repos/acme/web/deployments", 202, json!({"message": "Auto-merged main into topic"}))
            .await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let err = api.create_deployment(SHA, "production", "pipeline release").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "github deployments: creating the deployment failed: HTTP 202: GitHub merged the default branch \
             instead of creating the deployment"
        );
    }

    #[tokio::test]
    async fn the_environment_is_listed_and_earlier_successes_retired() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/web/deployments"))
            .and(query_param("environment", "staging"))
            .and(query_param("task", "deploy"))
            .and(query_param("per_page", "30"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"id": 9, "sha": "c3", "environment": "staging", "ref": "c3", "task": "deploy"},
                {"id": 8, "sha": "c2", "environment": "staging", "ref": "c2", "task": "deploy"},
                {"id": 7, "sha": "c1", "environment": "staging", "ref": "c1", "task": "deploy"},
            ])))
            .mount(&server)
            .await;
        mount(&server, "GET", "/repos/acme/web/deployments/8/statuses", 200, json!([{"state": "success"}])).await;
        mount(&server, "GET", "/repos/acme/web/deployments/7/statuses", 200, json!([{"state": "failure"}])).await;
        mount(&server, "POST", "/repos/acme/web/deployments/8/statuses", 201, json!({"id": 3, "state": "inactive"}))
            .await;
        let api = GithubApi::from_settings(&settings(&server)).unwrap();
        let listed = api.deployments("staging").await.unwrap();
        assert_eq!(
            listed.iter().map(|d| (d.id.0, d.sha.as_str(), d.environment.as_str())).collect::<Vec<_>>(),
            [(9, "c3", "staging"), (8, "c2", "staging"), (7, "c1", "staging")]
        );
        let retired = api.inactivate_previous("staging", DeploymentId(9)).await.unwrap();
        assert_eq!(retired, [DeploymentId(8)]);
        let requests = server.received_requests().await.unwrap();
        let inactive = requests.iter().find(|r| r.method.as_str() == "POST").unwrap();
        assert_eq!(inactive.url.path(), "/repos/acme/web/deployments/8/statuses");
        assert_eq!(body(inactive), json!({"state": "inactive", "description": "superseded by a newer release"}));
    }
}

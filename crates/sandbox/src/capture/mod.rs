//! GitHub and Slack capture: enough of GitHub's REST API (deployments and their statuses, check
//! runs, commit statuses, git refs, releases) and of Slack (chat.postMessage, chat.update, incoming
//! webhooks) to accept what a client posts, answer in the shape the docs show, and record it for
//! `/_sandbox/captured`.
//!
//! Point clients at it with `GITHUB_API_URL=http://HOST:PORT/github` and
//! `SLACK_API_URL=http://HOST:PORT/slack/api` (webhooks: `http://HOST:PORT/slack/hooks/...`).
//! `/_sandbox/github/deny` makes chosen GitHub routes answer 403 (or another status), as GitHub
//! does for a token without the permission.

mod deny;
mod github;
mod slack;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

pub use deny::DenyRule;

use crate::Sandbox;

/// One request as it arrived (the Authorization header is noted, never stored).
#[derive(Debug, Clone, Serialize)]
pub struct CapturedRequest {
    pub service: &'static str,
    pub method: String,
    pub path: String,
    /// The query string, e.g. `environment=prod&task=deploy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub authorized: bool,
    pub body: Value,
    /// The status the capture answered with.
    pub status: u16,
}

/// A Slack message as it looks after every update.
#[derive(Debug, Clone, Serialize)]
pub struct SlackMessage {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: Value,
    pub blocks: Value,
    pub updates: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub id: u64,
    /// `owner/repo`.
    pub repository: String,
    pub environment: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub task: String,
    pub description: Option<String>,
    pub production_environment: bool,
    pub transient_environment: bool,
    pub created_at: String,
    pub statuses: Vec<Value>,
}

/// A git reference created through `POST /repos/{owner}/{repo}/git/refs`.
#[derive(Debug, Clone, Serialize)]
pub struct GitRef {
    pub repository: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
}

/// A Release as GitHub answered its creation, and the repository it belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub repository: String,
    #[serde(flatten)]
    pub release: Value,
}

#[derive(Debug, Default, Serialize)]
pub struct Capture {
    pub requests: Vec<CapturedRequest>,
    pub slack_messages: Vec<SlackMessage>,
    pub deployments: Vec<Deployment>,
    /// Every check-run body posted (creates and updates), in order.
    pub check_runs: Vec<Value>,
    pub commit_statuses: Vec<Value>,
    pub refs: Vec<GitRef>,
    /// Releases as GitHub answers them (`tag_name`, `name`, `body`, ...), oldest first.
    pub releases: Vec<Release>,
    /// Routes told to answer with an error (`/_sandbox/github/deny`).
    pub denials: Vec<DenyRule>,
    #[serde(skip)]
    next_id: u64,
    /// Check runs as GitHub answers them, by id (updates answer the whole run).
    #[serde(skip)]
    runs: BTreeMap<u64, Value>,
}

impl Capture {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub fn is_capture_path(path: &str) -> bool {
    path.starts_with("/github/") || path.starts_with("/slack/") || path.starts_with(deny::CONTROL_PREFIX)
}

pub async fn handle(sb: Arc<Sandbox>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let authorized = request.headers().contains_key("authorization");
    // Answers name the sandbox's own address in their `url` fields, as GitHub names its API host.
    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned();
    let body = match axum::body::to_bytes(request.into_body(), 8 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut world = sb.world();
    let capture = &mut world.capture;
    if path.starts_with(deny::CONTROL_PREFIX) {
        return deny::control(capture, &method, &body);
    }
    let body: Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let (service, response) = match path.strip_prefix("/github") {
        Some(route) => {
            let api = format!("http://{host}/github");
            let response = match deny::check(capture, &method, route) {
                Some(denied) => denied,
                None => github::handle(capture, &api, &method, route, query.as_deref(), &body),
            };
            ("github", response)
        }
        None => ("slack", slack::handle(capture, &path, &body)),
    };
    capture.requests.push(CapturedRequest {
        service,
        method: method.to_string(),
        path,
        query,
        authorized,
        body,
        status: response.status().as_u16(),
    });
    response
}

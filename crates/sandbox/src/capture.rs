//! GitHub and Slack capture: enough of GitHub's REST API (deployments and their statuses, check
//! runs, commit statuses) and of Slack (chat.postMessage, chat.update, incoming webhooks) to accept
//! what a client posts, answer plausibly, and record it for `/_sandbox/captured`.
//!
//! Point clients at it with `GITHUB_API_URL=http://HOST:PORT/github` and
//! `SLACK_API_URL=http://HOST:PORT/slack/api` (webhooks: `http://HOST:PORT/slack/hooks/...`).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Sandbox;

/// One request as it arrived (the Authorization header is noted, never stored).
#[derive(Debug, Clone, Serialize)]
pub struct CapturedRequest {
    pub service: &'static str,
    pub method: String,
    pub path: String,
    pub authorized: bool,
    pub body: Value,
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
    pub environment: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub statuses: Vec<Value>,
}

#[derive(Debug, Default, Serialize)]
pub struct Capture {
    pub requests: Vec<CapturedRequest>,
    pub slack_messages: Vec<SlackMessage>,
    pub deployments: Vec<Deployment>,
    pub check_runs: Vec<Value>,
    pub commit_statuses: Vec<Value>,
    #[serde(skip)]
    next_id: u64,
}

impl Capture {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub fn is_capture_path(path: &str) -> bool {
    path.starts_with("/github/") || path.starts_with("/slack/")
}

pub async fn handle(sb: Arc<Sandbox>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let authorized = request.headers().contains_key("authorization");
    let body = match axum::body::to_bytes(request.into_body(), 8 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let body: Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let service = if path.starts_with("/github/") { "github" } else { "slack" };
    let mut world = sb.world();
    let capture = &mut world.capture;
    capture.requests.push(CapturedRequest {
        service,
        method: method.to_string(),
        path: path.clone(),
        authorized,
        body: body.clone(),
    });
    if service == "github" { github(capture, &method, &path, &body) } else { slack(capture, &path, &body) }
}

fn github(capture: &mut Capture, method: &Method, path: &str, body: &Value) -> Response {
    let parts: Vec<&str> = path.trim_start_matches("/github/").split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::POST, ["repos", _, _, "deployments"]) => {
            let id = capture.id();
            let deployment = Deployment {
                id,
                environment: body["environment"].as_str().unwrap_or("production").to_owned(),
                git_ref: body["ref"].as_str().unwrap_or_default().to_owned(),
                statuses: Vec::new(),
            };
            let answer = json!({ "id": id, "sha": deployment.git_ref, "ref": deployment.git_ref, "environment": deployment.environment });
            capture.deployments.push(deployment);
            (StatusCode::CREATED, axum::Json(answer)).into_response()
        }
        (&Method::GET, ["repos", _, _, "deployments"]) => {
            let list: Vec<Value> = capture
                .deployments
                .iter()
                .rev()
                .map(|d| json!({ "id": d.id, "environment": d.environment, "ref": d.git_ref, "sha": d.git_ref }))
                .collect();
            axum::Json(list).into_response()
        }
        (&Method::POST, ["repos", _, _, "deployments", id, "statuses"]) => {
            let Some(deployment) =
                id.parse::<u64>().ok().and_then(|id| capture.deployments.iter_mut().find(|d| d.id == id))
            else {
                return (StatusCode::NOT_FOUND, axum::Json(json!({ "message": "Not Found" }))).into_response();
            };
            deployment.statuses.push(body.clone());
            let answer = json!({ "id": deployment.statuses.len(), "state": body["state"] });
            (StatusCode::CREATED, axum::Json(answer)).into_response()
        }
        (&Method::GET, ["repos", _, _, "deployments", id, "statuses"]) => {
            let statuses = id
                .parse::<u64>()
                .ok()
                .and_then(|id| capture.deployments.iter().find(|d| d.id == id))
                .map(|d| d.statuses.iter().rev().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            axum::Json(statuses).into_response()
        }
        (&Method::POST, ["repos", owner, repo, "check-runs"]) => {
            let id = capture.id();
            capture.check_runs.push(body.clone());
            let url = format!("https://github.com/{owner}/{repo}/runs/{id}");
            (StatusCode::CREATED, axum::Json(json!({ "id": id, "html_url": url, "status": body["status"] })))
                .into_response()
        }
        (&Method::PATCH, ["repos", _, _, "check-runs", id]) => {
            capture.check_runs.push(body.clone());
            axum::Json(json!({ "id": id.parse::<u64>().unwrap_or(0) })).into_response()
        }
        (&Method::POST, ["repos", _, _, "statuses", sha]) => {
            capture.commit_statuses.push(json!({ "sha": sha, "status": body }));
            (StatusCode::CREATED, axum::Json(json!({ "id": capture.id(), "state": body["state"] }))).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": format!("pipeline-sandbox does not emulate GitHub {method} {path}") })),
        )
            .into_response(),
    }
}

fn slack(capture: &mut Capture, path: &str, body: &Value) -> Response {
    if path.starts_with("/slack/hooks/") {
        let ts = format!("{}.000000", capture.id());
        capture.slack_messages.push(SlackMessage {
            channel: "webhook".into(),
            ts,
            thread_ts: None,
            text: body["text"].clone(),
            blocks: body["blocks"].clone(),
            updates: 0,
        });
        return (StatusCode::OK, "ok").into_response();
    }
    match path.trim_start_matches("/slack/api/") {
        "chat.postMessage" => {
            let channel = body["channel"].as_str().unwrap_or_default();
            // Slack answers with the channel ID; names are resolved to a stable fake ID.
            let channel = if channel.starts_with('C') { channel.to_owned() } else { format!("C{:08X}", channel.len()) };
            let ts = format!("1700000000.{:06}", capture.id());
            capture.slack_messages.push(SlackMessage {
                channel: channel.clone(),
                ts: ts.clone(),
                thread_ts: body["thread_ts"].as_str().map(str::to_owned),
                text: body["text"].clone(),
                blocks: body["blocks"].clone(),
                updates: 0,
            });
            axum::Json(json!({ "ok": true, "channel": channel, "ts": ts, "message": { "text": body["text"] } }))
                .into_response()
        }
        "chat.update" => {
            let (channel, ts) = (body["channel"].as_str().unwrap_or_default(), body["ts"].as_str().unwrap_or_default());
            let Some(message) = capture.slack_messages.iter_mut().find(|m| m.channel == channel && m.ts == ts) else {
                return axum::Json(json!({ "ok": false, "error": "message_not_found" })).into_response();
            };
            message.text = body["text"].clone();
            if !body["blocks"].is_null() {
                message.blocks = body["blocks"].clone();
            }
            message.updates += 1;
            axum::Json(json!({ "ok": true, "channel": channel, "ts": ts, "text": body["text"] })).into_response()
        }
        other => axum::Json(json!({ "ok": false, "error": "unknown_method", "method": other })).into_response(),
    }
}

//! Slack's chat.postMessage and chat.update (Web API: HTTP 200 with `ok`) and incoming webhooks
//! (plain-text `ok`), recorded as messages that updates rewrite in place (REFERENCE 7.1).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Capture, SlackMessage};

pub fn handle(capture: &mut Capture, path: &str, body: &Value) -> Response {
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

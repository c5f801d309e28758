//! `/_sandbox/*`: health, reset, fault injection, and a look at the state.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Sandbox;
use crate::faults::FaultRule;

pub async fn handle(sb: Arc<Sandbox>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let body = match axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match (method, path.as_str()) {
        (Method::GET, "/_sandbox/health") => axum::Json(json!({
            "status": "ok",
            "region": sb.ctx.region,
            "account": sb.ctx.account_id,
            "registry": sb.ctx.registry_host,
            // Every account's registry host, the home account's included.
            "registries": sb.ctx.registries,
            "time_scale": sb.ctx.time_scale,
            // The scaled clock EventBridge Scheduler runs on, as epoch seconds.
            "clock": crate::world::epoch_seconds(sb.ctx.clock()),
        }))
        .into_response(),
        (Method::POST, "/_sandbox/reset") => {
            sb.reset();
            // Real containers (`--tasks docker`) belong to the world that was just dropped.
            if let Some(engine) = sb.containers.get() {
                engine.remove_all().await;
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::GET, "/_sandbox/calls") => axum::Json(json!(&sb.world().calls)).into_response(),
        // What the load balancers' listeners carried (real containers only; empty otherwise).
        (Method::GET, "/_sandbox/traffic") => match sb.containers.get() {
            Some(engine) => axum::Json(engine.traffic.json()).into_response(),
            None => axum::Json(json!({ "traffic": [] })).into_response(),
        },
        (Method::GET, "/_sandbox/scheduler") => {
            axum::Json(json!({ "invocations": &sb.world().scheduler.invocations })).into_response()
        }
        // ECS-native Lambda lifecycle hooks: the calls made, and the stub answers (POST adds one, DELETE clears).
        (Method::GET, "/_sandbox/ecs/hooks") => {
            let w = sb.world();
            axum::Json(json!({ "invocations": &w.ecs.hooks.invocations, "stubs": &w.ecs.hooks.stubs })).into_response()
        }
        (Method::POST, "/_sandbox/ecs/hooks") => match serde_json::from_slice::<crate::ecs::native::HookStub>(&body) {
            Ok(stub) => {
                sb.world().ecs.hooks.stubs.push(stub);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, format!("bad hook stub: {e}")).into_response(),
        },
        (Method::DELETE, "/_sandbox/ecs/hooks") => {
            sb.world().ecs.hooks.stubs.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::GET, "/_sandbox/captured") => axum::Json(json!(&sb.world().capture)).into_response(),
        (Method::GET, "/_sandbox/faults") => axum::Json(json!({ "rules": sb.world().faults.rules })).into_response(),
        (Method::POST, "/_sandbox/faults") => match serde_json::from_slice::<FaultRule>(&body) {
            Ok(rule) => {
                sb.world().faults.rules.push(rule);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, format!("bad fault rule: {e}")).into_response(),
        },
        (Method::DELETE, "/_sandbox/faults") => {
            sb.world().faults.rules.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        (m, p) => (StatusCode::NOT_FOUND, format!("pipeline-sandbox: no control endpoint {m} {p}")).into_response(),
    }
}

//! The one HTTP entry point: every request is routed by its protocol's own marker
//! (`/v2/` registry paths, `/_sandbox/` control, the RPCv2-CBOR path, the SigV4 signing name of a restJson1
//! service, `X-Amz-Target`, or a Query `Action`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};

use crate::faults::FaultAction;
use crate::protocol::{cbor, json, query, rest_json};
use crate::{AwsError, AwsResult, Sandbox, cloudwatch, codedeploy, control, ecr, ecs, elbv2, registry, scheduler, sts};

/// Largest request body accepted (image layers are pushed in chunks of this size or less).
const MAX_BODY: usize = 1024 * 1024 * 1024;

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new().fallback(dispatch).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)).with_state(sandbox)
}

/// The registry host of one of the other accounts (`SandboxOptions::accounts`): only the `/v2/` API, on that
/// account's own ECR, as each AWS account has its own `<account>.dkr.ecr.<region>.amazonaws.com`.
pub fn account_registry_router(sandbox: Arc<Sandbox>, account: String) -> Router {
    let serve = move |State(sb): State<Arc<Sandbox>>, request: Request| {
        let account = account.clone();
        async move { registry::handle_in(sb, &account, request).await }
    };
    Router::new().fallback(serve).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)).with_state(sandbox)
}

async fn dispatch(State(sb): State<Arc<Sandbox>>, request: Request) -> Response {
    // A proxy request for a load balancer's DNS name: the listener serves it (`--tasks docker`).
    if crate::containers::alb::is_listener_request(&request) {
        return crate::containers::alb::handle(sb, request).await;
    }
    let path = request.uri().path().to_owned();
    if path == "/v2" || path.starts_with("/v2/") {
        return registry::handle(sb, request).await;
    }
    if crate::capture::is_capture_path(&path) {
        return crate::capture::handle(sb, request).await;
    }
    if path.starts_with("/_sandbox") {
        return control::handle(sb, request).await;
    }
    let (parts, body) = request.into_parts();
    // The signing key decides the account the request acts in (an STS session's, else the home account).
    let caller = access_key(&parts.headers);
    let caller = caller.as_deref();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    // restJson1 has no target header: the SigV4 credential scope names the service, the method and path the operation.
    if rest_json::signing_service(&parts.headers).as_deref() == Some(scheduler::SIGNING_NAME) {
        let request = rest_json::RestRequest::new(parts.method.clone(), &path, parts.uri.query(), &body);
        let result = match request {
            Ok(r) => {
                let op = scheduler::operation(&r);
                call(&sb, caller, "scheduler", op, |w, ctx| scheduler::handle(w, ctx, op, &r)).await
            }
            Err(e) => Err(e),
        };
        return rest_json::respond(result);
    }
    if parts.method != Method::POST {
        return (axum::http::StatusCode::NOT_FOUND, format!("pipeline-sandbox: no route for {} {path}", parts.method))
            .into_response();
    }
    if let Some(op) = path.strip_prefix(cbor::PATH_PREFIX) {
        let op = op.to_owned();
        return match cbor::decode_request(&body) {
            Ok(input) => {
                let result =
                    call(&sb, caller, "cloudwatch", &op, |w, ctx| cloudwatch::handle(w, ctx, &op, &input)).await;
                cbor::respond(result)
            }
            Err(e) => cbor::respond(Err(e)),
        };
    }
    if let Some(target) = header(&parts.headers, "x-amz-target") {
        return dispatch_json(&sb, caller, &target, &body).await;
    }
    dispatch_query(&sb, caller, &body).await
}

async fn dispatch_json(sb: &Sandbox, caller: Option<&str>, target: &str, body: &Bytes) -> Response {
    let Some((prefix, op)) = target.split_once('.') else {
        return json::respond(
            json::JSON_1_1,
            Err(AwsError::client("UnknownOperationException", format!("bad X-Amz-Target {target}"))),
        );
    };
    let flavor = if prefix == cbor::TARGET_PREFIX { json::CLOUDWATCH } else { json::JSON_1_1 };
    let input = match json::parse_body(body) {
        Ok(v) => v,
        Err(e) => return json::respond(flavor, Err(e)),
    };
    let result = match prefix {
        "AmazonEC2ContainerRegistry_V20150921" => {
            call(sb, caller, "ecr", op, |w, ctx| ecr::handle(w, ctx, op, &input)).await
        }
        "AmazonEC2ContainerServiceV20141113" => {
            call(sb, caller, "ecs", op, |w, ctx| ecs::handle(w, ctx, op, &input)).await
        }
        "CodeDeploy_20141006" => {
            call(sb, caller, "codedeploy", op, |w, ctx| codedeploy::handle(w, ctx, op, &input)).await
        }
        cbor::TARGET_PREFIX => {
            call(sb, caller, "cloudwatch", op, |w, ctx| cloudwatch::handle(w, ctx, op, &input)).await
        }
        other => Err(AwsError::not_implemented(other, op)),
    };
    json::respond(flavor, result)
}

async fn dispatch_query(sb: &Sandbox, caller: Option<&str>, body: &Bytes) -> Response {
    let params = query::parse_form(body);
    let Some(action) = params.get("Action").cloned() else {
        return query::respond_error(&AwsError::client(
            "MissingAction",
            "pipeline-sandbox: request has no X-Amz-Target header, CBOR path or Query Action",
        ));
    };
    let version = params.get("Version").cloned().unwrap_or_default();
    let result = match version.as_str() {
        sts::API_VERSION => {
            call(sb, caller, "sts", &action, |w, ctx| sts::handle(w, ctx, caller, &action, &params)).await
        }
        elbv2::API_VERSION => {
            call(sb, caller, "elbv2", &action, |w, ctx| elbv2::handle(w, ctx, &action, &params)).await
        }
        other => Err(AwsError::not_implemented(&format!("Query API version {other}"), &action)),
    };
    match result {
        Ok(xml) => query::respond_ok(&xml),
        Err(e) => query::respond_error(&e),
    }
}

/// Runs one operation under the world lock, after any injected fault for it, in the account of the caller's key.
async fn call<T>(
    sb: &Sandbox,
    caller: Option<&str>,
    service: &str,
    op: &str,
    f: impl FnOnce(&mut crate::World, &crate::Ctx) -> AwsResult<T>,
) -> AwsResult<T> {
    let (fault, account) = {
        let mut world = sb.world();
        world.calls.record(service, op);
        (world.faults.check(service, op), sts::caller_account(&world, &sb.ctx, caller))
    };
    let ctx = sb.ctx.for_account(&account?);
    match fault {
        Some(FaultAction::Fail(e)) => return Err(e),
        Some(FaultAction::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let result = f(&mut sb.world(), &ctx);
    if let Err(e) = &result {
        tracing::debug!(service, op, error = %e, "request failed");
    }
    result
}

/// The access key id of a SigV4 `Authorization` header (`... Credential=<key>/<date>/<region>/<service>/...`).
fn access_key(headers: &HeaderMap) -> Option<String> {
    let auth = header(headers, "authorization")?;
    let credential = auth.split("Credential=").nth(1)?;
    credential.split('/').next().filter(|k| !k.is_empty()).map(str::to_owned)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

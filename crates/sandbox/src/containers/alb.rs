//! The load balancers' listeners, reachable for real with `--tasks docker`: the sandbox's port is also an HTTP
//! proxy, and a request for `http://<load balancer DNS name>:<listener port>/path` sent through it
//! (`HTTP_PROXY=<sandbox endpoint>`, absolute-form request target) goes where that listener would send it:
//!
//! - a CodeDeploy group's **test listener** (`testTrafficRoute`): once the deployment's AllowTestTraffic event
//!   succeeded, to the replacement (green) task set only, until the deployment ends; otherwise where production
//!   goes (AWS leaves the test listener on whichever target group it last pointed at);
//! - a CodeDeploy group's **production listener** (`prodTrafficRoute`): blue/green split by the deployment's
//!   traffic weight, as the load-balancer stand-in's own trickle;
//! - an ECS-native service's production or test listener: its listener rule's forward weights, each target group
//!   to the deployments whose tasks register in it;
//! - any other listener: its forward action's target groups by weight, to the running tasks of the services
//!   registered in them.
//!
//! Each request is counted in the traffic log (`/_sandbox/traffic`). No running target: 503, as an ALB answers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Engine;
use super::probe::{Route, Split, code_deploy_split, native_split, pick, service_routes};
use super::traffic::Key;
use crate::ecs::{last_segment, str_field};
use crate::{Sandbox, World};

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// Whether a request is for a load balancer rather than for the sandbox's own APIs: an absolute-form target (a
/// proxy request) naming another host than this machine.
pub fn is_listener_request(request: &Request) -> bool {
    request.uri().authority().is_some_and(|a| !matches!(a.host(), "127.0.0.1" | "localhost" | "[::1]" | "0.0.0.0"))
}

pub async fn handle(sb: Arc<Sandbox>, request: Request) -> Response {
    let Some(authority) = request.uri().authority().cloned() else {
        return (StatusCode::BAD_REQUEST, "pipeline-sandbox: no host").into_response();
    };
    let host = authority.host().to_ascii_lowercase();
    let port = authority.port_u16().unwrap_or(if request.uri().scheme_str() == Some("https") { 443 } else { 80 });
    let Some(engine) = sb.containers.get().cloned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "pipeline-sandbox: listeners carry traffic only when tasks run as containers (--tasks docker)\n",
        )
            .into_response();
    };
    let routed = {
        let w = sb.world();
        listener_routes(&w, &engine, &host, port)
    };
    let Some((listener, routes)) = routed else {
        return (StatusCode::BAD_GATEWAY, format!("pipeline-sandbox: no load balancer listener at {host}:{port}\n"))
            .into_response();
    };
    let Some((route, (backend, task_definition))) = pick(&routes).map(|(r, b)| (r.clone(), b.clone())) else {
        engine.traffic.record(Key { listener, target_group: String::new(), task_definition: String::new() }, Some(503));
        return (StatusCode::SERVICE_UNAVAILABLE, "503 Service Temporarily Unavailable\n").into_response();
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let method = request.method().clone();
    let body = axum::body::to_bytes(request.into_body(), MAX_RESPONSE).await.unwrap_or_default();
    let answer = forward(backend, method.as_str(), &path, &host, &body).await;
    let key = Key { listener, target_group: route.target_group_arn.clone(), task_definition };
    match answer {
        Some((status, content_type, body)) => {
            engine.traffic.record(key, Some(status));
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            response
        }
        None => {
            engine.traffic.record(key, None);
            (StatusCode::BAD_GATEWAY, "502 Bad Gateway\n").into_response()
        }
    }
}

/// The listener at `host:port` and where it sends traffic now.
fn listener_routes(w: &World, engine: &Engine, host: &str, port: u16) -> Option<(String, Vec<Route>)> {
    let lb = w.elbv2.load_balancers.iter().find(|l| l.dns_name.eq_ignore_ascii_case(host))?;
    let listener = w.elbv2.listeners.iter().find(|l| l.load_balancer_arn == lb.arn && l.port == Some(port))?;
    let arn = listener.arn.clone();
    if let Some((cluster, service, test)) = w.codedeploy.listener_role(&arn) {
        let s = w.ecs.service(&cluster, &service).filter(|s| s.status == "ACTIVE")?;
        let entry = s.load_balancers.as_array()?.first()?.clone();
        let service_tg = str_field(&entry, "targetGroupArn")?.to_owned();
        let split = if test { test_split(w, s, &service_tg) } else { code_deploy_split(w, s, &service_tg) };
        return Some((arn.clone(), service_routes(w, engine, s, &entry, &arn, split)));
    }
    // An ECS-native service's production or test listener: its listener rule's weights (REFERENCE 2.6).
    for s in w.ecs.all_services().filter(|s| s.status == "ACTIVE" && s.controller == "ECS") {
        for entry in s.load_balancers.as_array().into_iter().flatten() {
            let Some(service_tg) = str_field(entry, "targetGroupArn") else { continue };
            for key in ["productionListenerRule", "testListenerRule"] {
                let Some(rule) = entry.get("advancedConfiguration").and_then(|a| str_field(a, key)) else { continue };
                if w.elbv2.rule(rule).is_some_and(|r| r.listener_arn == arn) {
                    let split = native_split(w, s, service_tg, rule);
                    return Some((arn.clone(), service_routes(w, engine, s, entry, &arn, split)));
                }
            }
        }
    }
    // Any other listener: its target groups by weight, each to the services registered in it.
    let forward = w.elbv2.listener_weights(&arn).unwrap_or_default();
    let mut routes = Vec::new();
    for (tg, weight) in forward {
        for s in w.ecs.all_services().filter(|s| s.status == "ACTIVE") {
            let Some(entry) = s
                .load_balancers
                .as_array()
                .and_then(|l| l.iter().find(|e| str_field(e, "targetGroupArn") == Some(tg.as_str())))
            else {
                continue;
            };
            routes.extend(service_routes(w, engine, s, entry, &arn, vec![(tg.clone(), f64::from(weight), None)]));
        }
    }
    Some((arn, routes))
}

/// The test listener: the replacement task set alone from AllowTestTraffic until the deployment ends.
fn test_split(w: &World, s: &crate::ecs::Service, service_tg: &str) -> Split {
    let latest = w
        .codedeploy
        .all_deployments()
        .filter(|d| last_segment(&d.cluster) == s.cluster && last_segment(&d.service) == s.name)
        .max_by(|a, b| a.create_time.total_cmp(&b.create_time));
    if let Some(d) = latest
        && d.is_active()
        && d.rollback_of.is_none()
        && d.events.iter().any(|e| e.name == "AllowTestTraffic" && e.status == "Succeeded")
        && let Some(green) = &d.green_task_set
    {
        let tg = d
            .green_target_group
            .as_deref()
            .and_then(|n| w.elbv2.target_group_by_name(n).map(|t| t.arn.clone()))
            .unwrap_or_else(|| service_tg.to_owned());
        return vec![(tg, 100.0, Some(vec![green.clone()]))];
    }
    code_deploy_split(w, s, service_tg)
}

/// One HTTP/1.1 exchange with the container (`Connection: close`): status, content type and body.
async fn forward(
    port: u16,
    method: &str,
    path: &str,
    host: &str,
    body: &[u8],
) -> Option<(u16, Option<String>, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pipeline-sandbox-alb\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        let mut raw = Vec::new();
        (&mut stream).take(MAX_RESPONSE as u64).read_to_end(&mut raw).await.ok()?;
        parse(&raw)
    };
    tokio::time::timeout(TIMEOUT, exchange).await.ok().flatten()
}

fn parse(raw: &[u8]) -> Option<(u16, Option<String>, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut content_type = None;
    let mut length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if let Some(n) = length {
        body.truncate(n);
    }
    Some((status, content_type, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_parsed() {
        let raw = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nboom";
        assert_eq!(parse(raw), Some((500, Some("text/plain".into()), b"boom".to_vec())));
        assert_eq!(parse(b"garbage"), None);
    }
}

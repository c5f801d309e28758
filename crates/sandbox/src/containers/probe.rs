//! The load-balancer stand-in: a steady trickle of `GET /` to the running containers behind each target group,
//! split between blue and green the way CodeDeploy's traffic weights (or an ECS-native service's production
//! listener rule) say, and the ALB metrics a guard alarm
//! watches (`AWS/ApplicationELB` RequestCount, HTTPCode_Target_2XX/5XX_Count) published from what really came
//! back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Engine, Phase};
use crate::ecs::{Service, last_segment, str_field};
use crate::elbv2::model::{load_balancer_dimension, target_group_dimension};
use crate::{Sandbox, World};

/// Routing is re-read from the world this often.
const ROUTES_EVERY: Duration = Duration::from_millis(100);
/// A target that has not answered by then counts as a request without a target status (the ALB's own 504).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const NAMESPACE: &str = "AWS/ApplicationELB";

/// One target group of a listener, with its share of the listener's traffic.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Route {
    /// The listener ARN whose traffic this is (for the traffic log).
    pub listener: String,
    /// The target group's ARN.
    pub target_group_arn: String,
    /// `targetgroup/<name>/<id>`.
    pub target_group: String,
    /// `app/<name>/<id>` of each load balancer in front of it.
    pub load_balancers: Vec<String>,
    pub weight: f64,
    /// Host port and task definition of each running container in it.
    pub backends: Vec<(u16, String)>,
}

/// What came back from a target group since the last publication.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    requests: u64,
    target_2xx: u64,
    target_5xx: u64,
}

type Tally = Arc<Mutex<BTreeMap<(String, String), Counts>>>;

pub(super) async fn run(engine: Arc<Engine>, sandbox: Arc<Sandbox>) {
    let ctx = &engine.ctx;
    // About one request per simulated second per listener, so a canary's share still yields a few per alarm
    // period, kept between 10 and 50 per real second.
    let per_second = ctx.time_scale.clamp(10.0, 50.0);
    let every = Duration::from_secs_f64(1.0 / per_second);
    // Several datapoints per scaled minute (the usual alarm period), at most one per second.
    let publish_every = ctx.real(Duration::from_secs(10)).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let tally: Tally = Arc::default();
    let mut listeners: Vec<Vec<Route>> = Vec::new();
    let (mut routed_at, mut published_at) = (Instant::now() - ROUTES_EVERY, Instant::now());
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if routed_at.elapsed() >= ROUTES_EVERY {
            routed_at = Instant::now();
            listeners = routes(&sandbox.world(), &engine);
        }
        for routes in &listeners {
            if let Some((route, backend)) = pick(routes) {
                tokio::spawn(send(engine.clone(), tally.clone(), route.clone(), backend.clone()));
            }
        }
        if published_at.elapsed() >= publish_every {
            published_at = Instant::now();
            let counts = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
            if !counts.is_empty() {
                publish(&mut sandbox.world(), &counts);
            }
        }
    }
}

/// Chooses a target group by weight, then one of its running containers at random.
pub(super) fn pick(routes: &[Route]) -> Option<(&Route, &(u16, String))> {
    let total: f64 = routes.iter().map(|r| r.weight.max(0.0)).sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rand::random_range(0.0..total);
    let route = routes.iter().find(|r| {
        let w = r.weight.max(0.0);
        if x < w {
            true
        } else {
            x -= w;
            false
        }
    })?;
    // No running target: the ALB answers 503 itself; nothing reaches a target, nothing to count for it.
    let i = (!route.backends.is_empty()).then(|| rand::random_range(0..route.backends.len()))?;
    Some((route, &route.backends[i]))
}

async fn send(engine: Arc<Engine>, tally: Tally, route: Route, (port, task_definition): (u16, String)) {
    let status = get(port, "/", REQUEST_TIMEOUT).await;
    let key = super::traffic::Key {
        listener: route.listener.clone(),
        target_group: route.target_group_arn.clone(),
        task_definition,
    };
    engine.traffic.record(key, status);
    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
    for lb in &route.load_balancers {
        let c = t.entry((lb.clone(), route.target_group.clone())).or_default();
        c.requests += 1;
        match status {
            Some(s) if (200..300).contains(&s) => c.target_2xx += 1,
            Some(s) if s >= 500 => c.target_5xx += 1,
            _ => {}
        }
    }
}

/// Publishes per (load balancer, target group) and per load balancer, as the ALB does. A zero 5xx count is
/// published whenever there was traffic, so an alarm sees data rather than INSUFFICIENT_DATA.
fn publish(w: &mut World, counts: &BTreeMap<(String, String), Counts>) {
    let mut per_lb: BTreeMap<&str, Counts> = BTreeMap::new();
    for ((lb, tg), c) in counts {
        let dims = [("LoadBalancer", lb.as_str()), ("TargetGroup", tg.as_str())];
        put(w, &dims, c);
        let total = per_lb.entry(lb.as_str()).or_default();
        total.requests += c.requests;
        total.target_2xx += c.target_2xx;
        total.target_5xx += c.target_5xx;
    }
    for (lb, c) in per_lb {
        put(w, &[("LoadBalancer", lb)], &c);
    }
}

fn put(w: &mut World, dims: &[(&str, &str)], c: &Counts) {
    let cw = &mut w.cloudwatch;
    cw.put_metric(NAMESPACE, "RequestCount", dims, c.requests as f64);
    cw.put_metric(NAMESPACE, "HTTPCode_Target_2XX_Count", dims, c.target_2xx as f64);
    cw.put_metric(NAMESPACE, "HTTPCode_Target_5XX_Count", dims, c.target_5xx as f64);
}

/// (target group ARN, weight, task sets; None = every deployment of the service)
pub(super) type Split = Vec<(String, f64, Option<Vec<String>>)>;

/// Every production listener's routes: for each load-balanced service entry, the target groups and their
/// containers.
fn routes(w: &World, engine: &Engine) -> Vec<Vec<Route>> {
    let mut out = Vec::new();
    for s in w.ecs.all_services().filter(|s| s.status == "ACTIVE") {
        for lb in s.load_balancers.as_array().into_iter().flatten() {
            let Some(tg) = str_field(lb, "targetGroupArn") else { continue };
            let split: Split = if s.controller == "CODE_DEPLOY" {
                code_deploy_split(w, s, tg)
            } else if let Some(rule) =
                lb.pointer("/advancedConfiguration/productionListenerRule").and_then(Value::as_str)
            {
                native_split(w, s, tg, rule)
            } else {
                vec![(tg.to_owned(), 100.0, None)]
            };
            let native_rule = lb.pointer("/advancedConfiguration/productionListenerRule").and_then(Value::as_str);
            let listener = match native_rule.and_then(|r| w.elbv2.rule(r)) {
                Some(rule) => rule.listener_arn.clone(),
                None => production_listener(w, s, tg),
            };
            out.push(service_routes(w, engine, s, lb, &listener, split));
        }
    }
    out
}

/// The listener the production trickle stands for: the CodeDeploy group's production listener, else the first
/// listener forwarding to the service's target group.
fn production_listener(w: &World, s: &Service, tg: &str) -> String {
    if s.controller == "CODE_DEPLOY"
        && let Some(l) = w.codedeploy.production_listener(&s.cluster, &s.name)
    {
        return l;
    }
    w.elbv2
        .listeners
        .iter()
        .find(|l| l.default_actions.iter().any(|a| a.forward.iter().any(|(t, _)| t == tg)))
        .map(|l| l.arn.clone())
        .unwrap_or_else(|| format!("production:{}/{}", s.cluster, s.name))
}

/// The routes of one load-balanced entry of a service (`lb`: its `loadBalancers[]` item) split as given.
pub(super) fn service_routes(
    w: &World,
    engine: &Engine,
    s: &Service,
    lb: &Value,
    listener: &str,
    split: Split,
) -> Vec<Route> {
    let shared = engine.shared();
    let container = str_field(lb, "containerName");
    let port = lb.get("containerPort").and_then(Value::as_u64);
    let fallback_lbs: Vec<String> = split.iter().flat_map(|(t, _, _)| lb_dimensions(w, t)).collect();
    split
        .into_iter()
        .filter_map(|(tg_arn, weight, sets)| {
            let target_group = target_group_dimension(&tg_arn)?.to_owned();
            let mut load_balancers = lb_dimensions(w, &tg_arn);
            if load_balancers.is_empty() {
                // A green target group often has no listener of its own until CodeDeploy rewrites one.
                load_balancers = fallback_lbs.clone();
            }
            load_balancers.sort();
            load_balancers.dedup();
            if load_balancers.is_empty() {
                // No load balancer in front (target groups never created through ELBv2): no traffic.
                return None;
            }
            let backends = w
                .ecs
                .all_tasks()
                .filter(|t| t.cluster == s.cluster && t.service.as_deref() == Some(s.name.as_str()))
                .filter(|t| t.is_live() && t.last_status == "RUNNING")
                .filter(|t| sets.as_ref().is_none_or(|sets| t.deployment_id.as_ref().is_some_and(|d| sets.contains(d))))
                .filter_map(|t| {
                    let r = shared.tasks.get(&t.id).filter(|r| r.phase == Phase::Ready)?;
                    let c = r
                        .containers
                        .iter()
                        .filter(|c| container.is_none_or(|n| c.name == n))
                        .find(|c| port.is_none_or(|p| c.container_port.map(u64::from) == Some(p)))?;
                    Some((c.host_port?, t.task_definition_arn.clone()))
                })
                .collect();
            Some(Route {
                listener: listener.to_owned(),
                target_group_arn: tg_arn,
                target_group,
                load_balancers,
                weight,
                backends,
            })
        })
        .collect()
}

fn lb_dimensions(w: &World, tg_arn: &str) -> Vec<String> {
    w.elbv2
        .load_balancers_of_target_group(tg_arn)
        .iter()
        .filter_map(|arn| load_balancer_dimension(arn).map(str::to_owned))
        .collect()
}

/// Production traffic of a CODE_DEPLOY service: split blue/green by the weight of an active deployment, else
/// all on the primary task set, behind the target group the last deployment left in production.
pub(super) fn code_deploy_split(w: &World, s: &Service, service_tg: &str) -> Split {
    let latest = w
        .codedeploy
        .all_deployments()
        .filter(|d| last_segment(&d.cluster) == s.cluster && last_segment(&d.service) == s.name)
        .max_by(|a, b| a.create_time.total_cmp(&b.create_time));
    let primary = s.primary().map(|p| vec![p.id.clone()]);
    let Some(d) = latest else { return vec![(service_tg.to_owned(), 100.0, primary)] };
    let blue_tg = d.blue_target_group.as_deref().and_then(|n| tg_arn(w, n, service_tg));
    let blue_tg = blue_tg.unwrap_or_else(|| service_tg.to_owned());
    let green_tg = d.green_target_group.as_deref().and_then(|n| tg_arn(w, n, service_tg));
    if d.is_active() {
        // A rollback deployment carries the original's task sets; its green is the one being removed.
        let green = if d.rollback_of.is_some() { 0.0 } else { d.green_weight.clamp(0.0, 100.0) };
        let mut split = vec![(blue_tg, 100.0 - green, d.blue_task_set.clone().map(|b| vec![b]).or(primary))];
        if let (Some(tg), Some(set)) = (green_tg, &d.green_task_set) {
            split.push((tg, green, Some(vec![set.clone()])));
        }
        return split;
    }
    let production = match (green_tg, d.status.as_str(), &d.rollback_of) {
        (Some(green), "Succeeded", None) => green,
        _ => blue_tg,
    };
    vec![(production, 100.0, primary)]
}

/// Production traffic of an ECS-native blue/green service: the production listener rule's forward weights, each
/// target group served by the deployments whose tasks register in it. Only production traffic is simulated: the
/// test listener gets what a test sends, as in AWS.
pub(super) fn native_split(
    w: &World,
    s: &Service,
    service_tg: &str,
    rule: &str,
) -> Vec<(String, f64, Option<Vec<String>>)> {
    let Some(weights) = w.elbv2.forward_weights(rule) else { return Vec::new() };
    weights
        .into_iter()
        .map(|(tg, weight)| {
            let sets = s
                .deployments
                .iter()
                .filter(|d| d.target_group.as_deref().unwrap_or(service_tg) == tg)
                .map(|d| d.id.clone())
                .collect();
            (tg, weight as f64, Some(sets))
        })
        .collect()
}

/// A deployment group names its target groups; the metrics need their ARNs.
fn tg_arn(w: &World, name: &str, service_tg: &str) -> Option<String> {
    if name.starts_with("arn:") {
        return Some(name.to_owned());
    }
    if let Some(tg) = w.elbv2.target_group_by_name(name) {
        return Some(tg.arn.clone());
    }
    // Not created through ELBv2 here: the service's own target group may still carry that name.
    let service_tg_name = target_group_dimension(service_tg).and_then(|d| d.split('/').nth(1));
    (service_tg_name == Some(name)).then(|| service_tg.to_owned())
}

/// `GET path` on 127.0.0.1:port; the status code, or `None` if nothing answered HTTP in time.
pub(super) async fn get(port: u16, path: &str, timeout: Duration) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: ELB-HealthChecker/2.0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 256];
        // The status line is all we need.
        while !buf.contains(&b'\n') && buf.len() < 4096 {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        parse_status(&buf)
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

fn parse_status(buf: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(buf).ok()?.lines().next()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(tg: &str, weight: f64, backends: Vec<u16>) -> Route {
        Route {
            listener: "l".into(),
            target_group_arn: tg.into(),
            target_group: tg.into(),
            load_balancers: vec!["app/a/1".into()],
            weight,
            backends: backends.into_iter().map(|p| (p, "td".to_owned())).collect(),
        }
    }

    #[test]
    fn weights_decide_the_target_group() {
        let routes = [route("blue", 0.0, vec![1]), route("green", 100.0, vec![2])];
        for _ in 0..50 {
            assert_eq!(pick(&routes).map(|(r, p)| (r.target_group.as_str(), p.0)), Some(("green", 2)));
        }
        assert!(pick(&[route("blue", 0.0, vec![1])]).is_none());
        assert!(pick(&[route("empty", 100.0, vec![])]).is_none());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 500 Internal Server Error\r\n"), Some(500));
        assert_eq!(parse_status(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }
}

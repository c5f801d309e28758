//! The service scheduler, run every tick (REFERENCE 2.4): rolling deployments within maximumPercent /
//! minimumHealthyPercent, failed-task accounting, the deployment circuit breaker, deployment alarms, rollback,
//! and for CODE_DEPLOY services the task-set sizes CodeDeploy asked for.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::tasks::{LaunchSpec, launch};
use super::{EcsState, Service, string_list};
use crate::cloudwatch::CloudWatchState;
use crate::{Ctx, World};

/// Simulated bake time after a rollout reaches steady state when deployment alarms are enabled: ECS keeps
/// watching the alarms for a while before it calls the deployment COMPLETED.
const ALARM_BAKE_SECS: u64 = 120;

/// (pending, running) tasks of one deployment; tasks being stopped no longer count.
pub fn counts(ecs: &EcsState, s: &Service, deployment: &str) -> (u32, u32) {
    let (mut pending, mut running) = (0, 0);
    for t in service_tasks(ecs, s, deployment).filter(|t| t.is_live()) {
        match t.last_status {
            "RUNNING" => running += 1,
            _ => pending += 1,
        }
    }
    (pending, running)
}

/// Tasks of one deployment that count as healthy for the scheduler.
pub fn healthy(ecs: &EcsState, s: &Service, deployment: &str) -> u32 {
    service_tasks(ecs, s, deployment).filter(|t| t.is_healthy()).count() as u32
}

fn service_tasks<'a>(ecs: &'a EcsState, s: &'a Service, deployment: &'a str) -> impl Iterator<Item = &'a super::Task> {
    ecs.tasks.values().filter(move |t| {
        t.cluster == s.cluster
            && t.service.as_deref() == Some(&s.name)
            && t.deployment_id.as_deref() == Some(deployment)
    })
}

pub fn tick(w: &mut World, ctx: &Ctx, failed: Vec<(String, String, String, String)>) {
    let now = super::now();
    for (cluster, service, deployment, task) in failed {
        if let Some(s) = w.ecs.service_mut(&cluster, &service) {
            if let Some(d) = s.deployment_mut(&deployment) {
                d.failed_tasks += 1;
                d.updated_at = now;
            }
            s.event(format!("has stopped 1 running tasks: (task {task})."));
        }
    }
    let keys: Vec<(String, String)> = w
        .ecs
        .clusters
        .values()
        .flat_map(|c| c.services.values().filter(|s| s.status != "INACTIVE").map(|s| (c.name.clone(), s.name.clone())))
        .collect();
    for (cluster, name) in keys {
        // Taken out of the map so the scheduler can change the service and the task table together.
        let Some(mut s) = w.ecs.clusters.get_mut(&cluster).and_then(|c| c.services.remove(&name)) else { continue };
        match s.controller.as_str() {
            "CODE_DEPLOY" => size_task_sets(&w.ecs, &mut s),
            _ if super::native::owns(&s) => {
                super::native::tick(&mut w.ecs, ctx, &w.cloudwatch, &mut w.elbv2, &mut s);
            }
            _ => rolling(&mut w.ecs, ctx, &w.cloudwatch, &mut s),
        }
        reconcile(&mut w.ecs, ctx, &mut s);
        retire(&w.ecs, &mut s);
        if s.controller == "ECS" {
            complete(&w.ecs, ctx, &mut s);
        }
        if s.status == "DRAINING"
            && s.deployments.iter().all(|d| service_tasks(&w.ecs, &s, &d.id).all(|t| t.last_status == "STOPPED"))
        {
            s.status = "INACTIVE".into();
        }
        if let Some(c) = w.ecs.clusters.get_mut(&cluster) {
            c.services.insert(name, s);
        }
    }
}

fn percent(s: &Service, key: &str, default: u64) -> u64 {
    s.deployment_configuration.get(key).and_then(Value::as_u64).unwrap_or(default)
}

/// Failed tasks that trip the circuit breaker (REFERENCE 2.4): BOUNDED_PERCENT 50 by default, i.e.
/// half the desired count bounded to 3..=200.
fn breaker_threshold(s: &Service) -> u32 {
    let desired = s.desired_count as f64;
    let tc = s.deployment_configuration.pointer("/deploymentCircuitBreaker/thresholdConfiguration");
    let kind = tc.and_then(|t| t.get("type")).and_then(Value::as_str).unwrap_or("BOUNDED_PERCENT");
    let value = tc.and_then(|t| t.get("value")).and_then(Value::as_f64).unwrap_or(50.0);
    let n = match kind {
        "COUNT" => value,
        "UNBOUNDED_PERCENT" => (value / 100.0 * desired).ceil(),
        _ => (value / 100.0 * desired).ceil().clamp(3.0, 200.0),
    };
    n.max(1.0) as u32
}

pub(super) fn alarm_config(s: &Service) -> Option<(Vec<String>, bool)> {
    let a = s.deployment_configuration.get("alarms")?;
    a.get("enable").and_then(Value::as_bool).filter(|e| *e)?;
    Some((string_list(a, "alarmNames"), a.get("rollback").and_then(Value::as_bool).unwrap_or(false)))
}

/// Marks the PRIMARY deployment FAILED and, when asked and possible, starts a rollback deployment.
pub fn fail_primary(ctx: &Ctx, s: &mut Service, reason: String, why: &str, rollback: bool) {
    let now = super::now();
    let Some(p) = s.deployments.iter_mut().find(|d| d.status == "PRIMARY") else { return };
    p.rollout_state = "FAILED".into();
    p.rollout_reason = reason.clone();
    p.updated_at = now;
    p.sd_reason = Some(reason);
    let id = p.id.clone();
    let previous = p.previous_task_definition.clone().filter(|_| rollback);
    if previous.is_some() {
        p.sd_status = "ROLLBACK_IN_PROGRESS".into();
    } else {
        p.sd_status = "STOPPED".into();
        p.halted = true;
    }
    let rolled_back_from = p.rollback_of.clone();
    s.event(format!("deployment {id} deployment failed: {why}."));
    if let Some(original) = rolled_back_from
        && let Some(o) = s.deployments.iter_mut().chain(s.finished.iter_mut()).find(|d| d.id == original)
    {
        o.sd_status = "ROLLBACK_FAILED".into();
    }
    if let Some(td) = previous {
        let new_id = s.new_deployment(ctx, &td, Some(id.clone()));
        s.event(format!("deployment {id} rolling back to task definition {td} (deployment {new_id})."));
    }
}

fn rolling(ecs: &mut EcsState, ctx: &Ctx, cw: &CloudWatchState, s: &mut Service) {
    if let Some(p) = s.primary().filter(|p| p.rollout_state == "IN_PROGRESS") {
        let (cb, cb_rollback) = s.breaker();
        let failed = p.failed_tasks;
        if cb && failed >= breaker_threshold(s) {
            let reason = "ECS deployment circuit breaker: tasks failed to start.".to_owned();
            fail_primary(ctx, s, reason, "tasks failed to start", cb_rollback);
        } else if let Some((names, rollback)) = alarm_config(s).filter(|_| p.rollback_of.is_none()) {
            let firing: Vec<String> = names.into_iter().filter(|n| cw.alarm_state(n) == Some("ALARM")).collect();
            if !firing.is_empty() {
                if let Some(p) = s.deployments.iter_mut().find(|d| d.status == "PRIMARY") {
                    p.triggered_alarms = firing.clone();
                }
                let reason = format!("ECS deployment alarm(s) detected: {}.", firing.join(", "));
                fail_primary(ctx, s, reason, "alarm detected", rollback);
            }
        }
    }
    let desired = s.desired_count;
    let max_total = (desired as u64 * percent(s, "maximumPercent", 200) / 100) as u32;
    let min_healthy = (desired as u64 * percent(s, "minimumHealthyPercent", 100)).div_ceil(100) as u32;
    let mut healthy_total = 0;
    let mut live_others = 0;
    for d in &s.deployments {
        let (p, r) = counts(ecs, s, &d.id);
        healthy_total += healthy(ecs, s, &d.id);
        if d.status != "PRIMARY" {
            live_others += p + r;
        }
    }
    let primary_halted = s.primary().is_some_and(|p| p.halted);
    let mut can_stop = healthy_total.saturating_sub(min_healthy);
    let states: Vec<(u32, u32, u32)> = s
        .deployments
        .iter()
        .map(|d| {
            let (p, r) = counts(ecs, s, &d.id);
            (p, r, healthy(ecs, s, &d.id))
        })
        .collect();
    for (d, (pending, running, healthy)) in s.deployments.iter_mut().zip(states) {
        if d.status == "PRIMARY" {
            d.target = if d.halted {
                (pending + running).min(desired)
            } else {
                desired.min(max_total.max(desired.min(1)).saturating_sub(live_others))
            };
        } else if !primary_halted {
            // Old deployments lose their not-yet-running tasks at once, running ones only while enough stay healthy.
            let stop = can_stop.min(healthy);
            can_stop -= stop;
            d.target = d.target.min(healthy - stop);
        }
    }
}

fn size_task_sets(ecs: &EcsState, s: &mut Service) {
    let _ = ecs;
    let desired = s.desired_count as f64;
    for d in &mut s.deployments {
        let scale = d.task_set.as_ref().map_or(100.0, |t| t.scale);
        d.target =
            if d.status == "DRAINING" || s.status != "ACTIVE" { 0 } else { (desired * scale / 100.0).ceil() as u32 };
    }
}

/// Starts or stops tasks so each deployment has its target number of live tasks.
fn reconcile(ecs: &mut EcsState, ctx: &Ctx, s: &mut Service) {
    if s.status != "ACTIVE" {
        s.deployments.iter_mut().for_each(|d| d.target = 0);
    }
    for i in 0..s.deployments.len() {
        let d = &s.deployments[i];
        let mut live: Vec<(bool, String)> = service_tasks(ecs, s, &d.id)
            .filter(|t| t.is_live())
            .map(|t| (t.last_status == "RUNNING", t.id.clone()))
            .collect();
        let target = d.target as usize;
        if live.len() < target && !d.halted {
            let Some(td) = ecs.task_definition(&d.task_definition).cloned() else { continue };
            let started_by = d.task_set.as_ref().map_or(d.id.clone(), |t| t.started_by.clone());
            let mut started = Vec::new();
            for _ in live.len()..target {
                let spec = LaunchSpec {
                    cluster: &s.cluster,
                    cluster_arn: &s.cluster_arn,
                    group: format!("service:{}", s.name),
                    started_by: Some(started_by.clone()),
                    service: Some(s.name.clone()),
                    deployment_id: Some(d.id.clone()),
                    launch_type: s.launch_type.as_deref(),
                    overrides: serde_json::json!({"containerOverrides": []}),
                    tags: Vec::new(),
                    one_off: false,
                };
                started.push(format!("(task {})", launch(ecs, ctx, &td, spec)));
            }
            s.event(format!("has started {} tasks: {}.", started.len(), started.join(" ")));
        } else if live.len() > target {
            // Stop tasks that are not running yet first: they serve no traffic.
            live.sort();
            let id = d.id.clone();
            let mut stopped = Vec::new();
            for (_, task) in live.iter().take(live.len() - target) {
                if let Some(t) = ecs.tasks.get_mut(task) {
                    t.request_stop(
                        ctx,
                        "ServiceSchedulerInitiated",
                        &format!("Scaling activity initiated by (deployment {id})"),
                    );
                    stopped.push(format!("(task {task})"));
                }
            }
            s.event(format!("has stopped {} running tasks: {}.", stopped.len(), stopped.join(" ")));
        }
    }
}

/// Drops non-primary deployments whose tasks are all gone, keeping them for ListServiceDeployments.
fn retire(ecs: &EcsState, s: &mut Service) {
    let gone: Vec<usize> = (0..s.deployments.len())
        .filter(|&i| {
            let d = &s.deployments[i];
            // A replacement task set waits for CodeDeploy to scale it; only drained ones go.
            let removable = d.task_set.is_none() || d.status == "DRAINING";
            d.status != "PRIMARY"
                && removable
                && d.target == 0
                && service_tasks(ecs, s, &d.id).all(|t| t.last_status == "STOPPED")
        })
        .collect();
    let now = super::now();
    for i in gone.into_iter().rev() {
        let mut d = s.deployments.remove(i);
        if d.native.as_ref().is_some_and(|n| n.rolling_back) && d.sd_status == "ROLLBACK_IN_PROGRESS" {
            // Green has scaled in after the traffic flipped back: the rollback is done.
            d.sd_status = "ROLLBACK_SUCCESSFUL".into();
        } else if d.sd_status == "IN_PROGRESS" || d.sd_status == "PENDING" {
            d.sd_status = "STOPPED".into();
            d.sd_reason.get_or_insert_with(|| "Superseded by a newer deployment.".into());
        }
        d.status = "INACTIVE".into();
        d.finished_at.get_or_insert(now);
        s.finished.push(d);
    }
}

/// A lone PRIMARY deployment with all its tasks running is COMPLETED (after the alarm bake, if any).
fn complete(ecs: &EcsState, ctx: &Ctx, s: &mut Service) {
    if s.deployments.len() != 1 || s.status != "ACTIVE" {
        return;
    }
    let (pending, running) = counts(ecs, s, &s.deployments[0].id);
    let running = running.min(healthy(ecs, s, &s.deployments[0].id));
    let baking = alarm_config(s).is_some();
    let desired = s.desired_count;
    let d = &mut s.deployments[0];
    if d.rollout_state != "IN_PROGRESS" || pending != 0 || running != desired {
        return;
    }
    if baking {
        let until =
            *d.bake_until.get_or_insert_with(|| Instant::now() + ctx.real(Duration::from_secs(ALARM_BAKE_SECS)));
        if Instant::now() < until {
            return;
        }
    }
    let now = super::now();
    d.rollout_state = "COMPLETED".into();
    d.rollout_reason = format!("ECS deployment {} completed.", d.id);
    d.updated_at = now;
    d.finished_at = Some(now);
    d.sd_status = "SUCCESSFUL".into();
    let (id, rollback_of) = (d.id.clone(), d.rollback_of.clone());
    if let Some(f) = rollback_of
        && let Some(failed) = s.finished.iter_mut().find(|x| x.id == f)
    {
        failed.sd_status = "ROLLBACK_SUCCESSFUL".into();
    }
    s.event(format!("(deployment {id}) deployment completed."));
    s.event("has reached a steady state.".into());
}

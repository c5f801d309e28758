//! The deployment lifecycle, advanced every tick: Created -> InProgress -> the ECS lifecycle events with
//! traffic shifting per the deployment configuration -> termination wait -> Succeeded; alarms stop it,
//! failures fail it, and either may roll back (REFERENCE 3.2-3.8).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::deployments::{Deployment, EVENTS, rollback_deployment};
use super::groups::Routing;
use crate::cloudwatch::CloudWatchState;
use crate::ecs::EcsState;
use crate::world::now_epoch;
use crate::{Ctx, World};

/// Simulated seconds from Created to InProgress, and for each hook event (no Lambda runs here).
const START_SECS: u64 = 1;
const HOOK_SECS: u64 = 2;
/// Failed tasks of the replacement task set after which Install gives up (AWS would wait for its timeout).
const INSTALL_FAILED_TASKS: u32 = 3;

enum Outcome {
    Continue,
    Succeeded,
    End { status: &'static str, code: &'static str, message: String, rollback: bool },
}

pub fn tick(w: &mut World, ctx: &Ctx) {
    let ids: Vec<String> = w.codedeploy.deployments.values().filter(|d| d.is_active()).map(|d| d.id.clone()).collect();
    for id in ids {
        let Some(mut d) = w.codedeploy.deployments.remove(&id) else { continue };
        let outcome = step(&mut w.ecs, &w.cloudwatch, ctx, &mut d);
        d.last_updated = now_epoch();
        w.codedeploy.deployments.insert(id.clone(), d);
        match outcome {
            Outcome::Continue => {}
            Outcome::Succeeded => succeed(w, &id),
            Outcome::End { status, code, message, rollback } => {
                end(w, ctx, &id, status, code, &message, rollback);
            }
        }
    }
}

fn finish_event(d: &mut Deployment, status: &'static str) {
    let now = now_epoch();
    if let Some(e) = d.events.get_mut(d.stage) {
        e.status = status;
        e.start.get_or_insert(now);
        e.end = Some(now);
    }
    d.stage += 1;
    d.wait_until = None;
}

fn due(d: &Deployment) -> bool {
    d.wait_until.is_none_or(|t| Instant::now() >= t)
}

fn step(ecs: &mut EcsState, cw: &CloudWatchState, ctx: &Ctx, d: &mut Deployment) -> Outcome {
    let now = Instant::now();
    if d.status == "Created" {
        let Some(t) = d.wait_until else {
            d.wait_until = Some(now + ctx.real(Duration::from_secs(START_SECS)));
            return Outcome::Continue;
        };
        if now < t {
            return Outcome::Continue;
        }
        d.status = "InProgress".into();
        d.start_time = Some(now_epoch());
        d.target_status = "InProgress".into();
        d.wait_until = None;
        let service = ecs.service(&d.cluster, &d.service).filter(|s| s.status == "ACTIVE");
        if service.is_none_or(|s| s.controller != "CODE_DEPLOY") {
            return Outcome::End {
                status: "Failed",
                code: "INVALID_ECS_SERVICE",
                message: format!(
                    "The ECS service {} in cluster {} does not exist, is not ACTIVE or does not use the CODE_DEPLOY deployment controller.",
                    d.service, d.cluster
                ),
                rollback: false,
            };
        }
        d.blue_task_set = ecs.primary_task_set(&d.cluster, &d.service);
    }
    // Any configured alarm in ALARM stops the deployment, also one already firing at the start (REFERENCE 3.8).
    if d.rollback_of.is_none() {
        let firing: Vec<String> = d.alarms().into_iter().filter(|a| cw.alarm_state(a) == Some("ALARM")).collect();
        if !firing.is_empty() {
            return Outcome::End {
                status: "Stopped",
                code: "ALARM_ACTIVE",
                message: format!(
                    "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <{}>",
                    firing.join(", ")
                ),
                rollback: d.rolls_back_on("DEPLOYMENT_STOP_ON_ALARM"),
            };
        }
    }
    if d.stage >= EVENTS.len() {
        return terminate_blue(ecs, ctx, d);
    }
    if d.events[d.stage].status == "Pending" {
        let e = &mut d.events[d.stage];
        e.status = "InProgress";
        e.start = Some(now_epoch());
        d.wait_until = Some(now + ctx.real(Duration::from_secs(HOOK_SECS)));
        if EVENTS[d.stage] == "Install"
            && let Some(failure) = install(ecs, ctx, d)
        {
            return failure;
        }
        if EVENTS[d.stage] == "AllowTraffic" && d.rollback_of.is_none() {
            start_allow_traffic(ctx, d);
        }
    }
    match EVENTS[d.stage] {
        "Install" => {
            let green = d.green_task_set.clone().unwrap_or_default();
            let desired = ecs.service(&d.cluster, &d.service).map_or(0, |s| s.desired_count);
            match ecs.task_set_progress(&d.cluster, &d.service, &green) {
                None => {
                    return Outcome::End {
                        status: "Failed",
                        code: "ECS_UPDATE_ERROR",
                        message: "The replacement task set disappeared from the ECS service.".into(),
                        rollback: d.rolls_back_on("DEPLOYMENT_FAILURE"),
                    };
                }
                Some(p) if p.failed >= INSTALL_FAILED_TASKS => {
                    return Outcome::End {
                        status: "Failed",
                        code: "ECS_UPDATE_ERROR",
                        message: format!(
                            "The ECS service cannot reach a steady state: {} tasks of the replacement task set {green} stopped (essential container exited).",
                            p.failed
                        ),
                        rollback: d.rolls_back_on("DEPLOYMENT_FAILURE"),
                    };
                }
                Some(p) if p.desired == desired && p.healthy == desired && p.pending == 0 && due(d) => {
                    finish_event(d, "Succeeded");
                }
                Some(_) => {}
            }
        }
        "AllowTraffic" if d.rollback_of.is_none() => return allow_traffic(ecs, ctx, d),
        _ if due(d) => finish_event(d, "Succeeded"),
        _ => {}
    }
    Outcome::Continue
}

/// Install: checks the AppSpec against the task definition, then creates the replacement (green) task set.
fn install(ecs: &mut EcsState, ctx: &Ctx, d: &mut Deployment) -> Option<Outcome> {
    let fail =
        |message: String| Some(Outcome::End { status: "Failed", code: "ECS_UPDATE_ERROR", message, rollback: false });
    let spec = d.appspec.clone();
    let Some(td) = ecs.task_definition(&spec.task_definition).filter(|t| t.status() == "ACTIVE") else {
        return fail(format!(
            "The ECS service cannot be updated: the task definition {} is not registered or not ACTIVE.",
            spec.task_definition
        ));
    };
    match td.container_has_port(&spec.container_name, spec.container_port) {
        None => {
            return fail(format!(
                "The container {} in the AppSpec LoadBalancerInfo does not exist in the task definition {}.",
                spec.container_name, td.arn
            ));
        }
        Some(false) => {
            return fail(format!(
                "The container {} does not have a port mapping for container port {} in the task definition {}.",
                spec.container_name, spec.container_port, td.arn
            ));
        }
        Some(true) => {}
    }
    let td_arn = td.arn.clone();
    // A replacement left behind by an earlier stopped deployment would otherwise run on forever.
    if let Some(blue) = &d.blue_task_set {
        ecs.drain_other_task_sets(&d.cluster, &d.service, blue);
    }
    match ecs.create_task_set(ctx, &d.cluster, &d.service, &td_arn, &d.id, spec.network_configuration.as_ref()) {
        Some(id) => {
            // The replacement registers its tasks in the other target group of the pair (REFERENCE 3.5).
            if let Some(green) = &d.green_target_group {
                ecs.set_task_set_target_group(&d.cluster, &d.service, &id, green);
            }
            d.green_task_set = Some(id);
        }
        None => return fail(format!("The ECS service {} no longer exists.", d.service)),
    }
    None
}

/// Before production traffic moves: with `STOP_DEPLOYMENT` the deployment waits (status Ready, the replacement
/// already on the test listener) for ContinueDeployment(READY_WAIT), at most `waitTimeInMinutes`; with
/// `CONTINUE_DEPLOYMENT` it reroutes at once, since the wait time applies only to STOP_DEPLOYMENT (REFERENCE 3.6,
/// API_DeploymentReadyOption).
fn start_allow_traffic(ctx: &Ctx, d: &mut Deployment) {
    let ready = d.blue_green.get("deploymentReadyOption").cloned().unwrap_or(Value::Null);
    if ready.get("actionOnTimeout").and_then(Value::as_str) != Some("STOP_DEPLOYMENT") || d.ready_continued {
        d.wait_until = None;
        return;
    }
    let minutes = ready.get("waitTimeInMinutes").and_then(Value::as_f64).unwrap_or(0.0);
    d.wait_until = Some(Instant::now() + ctx.real(crate::ecs::sim_duration(minutes * 60.0)));
    d.status = "Ready".into();
    d.target_status = "Ready".into();
}

fn step_weight(r: Routing, current: f64) -> f64 {
    match r {
        Routing::AllAtOnce => 100.0,
        Routing::Canary { percent, .. } => {
            if current == 0.0 {
                percent
            } else {
                100.0
            }
        }
        Routing::Linear { percent, .. } => (current + percent).min(100.0),
    }
}

fn interval(ctx: &Ctx, r: Routing) -> Duration {
    let minutes = match r {
        Routing::AllAtOnce => 0.0,
        Routing::Canary { minutes, .. } | Routing::Linear { minutes, .. } => minutes,
    };
    ctx.real(crate::ecs::sim_duration(minutes * 60.0))
}

fn allow_traffic(ecs: &mut EcsState, ctx: &Ctx, d: &mut Deployment) -> Outcome {
    if !d.shifting {
        if d.status == "Ready" {
            if d.ready_continued {
                d.status = "InProgress".into();
                d.target_status = "InProgress".into();
            } else if due(d) {
                return Outcome::End {
                    status: "Stopped",
                    code: "TIMEOUT",
                    message: "Traffic rerouting was not started (ContinueDeployment) before the wait time ended."
                        .into(),
                    rollback: false,
                };
            } else {
                return Outcome::Continue;
            }
        } else if !due(d) {
            return Outcome::Continue;
        }
        d.shifting = true;
        d.green_weight = step_weight(d.routing, 0.0);
        d.wait_until = Some(Instant::now() + interval(ctx, d.routing));
    } else if d.green_weight < 100.0 && due(d) {
        d.green_weight = step_weight(d.routing, d.green_weight);
        d.wait_until = Some(Instant::now() + interval(ctx, d.routing));
    }
    if d.green_weight >= 100.0 {
        if let Some(green) = &d.green_task_set {
            ecs.set_primary_task_set(&d.cluster, &d.service, green);
        }
        finish_event(d, "Succeeded");
    }
    Outcome::Continue
}

/// After AfterAllowTraffic: wait terminationWaitTimeInMinutes, then remove the original task set.
fn terminate_blue(ecs: &mut EcsState, ctx: &Ctx, d: &mut Deployment) -> Outcome {
    if d.rollback_of.is_some() {
        return Outcome::Succeeded;
    }
    let term = d.blue_green.get("terminateBlueInstancesOnDeploymentSuccess").cloned().unwrap_or(Value::Null);
    if !d.termination_started {
        d.termination_started = true;
        let minutes = term.get("terminationWaitTimeInMinutes").and_then(Value::as_f64).unwrap_or(0.0);
        d.wait_until = Some(Instant::now() + ctx.real(crate::ecs::sim_duration(minutes * 60.0)));
    }
    if !d.skip_termination_wait && !due(d) {
        return Outcome::Continue;
    }
    if term.get("action").and_then(Value::as_str) != Some("KEEP_ALIVE")
        && let Some(blue) = &d.blue_task_set
    {
        ecs.drain_task_set(&d.cluster, &d.service, blue);
    }
    Outcome::Succeeded
}

fn succeed(w: &mut World, id: &str) {
    let Some(d) = w.codedeploy.deployments.get_mut(id) else { return };
    let now = now_epoch();
    d.status = "Succeeded".into();
    d.target_status = "Succeeded".into();
    d.complete_time = Some(now);
    let summary = json!({"deploymentId": d.id, "status": "Succeeded", "endTime": now, "createTime": d.create_time});
    let rollback = d.rollback_of.is_some();
    let key = (d.application.clone(), d.group.clone());
    if let Some(g) = w.codedeploy.groups.get_mut(&key) {
        g.last_attempted = Some(summary.clone());
        if !rollback {
            g.last_successful = Some(summary);
            // Production now runs in the other target group of the pair.
            if g.target_groups().len() == 2 {
                g.blue_target_group = 1 - g.blue_target_group.min(1);
            }
        }
    }
}

/// Ends a deployment (Stopped or Failed) and, when asked and a replacement exists, rolls back: traffic returns
/// to the original task set at once, which becomes PRIMARY again, and a `codeDeployRollback` deployment
/// records the rollback. Returns the rollback deployment's id.
pub fn end(
    w: &mut World,
    ctx: &Ctx,
    id: &str,
    status: &str,
    code: &str,
    message: &str,
    rollback: bool,
) -> Option<String> {
    let cd = &mut w.codedeploy;
    let d = cd.deployments.get_mut(id)?;
    let now = now_epoch();
    d.status = status.into();
    d.error = Some((code.into(), message.into()));
    d.complete_time = Some(now);
    d.target_status = "Failed".into();
    d.wait_until = None;
    for e in d.events.iter_mut() {
        match e.status {
            "InProgress" => {
                e.status = "Failed";
                e.end = Some(now);
            }
            "Pending" => e.status = "Skipped",
            _ => {}
        }
    }
    let summary = json!({"deploymentId": d.id, "status": status, "endTime": now, "createTime": d.create_time});
    if let Some(g) = cd.groups.get_mut(&(d.application.clone(), d.group.clone())) {
        g.last_attempted = Some(summary);
    }
    let d = cd.deployments.get(id)?.clone();
    if !rollback || d.rollback_of.is_some() {
        return None;
    }
    let green = d.green_task_set.clone()?;
    let r = rollback_deployment(cd, &d, &format!("Rollback of deployment {id}: {message}"));
    let rid = r.id.clone();
    cd.order.push(rid.clone());
    cd.deployments.insert(rid.clone(), r);
    if let Some(orig) = cd.deployments.get_mut(id) {
        orig.rollback_info.insert("rollbackDeploymentId".into(), json!(rid));
        orig.rollback_info
            .insert("rollbackMessage".into(), json!(format!("Deployment {id} was rolled back by deployment {rid}.")));
        orig.green_weight = 0.0;
    }
    if let Some(blue) = &d.blue_task_set {
        w.ecs.set_primary_task_set(&d.cluster, &d.service, blue);
    }
    w.ecs.drain_task_set(&d.cluster, &d.service, &green);
    let _ = ctx;
    Some(rid)
}

//! Service deployment APIs for the ECS controller (REFERENCE 2.7): ListServiceDeployments,
//! DescribeServiceDeployments, StopServiceDeployment.

use serde_json::{Value, json};

use super::services::{Deployment, Service};
use super::{EcsState, last_segment, paginate, str_field, string_list, with_token};
use crate::{AwsError, AwsResult, Ctx, World};

pub(super) fn revision_arn(d: &Deployment) -> String {
    // Service revisions are named like their deployment, one revision per deployment here.
    d.arn.replace(":service-deployment/", ":service-revision/")
}

/// The members `ServiceDeploymentBrief` (ListServiceDeployments) and `ServiceDeployment` share.
fn common(s: &Service, d: &Deployment) -> Value {
    let mut v = json!({
        "serviceDeploymentArn": d.arn,
        "serviceArn": s.arn,
        "clusterArn": s.cluster_arn,
        "createdAt": d.created_at,
        "startedAt": d.created_at,
        "status": d.sd_status,
    });
    if let Some(f) = d.finished_at {
        v["finishedAt"] = json!(f);
    }
    if let Some(r) = &d.sd_reason {
        v["statusReason"] = json!(r);
    }
    v
}

/// `ServiceDeploymentBrief`: the only shape with `targetServiceRevisionArn`.
fn summary(s: &Service, d: &Deployment) -> Value {
    let mut v = common(s, d);
    v["targetServiceRevisionArn"] = json!(revision_arn(d));
    v
}

/// `ServiceRevisionSummary` of one deployment's revision, with its live task counts.
fn revision_summary(ecs: &EcsState, s: &Service, d: &Deployment) -> Value {
    let (pending, running) = super::rollout::counts(ecs, s, &d.id);
    // A deployment that left `deployments[]` no longer asks for tasks.
    let requested = if d.status == "INACTIVE" { 0 } else { d.target };
    json!({
        "arn": revision_arn(d),
        "requestedTaskCount": requested,
        "runningTaskCount": running,
        "pendingTaskCount": pending,
    })
}

/// Deployments of a service, newest first; rollback deployments are folded into the one they roll back.
fn all(s: &Service) -> Vec<&Deployment> {
    let mut v: Vec<&Deployment> =
        s.deployments.iter().chain(s.finished.iter()).filter(|d| d.rollback_of.is_none()).collect();
    v.sort_by(|a, b| b.created_at.total_cmp(&a.created_at));
    v
}

pub fn list(ecs: &mut EcsState, _ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let name = str_field(input, "service").map(last_segment).unwrap_or_default();
    let s = ecs
        .service(&cluster, name)
        .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
    if s.controller != "ECS" {
        return Err(AwsError::client(
            "UnsupportedFeatureException",
            "Service deployments are only available for services using the ECS deployment controller.",
        ));
    }
    let statuses = string_list(input, "status");
    let after = input.pointer("/createdAt/after").and_then(Value::as_f64);
    let before = input.pointer("/createdAt/before").and_then(Value::as_f64);
    let items: Vec<Value> = all(s)
        .into_iter()
        .filter(|d| statuses.is_empty() || statuses.contains(&d.sd_status))
        .filter(|d| after.is_none_or(|a| d.created_at >= a) && before.is_none_or(|b| d.created_at <= b))
        .map(|d| summary(s, d))
        .collect();
    let (page, token) = paginate(items, input, 20);
    Ok(with_token(json!({ "serviceDeployments": page }), token))
}

fn find<'a>(ecs: &'a EcsState, arn: &str) -> Option<(&'a Service, &'a Deployment)> {
    ecs.clusters.values().flat_map(|c| c.services.values()).find_map(|s| {
        s.deployments.iter().chain(s.finished.iter()).find(|d| d.arn == arn && d.rollback_of.is_none()).map(|d| (s, d))
    })
}

fn detail(ecs: &EcsState, s: &Service, d: &Deployment) -> Value {
    let mut v = common(s, d);
    let rollback = s.deployments.iter().find(|r| r.rollback_of.as_deref() == Some(&d.id));
    v["updatedAt"] = json!(d.updated_at);
    v["targetServiceRevision"] = revision_summary(ecs, s, d);
    // The revisions that ran when this deployment started (service-revision ARNs, REFERENCE A7), as they are now.
    let sources: Vec<Value> = d
        .sources
        .iter()
        .filter_map(|id| s.deployments.iter().chain(s.finished.iter()).find(|x| &x.id == id))
        .map(|src| revision_summary(ecs, s, src))
        .collect();
    v["sourceServiceRevisions"] = json!(sources);
    v["deploymentConfiguration"] = s.deployment_configuration.clone();
    let (cb_enabled, _) = s.breaker();
    v["deploymentCircuitBreaker"] = json!({
        "status": if !cb_enabled { "DISABLED" } else if d.rollout_state == "FAILED" && d.triggered_alarms.is_empty() { "TRIGGERED" } else if d.finished_at.is_some() { "MONITORING_COMPLETE" } else { "MONITORING" },
        "failureCount": d.failed_tasks,
    });
    if let Some(a) = s.deployment_configuration.get("alarms") {
        v["alarms"] = json!({
            "status": if !d.triggered_alarms.is_empty() { "TRIGGERED" } else if d.finished_at.is_some() { "MONITORING_COMPLETE" } else { "MONITORING" },
            "alarmNames": a.get("alarmNames").cloned().unwrap_or(json!([])),
            "triggeredAlarmNames": d.triggered_alarms,
        });
    }
    if let Some(r) = rollback.or_else(|| s.finished.iter().find(|r| r.rollback_of.as_deref() == Some(&d.id))) {
        v["rollback"] = json!({
            "reason": d.sd_reason,
            "startedAt": r.created_at,
            "serviceRevisionArn": revision_arn(r),
        });
    }
    v["lifecycleStage"] = json!(if d.finished_at.is_some() { "CLEAN_UP" } else { "SCALE_UP" });
    super::native::describe_into(&mut v, s, d);
    v
}

pub fn describe(ecs: &mut EcsState, input: &Value) -> AwsResult<Value> {
    let arns = string_list(input, "serviceDeploymentArns");
    if arns.is_empty() || arns.len() > 20 {
        return Err(AwsError::invalid_parameter("serviceDeploymentArns must hold between 1 and 20 ARNs."));
    }
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for arn in &arns {
        match find(ecs, arn) {
            Some((s, d)) => found.push(detail(ecs, s, d)),
            None => failures.push(json!({"arn": arn, "reason": "MISSING", "detail": "Service deployment not found."})),
        }
    }
    Ok(json!({ "serviceDeployments": found, "failures": failures }))
}

pub fn stop(w: &mut World, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let arn = str_field(input, "serviceDeploymentArn")
        .ok_or_else(|| AwsError::invalid_parameter("serviceDeploymentArn is required."))?
        .to_owned();
    let stop_type = str_field(input, "stopType").unwrap_or("ROLLBACK");
    let Some((s, d)) = find(&w.ecs, &arn) else {
        return Err(AwsError::client("ServiceDeploymentNotFoundException", "The service deployment does not exist."));
    };
    if d.status != "PRIMARY" || d.rollout_state != "IN_PROGRESS" {
        return Err(AwsError::client("ConflictException", "The service deployment is not in progress."));
    }
    let (cluster, name) = (s.cluster.clone(), s.name.clone());
    let reason = format!("Service deployment stopped by user ({stop_type}).");
    if d.native.is_some() {
        // ECS-native blue/green: ROLLBACK (the documented type, ABORT alike) flips the traffic back to blue.
        if d.sd_status != "IN_PROGRESS" {
            return Err(AwsError::client("ConflictException", "The service deployment is not in progress."));
        }
        super::native::stop(w, ctx, &cluster, &name, &arn, reason)?;
        return Ok(json!({ "serviceDeploymentArn": arn }));
    }
    let s = w.ecs.service_mut(&cluster, &name).expect("found above");
    super::rollout::fail_primary(ctx, s, reason, "stopped by user", stop_type == "ROLLBACK");
    Ok(json!({ "serviceDeploymentArn": arn }))
}

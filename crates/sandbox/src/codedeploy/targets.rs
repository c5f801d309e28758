//! Deployment targets (REFERENCE 3.5): one ECS target per deployment, `<cluster>:<service>`, with its
//! lifecycle events and the blue/green task sets with their production traffic weights.

use serde_json::{Value, json};

use super::deployments::{Deployment, find};
use crate::ecs::EcsState;
use crate::{AwsError, AwsResult, World};

fn started(d: &Deployment) -> AwsResult<()> {
    if d.status == "Created" || d.status == "Queued" {
        return Err(AwsError::client(
            "DeploymentNotStartedException",
            format!("The deployment {} has not started.", d.id),
        ));
    }
    Ok(())
}

pub fn list(w: &mut World, input: &Value) -> AwsResult<Value> {
    let d = find(&w.codedeploy, input)?;
    started(d)?;
    let statuses: Vec<&str> = input
        .pointer("/targetFilters/TargetStatus")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let ids: Vec<String> = if statuses.is_empty() || statuses.contains(&d.target_status.as_str()) {
        vec![d.target_id()]
    } else {
        Vec::new()
    };
    Ok(json!({ "targetIds": ids }))
}

fn task_set_info(
    ecs: &EcsState,
    d: &Deployment,
    id: &Option<String>,
    label: &str,
    weight: f64,
    tg: &Option<String>,
) -> Option<Value> {
    let id = id.as_ref()?;
    let p = ecs.task_set_progress(&d.cluster, &d.service, id)?;
    let mut v = json!({
        "identifer": id,
        "desiredCount": p.desired,
        "pendingCount": p.pending,
        "runningCount": p.running,
        "status": p.status,
        "trafficWeight": weight,
        "taskSetLabel": label,
    });
    if let Some(name) = tg {
        v["targetGroup"] = json!({"name": name});
    }
    Some(v)
}

fn target_json(w: &World, d: &Deployment) -> Value {
    let events: Vec<Value> = d
        .events
        .iter()
        .map(|e| {
            let mut v = json!({"lifecycleEventName": e.name, "status": e.status});
            if let Some(s) = e.start {
                v["startTime"] = json!(s);
            }
            if let Some(s) = e.end {
                v["endTime"] = json!(s);
            }
            v
        })
        .collect();
    // A rollback deployment carries the original's task sets: its "green" is the one being removed.
    let weight = if d.rollback_of.is_some() { 0.0 } else { d.green_weight };
    let sets: Vec<Value> = [
        task_set_info(&w.ecs, d, &d.blue_task_set, "Blue", 100.0 - weight, &d.blue_target_group),
        task_set_info(&w.ecs, d, &d.green_task_set, "Green", weight, &d.green_target_group),
    ]
    .into_iter()
    .flatten()
    .collect();
    let target_arn = w.ecs.service(&d.cluster, &d.service).map(|s| s.arn.clone()).unwrap_or_default();
    json!({
        "deploymentTargetType": "ECSTarget",
        "ecsTarget": {
            "deploymentId": d.id,
            "targetId": d.target_id(),
            "targetArn": target_arn,
            "lastUpdatedAt": d.last_updated,
            "lifecycleEvents": events,
            "status": d.target_status,
            "taskSetsInfo": sets,
        }
    })
}

fn target(w: &World, d: &Deployment, target_id: &str) -> AwsResult<Value> {
    if target_id != d.target_id() {
        return Err(AwsError::client(
            "DeploymentTargetDoesNotExistException",
            format!("The target {target_id} does not exist in deployment {}.", d.id),
        ));
    }
    Ok(target_json(w, d))
}

pub fn get(w: &mut World, input: &Value) -> AwsResult<Value> {
    let d = find(&w.codedeploy, input)?;
    started(d)?;
    let id = super::required(
        input,
        "targetId",
        "DeploymentTargetIdRequiredException",
        "A deployment target ID was not provided.",
    )?;
    Ok(json!({ "deploymentTarget": target(w, d, id)? }))
}

pub fn batch_get(w: &mut World, input: &Value) -> AwsResult<Value> {
    let d = find(&w.codedeploy, input)?;
    started(d)?;
    let ids: Vec<&str> = input
        .get("targetIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ids.len() > 25 {
        return Err(AwsError::client(
            "DeploymentTargetListSizeExceededException",
            "At most 25 target IDs may be given.",
        ));
    }
    let targets = ids.iter().map(|id| target(w, d, id)).collect::<AwsResult<Vec<_>>>()?;
    Ok(json!({ "deploymentTargets": targets }))
}

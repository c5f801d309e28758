//! Invoking due schedules. An ECS target (`EcsParameters`, `Target.Arn` = the cluster) becomes a real RunTask in
//! the emulated ECS, with the target's `Input` as the task's overrides (TaskOverride JSON: REFERENCE A1 marks this
//! mapping as inferred; see README "Where it differs from AWS"). Other target kinds are recorded, not delivered.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::world::epoch_seconds;
use crate::{Ctx, World};

/// One invocation of a schedule, for `GET /_sandbox/scheduler` and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invocation {
    pub schedule_arn: String,
    /// Scaled-clock epoch seconds.
    pub at: f64,
    pub task_arns: Vec<String>,
    /// Why the target was not invoked, if it was not.
    pub error: Option<String>,
}

pub fn tick(w: &mut World, ctx: &Ctx) {
    let now = Timestamp::try_from(ctx.clock()).unwrap_or(Timestamp::UNIX_EPOCH);
    let due: Vec<(String, String)> = w
        .scheduler
        .schedules
        .iter()
        .filter(|(_, s)| s.enabled() && s.due.is_some_and(|d| d <= now))
        .map(|(k, _)| k.clone())
        .collect();
    for key in due {
        let Some(schedule) = w.scheduler.schedules.get(&key) else { continue };
        let (arn, target) = (schedule.arn.clone(), schedule.target().clone());
        let (task_arns, error) = match invoke(w, ctx, &target) {
            Ok(arns) => (arns, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        if let Some(e) = &error {
            tracing::warn!(schedule = %arn, "schedule invocation failed: {e}");
        }
        w.scheduler.invocations.push(Invocation {
            schedule_arn: arn,
            at: epoch_seconds(ctx.clock()),
            task_arns,
            error,
        });
        let Some(schedule) = w.scheduler.schedules.get_mut(&key) else { continue };
        schedule.advance(now);
        // The last invocation is done: a one-time schedule, or a recurring one past its EndDate.
        if schedule.next.is_none() && schedule.deletes_after_completion() {
            w.scheduler.schedules.remove(&key);
        }
    }
}

/// Delivers one invocation; the ARNs of the tasks it started.
fn invoke(w: &mut World, ctx: &Ctx, target: &Value) -> Result<Vec<String>, String> {
    let Some(ecs) = target.get("EcsParameters") else {
        return Err("only ECS RunTask targets are delivered by pipeline-sandbox".into());
    };
    let input = run_task_input(target, ecs)?;
    let out = crate::ecs::handle(w, ctx, "RunTask", &input).map_err(|e| e.to_string())?;
    Ok(out["tasks"].as_array().into_iter().flatten().filter_map(|t| t["taskArn"].as_str().map(str::to_owned)).collect())
}

/// The RunTask request an ECS target stands for: EcsParameters' members in ECS's own (camelCase) names.
fn run_task_input(target: &Value, ecs: &Value) -> Result<Value, String> {
    let mut input = Map::new();
    input.insert("cluster".into(), target["Arn"].clone());
    input.insert("taskDefinition".into(), ecs["TaskDefinitionArn"].clone());
    input.insert("count".into(), ecs.get("TaskCount").cloned().unwrap_or(json!(1)));
    let renames = [
        ("LaunchType", "launchType"),
        ("CapacityProviderStrategy", "capacityProviderStrategy"),
        ("PlatformVersion", "platformVersion"),
        ("Group", "group"),
        ("EnableECSManagedTags", "enableECSManagedTags"),
        ("EnableExecuteCommand", "enableExecuteCommand"),
        ("PropagateTags", "propagateTags"),
        ("ReferenceId", "referenceId"),
        ("PlacementConstraints", "placementConstraints"),
        ("PlacementStrategy", "placementStrategy"),
    ];
    for (from, to) in renames {
        if let Some(v) = ecs.get(from) {
            input.insert(to.into(), v.clone());
        }
    }
    if let Some(vpc) = ecs.get("NetworkConfiguration").and_then(|n| n.get("awsvpcConfiguration")) {
        let mut awsvpc = json!({ "subnets": vpc.get("Subnets").cloned().unwrap_or(json!([])) });
        if let Some(groups) = vpc.get("SecurityGroups") {
            awsvpc["securityGroups"] = groups.clone();
        }
        if let Some(public) = vpc.get("AssignPublicIp") {
            awsvpc["assignPublicIp"] = public.clone();
        }
        input.insert("networkConfiguration".into(), json!({ "awsvpcConfiguration": awsvpc }));
    }
    // Scheduler's tags are a list of one-entry maps; ECS's are `{key, value}` pairs.
    if let Some(tags) = ecs.get("Tags").and_then(Value::as_array) {
        let pairs: Vec<Value> = tags
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter().map(|(k, v)| json!({ "key": k, "value": v })))
            .collect();
        input.insert("tags".into(), json!(pairs));
    }
    if let Some(text) = target.get("Input").and_then(Value::as_str) {
        let overrides: Value =
            serde_json::from_str(text).map_err(|e| format!("the target's Input is not TaskOverride JSON: {e}"))?;
        if !overrides.is_object() {
            return Err("the target's Input is not a TaskOverride object".into());
        }
        input.insert("overrides".into(), overrides);
    }
    Ok(Value::Object(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ecs_target_is_a_run_task_request_in_ecs_names() {
        let target = json!({
            "Arn": "arn:aws:ecs:us-east-1:000000000000:cluster/jobs",
            "RoleArn": "arn:aws:iam::000000000000:role/scheduler",
            "Input": "{\"containerOverrides\":[{\"name\":\"job\",\"environment\":[{\"name\":\"A\",\"value\":\"x y\"}]}]}",
            "EcsParameters": {
                "TaskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/job:3",
                "LaunchType": "FARGATE",
                "NetworkConfiguration": { "awsvpcConfiguration": { "Subnets": ["subnet-a"], "AssignPublicIp": "DISABLED" } },
                "Tags": [{ "team": "data" }],
            },
        });
        let input = run_task_input(&target, &target["EcsParameters"]).unwrap();
        assert_eq!(input["cluster"], target["Arn"]);
        assert_eq!(input["count"], 1);
        assert_eq!(input["launchType"], "FARGATE");
        assert_eq!(input["networkConfiguration"]["awsvpcConfiguration"]["subnets"], json!(["subnet-a"]));
        assert_eq!(input["tags"], json!([{ "key": "team", "value": "data" }]));
        assert_eq!(input["overrides"]["containerOverrides"][0]["environment"][0]["value"], "x y");
        let mut bad = target.clone();
        bad["Input"] = json!("not json");
        assert!(run_task_input(&bad, &bad["EcsParameters"]).is_err());
    }
}

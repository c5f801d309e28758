//! Deployments (REFERENCE 3.2, 3.4, 3.6, 3.7): CreateDeployment, GetDeployment, ListDeployments,
//! StopDeployment, ContinueDeployment. The lifecycle itself runs in `lifecycle.rs`.

use std::time::Instant;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::appspec::{self, AppSpec};
use super::groups::{Routing, find_group};
use super::{CodeDeployState, required, str_field};
use crate::world::now_epoch;
use crate::{AwsError, AwsResult, Ctx, World};

/// The ECS blue/green lifecycle events, in order (REFERENCE 3.2).
pub const EVENTS: [&str; 8] = [
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
];

#[derive(Debug, Clone)]
pub struct LifecycleEvent {
    pub name: &'static str,
    pub status: &'static str,
    pub start: Option<f64>,
    pub end: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    pub application: String,
    pub group: String,
    pub config_name: String,
    pub routing: Routing,
    pub status: String,
    pub error: Option<(String, String)>,
    pub create_time: f64,
    pub start_time: Option<f64>,
    pub complete_time: Option<f64>,
    pub creator: String,
    pub description: Option<String>,
    pub revision: Value,
    pub previous_revision: Option<Value>,
    pub appspec: AppSpec,
    pub auto_rollback: Value,
    pub override_alarms: Option<Value>,
    pub group_alarms: Value,
    pub deployment_style: Value,
    pub blue_green: Value,
    pub load_balancer_info: Value,
    pub rollback_info: Map<String, Value>,
    pub cluster: String,
    pub service: String,
    pub events: Vec<LifecycleEvent>,
    /// Index into `events`; `events.len()` = waiting for the original task set's termination.
    pub stage: usize,
    /// When the current step is due (wall clock).
    pub wait_until: Option<Instant>,
    pub blue_task_set: Option<String>,
    pub green_task_set: Option<String>,
    pub blue_target_group: Option<String>,
    pub green_target_group: Option<String>,
    /// Production traffic on the replacement (green) task set, in percent.
    pub green_weight: f64,
    /// AllowTraffic has started moving production traffic.
    pub shifting: bool,
    pub ready_continued: bool,
    pub termination_started: bool,
    pub skip_termination_wait: bool,
    pub target_status: String,
    pub last_updated: f64,
    /// Set on rollback deployments: the deployment being rolled back.
    pub rollback_of: Option<String>,
}

impl Deployment {
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "Created" | "Queued" | "InProgress" | "Ready" | "Baking")
    }

    /// Whether the effective auto-rollback configuration covers `event` (DEPLOYMENT_FAILURE, ...).
    pub fn rolls_back_on(&self, event: &str) -> bool {
        self.auto_rollback.get("enabled").and_then(Value::as_bool).unwrap_or(false)
            && self.auto_rollback.get("events").and_then(Value::as_array).is_some_and(|e| e.iter().any(|x| x == event))
    }

    /// Alarm names to watch: the deployment's override if given, else the group's (when enabled).
    pub fn alarms(&self) -> Vec<String> {
        let config = self.override_alarms.as_ref().unwrap_or(&self.group_alarms);
        if !config.get("enabled").and_then(Value::as_bool).unwrap_or(false) {
            return Vec::new();
        }
        config
            .get("alarms")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| str_field(x, "name")).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    pub fn target_id(&self) -> String {
        format!("{}:{}", self.cluster, self.service)
    }

    pub fn event_mut(&mut self, name: &str) -> Option<&mut LifecycleEvent> {
        self.events.iter_mut().find(|e| e.name == name)
    }
}

/// `d-` and nine upper-case letters or digits.
fn new_id(cd: &CodeDeployState) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    loop {
        let s: String = (0..9).map(|_| CHARS[rand::random_range(0..CHARS.len())] as char).collect();
        let id = format!("d-{s}");
        if !cd.deployments.contains_key(&id) {
            return id;
        }
    }
}

fn pending_events() -> Vec<LifecycleEvent> {
    EVENTS.iter().map(|n| LifecycleEvent { name: n, status: "Pending", start: None, end: None }).collect()
}

fn not_found(id: &str) -> AwsError {
    AwsError::client("DeploymentDoesNotExistException", format!("The deployment {id} could not be found."))
}

pub fn find<'a>(cd: &'a CodeDeployState, input: &Value) -> AwsResult<&'a Deployment> {
    let id = required(input, "deploymentId", "DeploymentIdRequiredException", "The deployment ID was not specified.")?;
    cd.deployments.get(id).ok_or_else(|| not_found(id))
}

pub fn create(w: &mut World, _ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cd = &w.codedeploy;
    let app = required(input, "applicationName", "ApplicationNameRequiredException", "Application name is required.")?;
    if !cd.applications.contains_key(app) {
        return Err(AwsError::client(
            "ApplicationDoesNotExistException",
            format!("No application found for name: {app}"),
        ));
    }
    let group_name = required(
        input,
        "deploymentGroupName",
        "DeploymentGroupNameRequiredException",
        "Deployment group name is required.",
    )?;
    let group = find_group(cd, app, group_name)?.clone();
    let revision = input
        .get("revision")
        .filter(|r| r.is_object())
        .ok_or_else(|| AwsError::client("RevisionRequiredException", "The revision ID was not specified."))?;
    if str_field(revision, "revisionType") != Some("AppSpecContent") {
        return Err(AwsError::client(
            "InvalidRevisionException",
            "ECS deployments in pipeline-sandbox take revisionType AppSpecContent.",
        ));
    }
    let content = revision.pointer("/appSpecContent/content").and_then(Value::as_str).unwrap_or_default();
    if let Some(sha) = revision.pointer("/appSpecContent/sha256").and_then(Value::as_str).filter(|s| !s.is_empty())
        && !sha.eq_ignore_ascii_case(&hex::encode(Sha256::digest(content.as_bytes())))
    {
        return Err(AwsError::client("InvalidRevisionException", "The sha256 of the AppSpec content does not match."));
    }
    let appspec = appspec::parse(content)?;
    let config_name =
        str_field(input, "deploymentConfigName").map(str::to_owned).unwrap_or_else(|| group.config_name());
    let routing = cd.routing(&config_name).ok_or_else(|| {
        AwsError::client(
            "DeploymentConfigDoesNotExistException",
            format!("No deployment configuration found for name: {config_name}"),
        )
    })?;
    if let Some(active) =
        cd.deployments.values().find(|d| d.application == app && d.group == group_name && d.is_active())
    {
        return Err(AwsError::client(
            "DeploymentLimitExceededException",
            format!("The Deployment Group '{group_name}' already has an active Deployment '{}'", active.id),
        ));
    }
    let ecs_service = group.body.get("ecsServices").and_then(|s| s.get(0)).cloned().unwrap_or(Value::Null);
    let (cluster, service) = (
        str_field(&ecs_service, "clusterName").unwrap_or("default").to_owned(),
        str_field(&ecs_service, "serviceName").unwrap_or_default().to_owned(),
    );
    let tgs = group.target_groups();
    let blue_tg = tgs.get(group.blue_target_group).cloned();
    let green_tg = tgs.get(1 - group.blue_target_group.min(1)).cloned();
    let previous_revision = group
        .last_successful
        .as_ref()
        .and_then(|l| l.get("deploymentId"))
        .and_then(Value::as_str)
        .and_then(|id| cd.deployments.get(id))
        .map(|d| d.revision.clone());
    let id = new_id(cd);
    let now = now_epoch();
    let deployment = Deployment {
        id: id.clone(),
        application: app.to_owned(),
        group: group_name.to_owned(),
        config_name,
        routing,
        status: "Created".into(),
        error: None,
        create_time: now,
        start_time: None,
        complete_time: None,
        creator: "user".into(),
        description: str_field(input, "description").map(str::to_owned),
        revision: revision.clone(),
        previous_revision,
        appspec,
        auto_rollback: input
            .get("autoRollbackConfiguration")
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| group.get("autoRollbackConfiguration")),
        override_alarms: input.get("overrideAlarmConfiguration").filter(|v| v.is_object()).cloned(),
        group_alarms: group.get("alarmConfiguration"),
        deployment_style: group.get("deploymentStyle"),
        blue_green: group.get("blueGreenDeploymentConfiguration"),
        load_balancer_info: group.get("loadBalancerInfo"),
        rollback_info: Map::new(),
        cluster,
        service,
        events: pending_events(),
        stage: 0,
        wait_until: None,
        blue_task_set: None,
        green_task_set: None,
        blue_target_group: blue_tg,
        green_target_group: green_tg,
        green_weight: 0.0,
        shifting: false,
        ready_continued: false,
        termination_started: false,
        skip_termination_wait: false,
        target_status: "Pending".into(),
        last_updated: now,
        rollback_of: None,
    };
    w.codedeploy.deployments.insert(id.clone(), deployment);
    w.codedeploy.order.push(id.clone());
    if let Some(g) = w.codedeploy.groups.get_mut(&(app.to_owned(), group_name.to_owned())) {
        g.last_attempted = Some(json!({"deploymentId": id, "status": "Created", "createTime": now}));
    }
    Ok(json!({ "deploymentId": id }))
}

/// A rollback deployment (creator `codeDeployRollback`) for `original`, sharing its target.
pub fn rollback_deployment(cd: &CodeDeployState, original: &Deployment, message: &str) -> Deployment {
    let now = now_epoch();
    let mut r = original.clone();
    r.id = new_id(cd);
    r.creator = "codeDeployRollback".into();
    r.status = "InProgress".into();
    r.error = None;
    r.create_time = now;
    r.start_time = Some(now);
    r.complete_time = None;
    r.description = Some(format!("Rollback of deployment {}", original.id));
    r.revision = original.previous_revision.clone().unwrap_or_else(|| original.revision.clone());
    r.previous_revision = Some(original.revision.clone());
    r.rollback_info = Map::new();
    r.rollback_info.insert("rollbackTriggeringDeploymentId".into(), json!(original.id));
    r.rollback_info.insert("rollbackMessage".into(), json!(message));
    // Traffic goes straight back to the original task set: only the traffic events run.
    r.events = pending_events();
    for e in r.events.iter_mut().take(5) {
        e.status = "Skipped";
    }
    r.stage = 5;
    r.wait_until = None;
    r.green_weight = 0.0;
    r.shifting = false;
    r.termination_started = false;
    r.target_status = "InProgress".into();
    r.last_updated = now;
    r.rollback_of = Some(original.id.clone());
    r
}

pub fn info_json(cd: &CodeDeployState, d: &Deployment) -> Value {
    let count = |s: &str| if d.target_status == s { 1 } else { 0 };
    let mut v = json!({
        "applicationName": d.application,
        "deploymentGroupName": d.group,
        "deploymentConfigName": d.config_name,
        "deploymentId": d.id,
        "revision": d.revision,
        "status": d.status,
        "createTime": d.create_time,
        "creator": d.creator,
        "ignoreApplicationStopFailures": false,
        "autoRollbackConfiguration": d.auto_rollback,
        "updateOutdatedInstancesOnly": false,
        "deploymentStyle": d.deployment_style,
        "blueGreenDeploymentConfiguration": d.blue_green,
        "loadBalancerInfo": d.load_balancer_info,
        "instanceTerminationWaitTimeStarted": d.termination_started,
        "deploymentStatusMessages": [],
        "computePlatform": "ECS",
        "deploymentOverview": {
            "Pending": count("Pending"), "InProgress": count("InProgress"), "Succeeded": count("Succeeded"),
            "Failed": count("Failed"), "Skipped": count("Skipped"), "Ready": count("Ready"),
        },
    });
    let mut put = |k: &str, x: Option<Value>| {
        if let Some(x) = x {
            v[k] = x;
        }
    };
    put("startTime", d.start_time.map(|t| json!(t)));
    put("completeTime", d.complete_time.map(|t| json!(t)));
    put("description", d.description.as_ref().map(|t| json!(t)));
    put("previousRevision", d.previous_revision.clone());
    put("errorInformation", d.error.as_ref().map(|(c, m)| json!({"code": c, "message": m})));
    put("rollbackInfo", (!d.rollback_info.is_empty()).then(|| Value::Object(d.rollback_info.clone())));
    put("overrideAlarmConfiguration", d.override_alarms.clone());
    let _ = cd;
    v
}

pub fn get(w: &mut World, input: &Value) -> AwsResult<Value> {
    let d = find(&w.codedeploy, input)?;
    Ok(json!({ "deploymentInfo": info_json(&w.codedeploy, d) }))
}

pub fn batch_get(w: &mut World, input: &Value) -> AwsResult<Value> {
    let ids = input.get("deploymentIds").and_then(Value::as_array).cloned().unwrap_or_default();
    let infos: Vec<Value> = ids
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|id| w.codedeploy.deployments.get(id))
        .map(|d| info_json(&w.codedeploy, d))
        .collect();
    Ok(json!({ "deploymentsInfo": infos }))
}

pub fn list(w: &mut World, input: &Value) -> AwsResult<Value> {
    let cd = &w.codedeploy;
    let app = str_field(input, "applicationName");
    let group = str_field(input, "deploymentGroupName");
    if let Some(a) = app {
        if !cd.applications.contains_key(a) {
            return Err(AwsError::client(
                "ApplicationDoesNotExistException",
                format!("No application found for name: {a}"),
            ));
        }
        if let Some(g) = group {
            find_group(cd, a, g)?;
        }
    }
    let statuses: Vec<&str> = input
        .get("includeOnlyStatuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let start = input.pointer("/createTimeRange/start").and_then(Value::as_f64);
    let end = input.pointer("/createTimeRange/end").and_then(Value::as_f64);
    let ids: Vec<&String> = cd
        .order
        .iter()
        .rev()
        .filter_map(|id| cd.deployments.get(id))
        .filter(|d| app.is_none_or(|a| d.application == a) && group.is_none_or(|g| d.group == g))
        .filter(|d| statuses.is_empty() || statuses.contains(&d.status.as_str()))
        .filter(|d| start.is_none_or(|s| d.create_time >= s) && end.is_none_or(|e| d.create_time <= e))
        .map(|d| &d.id)
        .collect();
    Ok(json!({ "deployments": ids }))
}

pub fn stop(w: &mut World, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let d = find(&w.codedeploy, input)?;
    if !d.is_active() {
        return Err(AwsError::client(
            "DeploymentAlreadyCompletedException",
            format!("The deployment {} has already completed.", d.id),
        ));
    }
    let id = d.id.clone();
    let rollback = match input.get("autoRollbackEnabled").and_then(Value::as_bool) {
        Some(r) => r,
        None => d.rolls_back_on("DEPLOYMENT_STOP_ON_REQUEST"),
    };
    let message = "The deployment was stopped by the user.".to_owned();
    let rolled = super::lifecycle::end(w, ctx, &id, "Stopped", "MANUAL_STOP", &message, rollback);
    let status_message = match rolled {
        Some(r) => {
            format!("Deployment {id} stopped; rollback deployment {r} returns traffic to the original task set.")
        }
        None => format!("Deployment {id} stopped."),
    };
    Ok(json!({ "status": "Succeeded", "statusMessage": status_message }))
}

pub fn continue_deployment(w: &mut World, _ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let d = find(&w.codedeploy, input)?;
    if !d.is_active() {
        return Err(AwsError::client(
            "DeploymentAlreadyCompletedException",
            format!("The deployment {} has already completed.", d.id),
        ));
    }
    let id = d.id.clone();
    let d = w.codedeploy.deployments.get_mut(&id).expect("found above");
    match str_field(input, "deploymentWaitType").unwrap_or("READY_WAIT") {
        "READY_WAIT" if d.status == "Ready" => d.ready_continued = true,
        "READY_WAIT" => {
            return Err(AwsError::client(
                "DeploymentIsNotInReadyStateException",
                format!("The deployment {id} is not in a ready state."),
            ));
        }
        "TERMINATION_WAIT" if d.termination_started => d.skip_termination_wait = true,
        "TERMINATION_WAIT" => {
            return Err(AwsError::client(
                "DeploymentIsNotInReadyStateException",
                format!("The deployment {id} is not waiting for the original task set's termination."),
            ));
        }
        other => {
            return Err(AwsError::client(
                "InvalidDeploymentWaitTypeException",
                format!("Unknown deploymentWaitType {other}."),
            ));
        }
    }
    Ok(json!({}))
}

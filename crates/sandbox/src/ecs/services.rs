//! Services (REFERENCE 2.2-2.5): CreateService/DescribeServices/UpdateService/DeleteService/ListServices.
//! The rollout itself happens in `rollout.rs`; here requests only change desired state.

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::{Value, json};

use super::{EcsState, last_segment, new_deployment_id, paginate, str_field, string_list, with_token};
use crate::{AwsError, AwsResult, Ctx, World};

/// ECS's quota of tasks per service; also keeps a typo from launching a billion simulated tasks.
const MAX_DESIRED_COUNT: u64 = 5000;

fn desired_count(input: &Value) -> AwsResult<Option<u32>> {
    match input.get("desiredCount").and_then(Value::as_i64) {
        None => Ok(None),
        Some(n) if (0..=MAX_DESIRED_COUNT as i64).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(AwsError::invalid_parameter(format!(
            "desiredCount {n} is outside 0..={MAX_DESIRED_COUNT} (the tasks-per-service quota)."
        ))),
    }
}

/// Most deployments a service may have at once (REFERENCE 0.7, 2.9).
pub const MAX_DEPLOYMENTS: usize = 5;

#[derive(Debug, Clone)]
pub struct TaskSetInfo {
    pub arn: String,
    pub external_id: Option<String>,
    pub started_by: String,
    /// Percent of the service's desired count this task set runs.
    pub scale: f64,
    /// The target group (name or ARN) its tasks register in, when not the service's own (CodeDeploy's green
    /// task set); `None` = the service's `loadBalancers`.
    pub target_group: Option<String>,
}

/// One entry of `deployments[]` (ECS controller) or one task set (CODE_DEPLOY controller).
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    /// The service-deployment ARN of REFERENCE 2.7.
    pub arn: String,
    /// `PRIMARY`, `ACTIVE`, or `DRAINING` (task sets being removed).
    pub status: String,
    pub task_definition: String,
    /// Task definition the service ran before this deployment (what a rollback returns to).
    pub previous_task_definition: Option<String>,
    /// Ids of the deployments that were running when this one started: its `sourceServiceRevisions`.
    pub sources: Vec<String>,
    /// How many tasks the scheduler keeps for this deployment right now.
    pub target: u32,
    pub failed_tasks: u32,
    pub rollout_state: String,
    pub rollout_reason: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub launch_type: Option<String>,
    pub network_configuration: Value,
    pub platform_version: Option<String>,
    /// ServiceDeployment status (REFERENCE 2.7): IN_PROGRESS, SUCCESSFUL, ROLLBACK_*, STOPPED...
    pub sd_status: String,
    pub sd_reason: Option<String>,
    pub finished_at: Option<f64>,
    /// A circuit-breaker/alarm rollback deployment names the deployment it rolls back.
    pub rollback_of: Option<String>,
    /// Set when the deployment failed without rollback: the scheduler stops launching for it.
    pub halted: bool,
    /// With deployment alarms, the rollout bakes after reaching steady state before it is COMPLETED.
    pub bake_until: Option<Instant>,
    pub triggered_alarms: Vec<String>,
    pub task_set: Option<TaskSetInfo>,
    /// ECS-native blue/green: the target group this deployment's tasks register in (blue's or green's).
    pub target_group: Option<String>,
    /// ECS-native blue/green, linear or canary: the lifecycle of this deployment (`native.rs`).
    pub native: Option<super::native::Native>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub arn: String,
    pub cluster: String,
    pub cluster_arn: String,
    pub status: String,
    pub task_definition: String,
    pub desired_count: u32,
    pub controller: String,
    pub deployment_configuration: Value,
    pub load_balancers: Value,
    pub network_configuration: Value,
    pub launch_type: Option<String>,
    pub platform_version: Option<String>,
    /// Input members echoed back as given (placement, propagateTags, ...).
    pub extra: serde_json::Map<String, Value>,
    pub tags: Vec<Value>,
    pub created_at: f64,
    pub deployments: Vec<Deployment>,
    /// Deployments no longer in `deployments[]`, for ListServiceDeployments.
    pub finished: Vec<Deployment>,
    pub events: VecDeque<Value>,
}

impl Service {
    pub fn event(&mut self, message: String) {
        let message = format!("(service {}) {message}", self.name);
        self.events.push_front(json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "createdAt": super::now(),
            "message": message,
        }));
        self.events.truncate(100);
    }

    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    pub fn breaker(&self) -> (bool, bool) {
        let cb = self.deployment_configuration.get("deploymentCircuitBreaker");
        let flag = |k: &str| cb.and_then(|c| c.get(k)).and_then(Value::as_bool).unwrap_or(false);
        (flag("enable"), flag("rollback"))
    }

    /// Creates a deployment of `task_definition` for this service and makes it PRIMARY.
    pub fn new_deployment(&mut self, ctx: &Ctx, task_definition: &str, rollback_of: Option<String>) -> String {
        let id = new_deployment_id();
        let now = super::now();
        // A rollback is not rolled back in turn: if it fails too, the service stays failed (ROLLBACK_FAILED).
        let previous = self.primary().map(|p| p.task_definition.clone()).filter(|_| rollback_of.is_none());
        let sources = self.deployments.iter().filter(|d| d.status != "DRAINING").map(|d| d.id.clone()).collect();
        for d in &mut self.deployments {
            if d.status == "PRIMARY" {
                d.status = "ACTIVE".into();
                d.updated_at = now;
            }
        }
        let suffix = id.trim_start_matches("ecs-svc/");
        let reason = match &rollback_of {
            Some(failed) => format!("ECS deployment circuit breaker: rolling back to deploymentId {failed}."),
            None => format!("ECS deployment {id} in progress."),
        };
        self.deployments.insert(
            0,
            Deployment {
                id: id.clone(),
                arn: ctx.arn("ecs", &format!("service-deployment/{}/{}/{suffix}", self.cluster, self.name)),
                status: "PRIMARY".into(),
                task_definition: task_definition.to_owned(),
                previous_task_definition: previous,
                sources,
                target: 0,
                failed_tasks: 0,
                rollout_state: "IN_PROGRESS".into(),
                rollout_reason: reason,
                created_at: now,
                updated_at: now,
                launch_type: self.launch_type.clone(),
                network_configuration: self.network_configuration.clone(),
                platform_version: self.platform_version.clone(),
                sd_status: "IN_PROGRESS".into(),
                sd_reason: None,
                finished_at: None,
                rollback_of,
                halted: false,
                bake_until: None,
                triggered_alarms: Vec::new(),
                task_set: None,
                target_group: None,
                native: None,
            },
        );
        self.task_definition = task_definition.to_owned();
        id
    }

    pub fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }
}

fn default_deployment_configuration(given: Option<&Value>) -> Value {
    let mut c = given.cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    if let Some(o) = c.as_object_mut() {
        o.retain(|_, v| !v.is_null());
        o.entry("maximumPercent").or_insert(json!(200));
        o.entry("minimumHealthyPercent").or_insert(json!(100));
        o.entry("deploymentCircuitBreaker").or_insert(json!({"enable": false, "rollback": false}));
    }
    c
}

/// Resolves a task definition reference for a service, with the errors ECS gives.
fn service_task_definition(ecs: &EcsState, reference: &str) -> AwsResult<String> {
    let td = ecs
        .task_definition(reference)
        .ok_or_else(|| AwsError::client("ClientException", "TaskDefinition not found."))?;
    if td.status() != "ACTIVE" {
        return Err(AwsError::client("ClientException", "TaskDefinition is inactive"));
    }
    Ok(td.arn.clone())
}

const ECHOED: &[&str] = &[
    "placementConstraints",
    "placementStrategy",
    "healthCheckGracePeriodSeconds",
    "schedulingStrategy",
    "enableECSManagedTags",
    "propagateTags",
    "enableExecuteCommand",
    "serviceRegistries",
    "role",
    "capacityProviderStrategy",
    "availabilityZoneRebalancing",
];

pub fn create(w: &mut World, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let ecs = &mut w.ecs;
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let name =
        str_field(input, "serviceName").ok_or_else(|| AwsError::invalid_parameter("serviceName is required."))?;
    if ecs.service(&cluster, name).is_some_and(|s| s.status != "INACTIVE") {
        return Err(AwsError::invalid_parameter("Creation of service was not idempotent."));
    }
    let controller = input.pointer("/deploymentController/type").and_then(Value::as_str).unwrap_or("ECS").to_owned();
    if !matches!(controller.as_str(), "ECS" | "CODE_DEPLOY") {
        return Err(AwsError::client(
            "UnsupportedFeatureException",
            format!("pipeline-sandbox does not emulate the {controller} deployment controller."),
        ));
    }
    let td_ref = str_field(input, "taskDefinition")
        .ok_or_else(|| AwsError::invalid_parameter("TaskDefinition must be specified."))?;
    let td = service_task_definition(ecs, td_ref)?;
    let desired = desired_count(input)?.unwrap_or(0);
    let load_balancers = input.get("loadBalancers").cloned().filter(|v| v.is_array()).unwrap_or_else(|| json!([]));
    let deployment_configuration = default_deployment_configuration(input.get("deploymentConfiguration"));
    super::native::validate(&deployment_configuration, &load_balancers)?;
    if controller == "CODE_DEPLOY" && load_balancers.as_array().is_none_or(Vec::is_empty) {
        // CodeDeploy blue/green shifts traffic between target groups, so it needs a load balancer.
        return Err(AwsError::invalid_parameter(
            "A load balancer is required for services with a CODE_DEPLOY deployment controller.",
        ));
    }
    let mut extra = serde_json::Map::new();
    for k in ECHOED {
        if let Some(v) = input.get(*k).filter(|v| !v.is_null()) {
            extra.insert((*k).into(), v.clone());
        }
    }
    extra.entry("schedulingStrategy").or_insert(json!("REPLICA"));
    let cluster_arn = ecs.clusters[&cluster].arn.clone();
    let mut service = Service {
        name: name.to_owned(),
        arn: ctx.arn("ecs", &format!("service/{cluster}/{name}")),
        cluster: cluster.clone(),
        cluster_arn,
        status: "ACTIVE".into(),
        task_definition: td.clone(),
        desired_count: desired,
        controller: controller.clone(),
        deployment_configuration,
        load_balancers,
        network_configuration: input.get("networkConfiguration").cloned().unwrap_or(Value::Null),
        launch_type: str_field(input, "launchType").map(str::to_owned),
        platform_version: str_field(input, "platformVersion").map(str::to_owned),
        extra,
        tags: input.get("tags").and_then(Value::as_array).cloned().unwrap_or_default(),
        created_at: super::now(),
        deployments: Vec::new(),
        finished: Vec::new(),
        events: VecDeque::new(),
    };
    if controller == "CODE_DEPLOY" {
        super::task_sets::add_task_set(&mut service, ctx, &td, None, true);
    } else {
        let id = service.new_deployment(ctx, &td, None);
        // The first tasks of an ECS-native service serve from its own target group.
        let tg = super::native::initial_target_group(&service);
        if let Some(d) = service.deployment_mut(&id) {
            d.target_group = tg;
        }
    }
    let out = service_json(ecs, &service, true);
    ecs.clusters.get_mut(&cluster).expect("resolved").services.insert(name.to_owned(), service);
    Ok(json!({ "service": out }))
}

fn deployment_json(ecs: &EcsState, s: &Service, d: &Deployment) -> Value {
    let (pending, running) = super::rollout::counts(ecs, s, &d.id);
    let mut v = json!({
        "id": d.id,
        "status": d.status,
        "taskDefinition": d.task_definition,
        "desiredCount": d.target,
        "pendingCount": pending,
        "runningCount": running,
        "failedTasks": d.failed_tasks,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
    });
    if s.controller == "ECS" {
        v["rolloutState"] = json!(d.rollout_state);
        v["rolloutStateReason"] = json!(d.rollout_reason);
        if d.status == "PRIMARY" {
            v["desiredCount"] = json!(s.desired_count);
        }
    }
    if let Some(l) = &d.launch_type {
        v["launchType"] = json!(l);
    }
    if let Some(p) = &d.platform_version {
        v["platformVersion"] = json!(p);
    }
    if !d.network_configuration.is_null() {
        v["networkConfiguration"] = d.network_configuration.clone();
    }
    v
}

pub fn service_json(ecs: &EcsState, s: &Service, with_tags: bool) -> Value {
    let deployments: Vec<Value> = s.deployments.iter().map(|d| deployment_json(ecs, s, d)).collect();
    let (mut pending, mut running) = (0, 0);
    for d in &s.deployments {
        let (p, r) = super::rollout::counts(ecs, s, &d.id);
        pending += p;
        running += r;
    }
    let mut v = json!({
        "serviceArn": s.arn,
        "serviceName": s.name,
        "clusterArn": s.cluster_arn,
        "loadBalancers": s.load_balancers,
        "status": s.status,
        "desiredCount": s.desired_count,
        "runningCount": running,
        "pendingCount": pending,
        "taskDefinition": s.task_definition,
        "deploymentConfiguration": s.deployment_configuration,
        "deployments": deployments,
        "events": s.events,
        "createdAt": s.created_at,
        "createdBy": format!("arn:aws:iam::{}:user/sandbox", s.arn.split(':').nth(4).unwrap_or_default()),
        "deploymentController": {"type": s.controller},
    });
    for (k, x) in &s.extra {
        v[k] = x.clone();
    }
    if let Some(l) = &s.launch_type {
        v["launchType"] = json!(l);
    }
    if let Some(p) = &s.platform_version {
        v["platformVersion"] = json!(p);
    }
    if !s.network_configuration.is_null() {
        v["networkConfiguration"] = s.network_configuration.clone();
    }
    if s.controller == "CODE_DEPLOY" {
        v["taskSets"] =
            json!(s.deployments.iter().map(|d| super::task_sets::task_set_json(ecs, s, d)).collect::<Vec<_>>());
    } else if let Some(p) = s.primary() {
        v["currentServiceDeployment"] = json!(p.arn);
    }
    if with_tags {
        v["tags"] = json!(s.tags);
    }
    v
}

pub fn describe(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let names = string_list(input, "services");
    if names.is_empty() || names.len() > 10 {
        return Err(AwsError::invalid_parameter("services must contain between 1 and 10 service names or ARNs."));
    }
    let with_tags = string_list(input, "include").iter().any(|i| i == "TAGS");
    let (mut services, mut failures) = (Vec::new(), Vec::new());
    for n in &names {
        match ecs.service(&cluster, last_segment(n)) {
            Some(s) => services.push(service_json(ecs, s, with_tags)),
            None => {
                let arn =
                    if n.starts_with("arn:") { n.clone() } else { ctx.arn("ecs", &format!("service/{cluster}/{n}")) };
                failures.push(json!({"arn": arn, "reason": "MISSING"}));
            }
        }
    }
    Ok(json!({ "services": services, "failures": failures }))
}

fn code_deploy_refusal(what: &str) -> AwsError {
    AwsError::invalid_parameter(format!(
        "Unable to update {what} on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."
    ))
}

pub fn update(w: &mut World, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let ecs = &mut w.ecs;
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let name = str_field(input, "service").ok_or_else(|| AwsError::invalid_parameter("service is required."))?;
    let name = last_segment(name).to_owned();
    let s = ecs
        .service(&cluster, &name)
        .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
    if s.status != "ACTIVE" {
        return Err(AwsError::client("ServiceNotActiveException", "Service was not ACTIVE."));
    }
    let new_td = match str_field(input, "taskDefinition") {
        Some(r) => Some(service_task_definition(ecs, r)?),
        None => None,
    };
    let s = ecs.service_mut(&cluster, &name).expect("checked above");
    let force = input.get("forceNewDeployment").and_then(Value::as_bool).unwrap_or(false);
    let network = input.get("networkConfiguration").filter(|v| !v.is_null());
    let lbs = input.get("loadBalancers").filter(|v| !v.is_null());
    let platform = str_field(input, "platformVersion");
    let controller = input.pointer("/deploymentController/type").and_then(Value::as_str);

    if s.controller == "CODE_DEPLOY" && controller.is_none_or(|c| c == "CODE_DEPLOY") {
        if new_td.as_ref().is_some_and(|td| *td != s.task_definition) {
            return Err(code_deploy_refusal("task definition"));
        }
        if network.is_some_and(|n| *n != s.network_configuration) {
            return Err(code_deploy_refusal("network parameters"));
        }
        if lbs.is_some_and(|l| *l != s.load_balancers) {
            return Err(code_deploy_refusal("load balancers"));
        }
        if platform.is_some_and(|p| Some(p) != s.platform_version.as_deref()) {
            return Err(code_deploy_refusal("platform version"));
        }
        if force {
            return Err(AwsError::invalid_parameter(
                "Unable to force a new deployment on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.",
            ));
        }
    }
    let changes_deployment = force
        || new_td.as_ref().is_some_and(|td| *td != s.task_definition)
        || network.is_some_and(|n| *n != s.network_configuration)
        || lbs.is_some_and(|l| *l != s.load_balancers)
        || platform.is_some_and(|p| Some(p) != s.platform_version.as_deref());
    // The controller the service will have after this update decides who deploys the change.
    let starts_deployment = changes_deployment && controller.unwrap_or(&s.controller) == "ECS";
    if starts_deployment && s.deployments.len() >= MAX_DEPLOYMENTS {
        return Err(AwsError::invalid_parameter(format!(
            "{MAX_DEPLOYMENTS} active deployments exist on the service. Unable to create a new deployment until an active deployment completes."
        )));
    }

    let configuration = match input.get("deploymentConfiguration").filter(|v| v.is_object()) {
        Some(c) => {
            let mut merged = s.deployment_configuration.clone();
            for (k, v) in c.as_object().into_iter().flatten() {
                merged[k] = v.clone();
            }
            Some(default_deployment_configuration(Some(&merged)))
        }
        None => None,
    };
    super::native::validate(
        configuration.as_ref().unwrap_or(&s.deployment_configuration),
        lbs.unwrap_or(&s.load_balancers),
    )?;
    if let Some(n) = desired_count(input)? {
        s.desired_count = n;
    }
    if let Some(c) = configuration {
        s.deployment_configuration = c;
    }
    for k in ECHOED {
        if let Some(v) = input.get(*k).filter(|v| !v.is_null()) {
            s.extra.insert((*k).into(), v.clone());
        }
    }
    if let Some(n) = network {
        s.network_configuration = n.clone();
    }
    if let Some(l) = lbs {
        s.load_balancers = l.clone();
    }
    if let Some(p) = platform {
        s.platform_version = Some(p.to_owned());
    }
    if let Some(c) = controller.filter(|c| *c != s.controller) {
        if !matches!(c, "ECS" | "CODE_DEPLOY") {
            return Err(AwsError::client(
                "UnsupportedFeatureException",
                format!("pipeline-sandbox does not emulate the {c} deployment controller."),
            ));
        }
        super::task_sets::switch_controller(s, ctx, c);
    }
    if starts_deployment {
        let td = new_td.unwrap_or_else(|| s.task_definition.clone());
        let id = s.new_deployment(ctx, &td, None);
        if super::native::is_native(s) {
            super::native::begin(s, &id);
        }
    }
    let s = ecs.service(&cluster, &name).expect("exists");
    Ok(json!({ "service": service_json(ecs, s, false) }))
}

pub fn delete(ecs: &mut EcsState, ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let name = str_field(input, "service").map(last_segment).unwrap_or_default().to_owned();
    let force = input.get("force").and_then(Value::as_bool).unwrap_or(false);
    let s = ecs
        .service_mut(&cluster, &name)
        .ok_or_else(|| AwsError::client("ServiceNotFoundException", "Service not found."))?;
    if s.status != "ACTIVE" {
        return Err(AwsError::client("ServiceNotActiveException", "Service was not ACTIVE."));
    }
    if s.desired_count > 0 && !force {
        return Err(AwsError::invalid_parameter("The service cannot be stopped while it is scaled above 0."));
    }
    s.status = "DRAINING".into();
    s.desired_count = 0;
    for d in &mut s.deployments {
        d.target = 0;
    }
    let _ = ctx;
    let s = ecs.service(&cluster, &name).expect("exists");
    Ok(json!({ "service": service_json(ecs, s, false) }))
}

pub fn list(ecs: &mut EcsState, _ctx: &Ctx, input: &Value) -> AwsResult<Value> {
    let cluster = ecs.cluster_name(str_field(input, "cluster"))?;
    let launch_type = str_field(input, "launchType");
    let arns: Vec<Value> = ecs.clusters[&cluster]
        .services
        .values()
        .filter(|s| s.status != "INACTIVE")
        .filter(|s| launch_type.is_none_or(|l| s.launch_type.as_deref() == Some(l)))
        .map(|s| json!(s.arn))
        .collect();
    let (page, token) = paginate(arns, input, 10);
    Ok(with_token(json!({ "serviceArns": page }), token))
}

//! Applications, deployment groups and deployment configurations (REFERENCE 3.1, 3.3).

use serde_json::{Map, Value, json};

use super::{CodeDeployState, required, str_field};
use crate::{AwsError, AwsResult, World};

#[derive(Debug, Clone)]
pub struct Application {
    pub name: String,
    pub id: String,
    pub compute_platform: String,
    pub create_time: f64,
}

#[derive(Debug, Clone)]
pub struct DeploymentGroup {
    pub application: String,
    pub name: String,
    pub id: String,
    /// The group's settings as CreateDeploymentGroup/UpdateDeploymentGroup gave them (plus defaults).
    pub body: Map<String, Value>,
    /// Which of the pair's two target groups serves production now; flips after each successful deployment.
    pub blue_target_group: usize,
    pub last_attempted: Option<Value>,
    pub last_successful: Option<Value>,
}

impl DeploymentGroup {
    pub fn config_name(&self) -> String {
        self.body.get("deploymentConfigName").and_then(Value::as_str).unwrap_or(DEFAULT_CONFIG).to_owned()
    }

    pub fn get(&self, key: &str) -> Value {
        self.body.get(key).cloned().unwrap_or(Value::Null)
    }

    /// Target group names of the pair, in the group's order.
    pub fn target_groups(&self) -> Vec<String> {
        self.body
            .get("loadBalancerInfo")
            .and_then(|l| l.pointer("/targetGroupPairInfoList/0/targetGroups"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|t| str_field(t, "name")).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct DeploymentConfig {
    pub name: String,
    pub id: String,
    pub compute_platform: String,
    pub traffic_routing: Value,
    pub create_time: f64,
}

/// How a deployment moves production traffic (REFERENCE 3.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Routing {
    AllAtOnce,
    Canary { percent: f64, minutes: f64 },
    Linear { percent: f64, minutes: f64 },
}

pub const DEFAULT_CONFIG: &str = "CodeDeployDefault.ECSAllAtOnce";

const PREDEFINED: &[(&str, Routing)] = &[
    ("CodeDeployDefault.ECSAllAtOnce", Routing::AllAtOnce),
    ("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", Routing::Linear { percent: 10.0, minutes: 1.0 }),
    ("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", Routing::Linear { percent: 10.0, minutes: 3.0 }),
    ("CodeDeployDefault.ECSCanary10Percent5Minutes", Routing::Canary { percent: 10.0, minutes: 5.0 }),
    ("CodeDeployDefault.ECSCanary10Percent15Minutes", Routing::Canary { percent: 10.0, minutes: 15.0 }),
];

fn routing_json(r: Routing) -> Value {
    match r {
        Routing::AllAtOnce => json!({"type": "AllAtOnce"}),
        Routing::Canary { percent, minutes } => json!({"type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": percent as i64, "canaryInterval": minutes as i64}}),
        Routing::Linear { percent, minutes } => json!({"type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": percent as i64, "linearInterval": minutes as i64}}),
    }
}

fn parse_routing(v: &Value) -> AwsResult<Routing> {
    let invalid = |m: &str| AwsError::client("InvalidTrafficRoutingConfigurationException", m);
    let num = |p: &str| v.pointer(p).and_then(Value::as_f64);
    match str_field(v, "type").unwrap_or("AllAtOnce") {
        "AllAtOnce" => Ok(Routing::AllAtOnce),
        "TimeBasedCanary" => match (num("/timeBasedCanary/canaryPercentage"), num("/timeBasedCanary/canaryInterval")) {
            (Some(p), Some(m)) if p > 0.0 && p < 100.0 && m >= 0.0 => Ok(Routing::Canary { percent: p, minutes: m }),
            _ => Err(invalid("timeBasedCanary needs a canaryPercentage between 0 and 100 and a canaryInterval.")),
        },
        "TimeBasedLinear" => match (num("/timeBasedLinear/linearPercentage"), num("/timeBasedLinear/linearInterval")) {
            (Some(p), Some(m)) if p > 0.0 && p <= 100.0 && m >= 0.0 => Ok(Routing::Linear { percent: p, minutes: m }),
            _ => Err(invalid("timeBasedLinear needs a linearPercentage between 0 and 100 and a linearInterval.")),
        },
        other => Err(invalid(&format!("Unknown traffic routing type {other}."))),
    }
}

impl CodeDeployState {
    /// The traffic routing of a predefined or custom configuration.
    pub fn routing(&self, name: &str) -> Option<Routing> {
        if let Some((_, r)) = PREDEFINED.iter().find(|(n, _)| *n == name) {
            return Some(*r);
        }
        self.configs.get(name).and_then(|c| parse_routing(&c.traffic_routing).ok())
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn create_application(cd: &mut CodeDeployState, input: &Value) -> AwsResult<Value> {
    let name = required(input, "applicationName", "ApplicationNameRequiredException", "Application name is required.")?;
    if cd.applications.contains_key(name) {
        return Err(AwsError::client(
            "ApplicationAlreadyExistsException",
            format!("The application {name} already exists with the IAM user or AWS account."),
        ));
    }
    let platform = str_field(input, "computePlatform").unwrap_or("Server");
    if !matches!(platform, "Server" | "Lambda" | "ECS") {
        return Err(AwsError::client("InvalidComputePlatformException", "The computePlatform is invalid."));
    }
    let app = Application {
        name: name.into(),
        id: new_id(),
        compute_platform: platform.into(),
        create_time: super::super::world::now_epoch(),
    };
    let id = app.id.clone();
    cd.applications.insert(name.into(), app);
    Ok(json!({ "applicationId": id }))
}

fn application<'a>(cd: &'a CodeDeployState, input: &Value) -> AwsResult<&'a Application> {
    let name = required(input, "applicationName", "ApplicationNameRequiredException", "Application name is required.")?;
    cd.applications.get(name).ok_or_else(|| {
        AwsError::client("ApplicationDoesNotExistException", format!("No application found for name: {name}"))
    })
}

pub fn get_application(cd: &CodeDeployState, input: &Value) -> AwsResult<Value> {
    let a = application(cd, input)?;
    Ok(json!({ "application": {
        "applicationId": a.id, "applicationName": a.name, "createTime": a.create_time,
        "linkedToGitHub": false, "computePlatform": a.compute_platform,
    }}))
}

pub fn delete_application(cd: &mut CodeDeployState, input: &Value) -> AwsResult<Value> {
    let name = application(cd, input)?.name.clone();
    cd.applications.remove(&name);
    cd.groups.retain(|(a, _), _| *a != name);
    Ok(json!({}))
}

/// Checks the group's ECS service: it must exist and use the CODE_DEPLOY controller (REFERENCE 3.1).
fn check_ecs_services(w: &World, body: &Map<String, Value>, app: &str, group: &str) -> AwsResult<()> {
    let services = body.get("ecsServices").and_then(Value::as_array).cloned().unwrap_or_default();
    if services.len() > 1 {
        return Err(AwsError::client(
            "ECSServiceMappingLimitExceededException",
            "A deployment group can have only one ECS service.",
        ));
    }
    for s in &services {
        let (cluster, name) =
            (str_field(s, "clusterName").unwrap_or("default"), str_field(s, "serviceName").unwrap_or(""));
        let Some(svc) = w.ecs.service(cluster, name).filter(|s| s.status == "ACTIVE") else {
            return Err(AwsError::client(
                "InvalidECSServiceException",
                format!("The ECS service {name} in cluster {cluster} does not exist or is not ACTIVE."),
            ));
        };
        if svc.controller != "CODE_DEPLOY" {
            return Err(AwsError::client(
                "InvalidECSServiceException",
                "Deployment group's ECS service must be configured for a CODE_DEPLOY deployment controller.",
            ));
        }
        let taken = w.codedeploy.groups.values().any(|g| {
            (g.application != app || g.name != group)
                && g.body.get("ecsServices").and_then(Value::as_array).is_some_and(|list| {
                    list.iter().any(|x| {
                        str_field(x, "serviceName") == Some(name)
                            && str_field(x, "clusterName").unwrap_or("default") == cluster
                    })
                })
        });
        if taken {
            return Err(AwsError::client(
                "ECSServiceMappingLimitExceededException",
                format!("The ECS service {name} is already associated with another deployment group."),
            ));
        }
    }
    Ok(())
}

const GROUP_FIELDS: &[&str] = &[
    "deploymentConfigName",
    "serviceRoleArn",
    "ecsServices",
    "deploymentStyle",
    "blueGreenDeploymentConfiguration",
    "alarmConfiguration",
    "autoRollbackConfiguration",
    "loadBalancerInfo",
    "triggerConfigurations",
    "outdatedInstancesStrategy",
];

fn validate_group(cd: &CodeDeployState, body: &Map<String, Value>) -> AwsResult<()> {
    let config = body.get("deploymentConfigName").and_then(Value::as_str).unwrap_or(DEFAULT_CONFIG);
    if cd.routing(config).is_none() {
        return Err(AwsError::client(
            "DeploymentConfigDoesNotExistException",
            format!("No deployment configuration found for name: {config}"),
        ));
    }
    let alarms = body.get("alarmConfiguration").and_then(|a| a.get("alarms")).and_then(Value::as_array);
    if alarms.is_some_and(|a| a.len() > 10) {
        return Err(AwsError::client(
            "AlarmsLimitExceededException",
            "The maximum number of alarms for a deployment group (10) was exceeded.",
        ));
    }
    let style = body.get("deploymentStyle");
    let kind = style.and_then(|s| str_field(s, "deploymentType"));
    let option = style.and_then(|s| str_field(s, "deploymentOption"));
    if kind.is_some_and(|k| k != "BLUE_GREEN") || option.is_some_and(|o| o != "WITH_TRAFFIC_CONTROL") {
        return Err(AwsError::client(
            "InvalidDeploymentStyleException",
            "ECS deployments must use deploymentType BLUE_GREEN with deploymentOption WITH_TRAFFIC_CONTROL.",
        ));
    }
    Ok(())
}

pub fn create_group(w: &mut World, input: &Value) -> AwsResult<Value> {
    let app = application(&w.codedeploy, input)?.clone();
    let name = required(
        input,
        "deploymentGroupName",
        "DeploymentGroupNameRequiredException",
        "Deployment group name is required.",
    )?;
    if w.codedeploy.groups.contains_key(&(app.name.clone(), name.to_owned())) {
        return Err(AwsError::client(
            "DeploymentGroupAlreadyExistsException",
            format!("The deployment group {name} already exists with application {}.", app.name),
        ));
    }
    required(input, "serviceRoleArn", "RoleRequiredException", "The service role ARN was not specified.")?;
    let mut body = Map::new();
    for k in GROUP_FIELDS {
        if let Some(v) = input.get(*k).filter(|v| !v.is_null()) {
            body.insert((*k).into(), v.clone());
        }
    }
    body.entry("deploymentConfigName").or_insert(json!(DEFAULT_CONFIG));
    if app.compute_platform == "ECS" {
        body.entry("deploymentStyle")
            .or_insert(json!({"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}));
    }
    validate_group(&w.codedeploy, &body)?;
    check_ecs_services(w, &body, &app.name, name)?;
    let group = DeploymentGroup {
        application: app.name.clone(),
        name: name.to_owned(),
        id: new_id(),
        body,
        blue_target_group: 0,
        last_attempted: None,
        last_successful: None,
    };
    let id = group.id.clone();
    w.codedeploy.groups.insert((app.name, name.to_owned()), group);
    Ok(json!({ "deploymentGroupId": id }))
}

pub fn group_json(cd: &CodeDeployState, g: &DeploymentGroup) -> Value {
    let mut v = Value::Object(g.body.clone());
    v["applicationName"] = json!(g.application);
    v["deploymentGroupId"] = json!(g.id);
    v["deploymentGroupName"] = json!(g.name);
    let platform = cd.applications.get(&g.application).map_or("ECS", |a| a.compute_platform.as_str());
    v["computePlatform"] = json!(platform);
    if let Some(d) = &g.last_attempted {
        v["lastAttemptedDeployment"] = d.clone();
    }
    if let Some(d) = &g.last_successful {
        v["lastSuccessfulDeployment"] = d.clone();
    }
    v
}

pub fn find_group<'a>(cd: &'a CodeDeployState, app: &str, name: &str) -> AwsResult<&'a DeploymentGroup> {
    cd.groups.get(&(app.to_owned(), name.to_owned())).ok_or_else(|| {
        AwsError::client("DeploymentGroupDoesNotExistException", format!("No Deployment Group found for name: {name}"))
    })
}

pub fn get_group(cd: &CodeDeployState, input: &Value) -> AwsResult<Value> {
    let app = application(cd, input)?;
    let name = required(
        input,
        "deploymentGroupName",
        "DeploymentGroupNameRequiredException",
        "Deployment group name is required.",
    )?;
    let g = find_group(cd, &app.name, name)?;
    Ok(json!({ "deploymentGroupInfo": group_json(cd, g) }))
}

pub fn update_group(w: &mut World, input: &Value) -> AwsResult<Value> {
    let app = application(&w.codedeploy, input)?.name.clone();
    let current = required(
        input,
        "currentDeploymentGroupName",
        "DeploymentGroupNameRequiredException",
        "Deployment group name is required.",
    )?;
    let mut group = find_group(&w.codedeploy, &app, current)?.clone();
    for k in GROUP_FIELDS {
        if let Some(v) = input.get(*k).filter(|v| !v.is_null()) {
            group.body.insert((*k).into(), v.clone());
        }
    }
    validate_group(&w.codedeploy, &group.body)?;
    check_ecs_services(w, &group.body, &app, current)?;
    if let Some(new_name) = str_field(input, "newDeploymentGroupName").filter(|n| *n != current) {
        if w.codedeploy.groups.contains_key(&(app.clone(), new_name.to_owned())) {
            return Err(AwsError::client(
                "DeploymentGroupAlreadyExistsException",
                format!("The deployment group {new_name} already exists."),
            ));
        }
        w.codedeploy.groups.remove(&(app.clone(), current.to_owned()));
        group.name = new_name.to_owned();
    }
    w.codedeploy.groups.insert((app, group.name.clone()), group);
    Ok(json!({ "hooksNotCleanedUp": [] }))
}

pub fn list_groups(cd: &CodeDeployState, input: &Value) -> AwsResult<Value> {
    let app = application(cd, input)?;
    let names: Vec<&String> = cd.groups.values().filter(|g| g.application == app.name).map(|g| &g.name).collect();
    Ok(json!({ "applicationName": app.name, "deploymentGroups": names }))
}

pub fn delete_group(cd: &mut CodeDeployState, input: &Value) -> AwsResult<Value> {
    let app = application(cd, input)?.name.clone();
    let name = required(
        input,
        "deploymentGroupName",
        "DeploymentGroupNameRequiredException",
        "Deployment group name is required.",
    )?;
    find_group(cd, &app, name)?;
    cd.groups.remove(&(app, name.to_owned()));
    Ok(json!({ "hooksNotCleanedUp": [] }))
}

pub fn create_config(cd: &mut CodeDeployState, input: &Value) -> AwsResult<Value> {
    let name = required(
        input,
        "deploymentConfigName",
        "DeploymentConfigNameRequiredException",
        "Deployment configuration name is required.",
    )?;
    if cd.routing(name).is_some() {
        return Err(AwsError::client(
            "DeploymentConfigAlreadyExistsException",
            format!("A deployment configuration with the name {name} already exists."),
        ));
    }
    let routing = input.get("trafficRoutingConfig").cloned().unwrap_or_else(|| json!({"type": "AllAtOnce"}));
    let parsed = parse_routing(&routing)?;
    let config = DeploymentConfig {
        name: name.to_owned(),
        id: new_id(),
        compute_platform: str_field(input, "computePlatform").unwrap_or("Server").to_owned(),
        traffic_routing: routing_json(parsed),
        create_time: crate::world::now_epoch(),
    };
    let id = config.id.clone();
    cd.configs.insert(name.to_owned(), config);
    Ok(json!({ "deploymentConfigId": id }))
}

pub fn get_config(cd: &CodeDeployState, input: &Value) -> AwsResult<Value> {
    let name = required(
        input,
        "deploymentConfigName",
        "DeploymentConfigNameRequiredException",
        "Deployment configuration name is required.",
    )?;
    let info = if let Some(c) = cd.configs.get(name) {
        json!({"deploymentConfigId": c.id, "deploymentConfigName": c.name, "createTime": c.create_time,
            "computePlatform": c.compute_platform, "trafficRoutingConfig": c.traffic_routing})
    } else if let Some((n, r)) = PREDEFINED.iter().find(|(n, _)| *n == name) {
        json!({"deploymentConfigId": format!("predefined-{n}"), "deploymentConfigName": n, "createTime": 0,
            "computePlatform": "ECS", "trafficRoutingConfig": routing_json(*r)})
    } else {
        return Err(AwsError::client(
            "DeploymentConfigDoesNotExistException",
            format!("No deployment configuration found for name: {name}"),
        ));
    };
    Ok(json!({ "deploymentConfigInfo": info }))
}

pub fn list_configs(cd: &CodeDeployState) -> AwsResult<Value> {
    let mut names: Vec<String> = PREDEFINED.iter().map(|(n, _)| (*n).to_owned()).collect();
    names.extend(cd.configs.keys().cloned());
    Ok(json!({ "deploymentConfigsList": names }))
}

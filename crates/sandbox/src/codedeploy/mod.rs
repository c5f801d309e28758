//! AWS CodeDeploy for ECS blue/green (REFERENCE section 3): applications, deployment groups, deployment
//! configurations, and deployments that walk the ECS lifecycle events over (scaled) time, shift traffic,
//! watch alarms, stop and roll back.
//!
//! Differences from AWS, by design: hook Lambdas named in the AppSpec are not invoked (there is no Lambda
//! here); their lifecycle events simply succeed. Listener rules of the load balancer are not rewritten; the
//! traffic weights live in the deployment target (`taskSetsInfo[].trafficWeight`).

mod appspec;
mod deployments;
mod groups;
mod lifecycle;
mod targets;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{AwsError, AwsResult, Ctx, World};

pub use deployments::Deployment;
pub use groups::{Application, DeploymentConfig, DeploymentGroup};

#[derive(Debug, Default)]
pub struct CodeDeployState {
    applications: BTreeMap<String, Application>,
    /// (application, group) -> group.
    groups: BTreeMap<(String, String), DeploymentGroup>,
    /// Custom configurations; the predefined ones are built on demand.
    configs: BTreeMap<String, DeploymentConfig>,
    deployments: BTreeMap<String, Deployment>,
    /// Deployment ids in creation order, for ListDeployments.
    order: Vec<String>,
}

pub fn handle(w: &mut World, ctx: &Ctx, op: &str, input: &Value) -> AwsResult<Value> {
    match op {
        "CreateApplication" => groups::create_application(&mut w.codedeploy, input),
        "GetApplication" => groups::get_application(&w.codedeploy, input),
        "ListApplications" => Ok(json!({ "applications": w.codedeploy.applications.keys().collect::<Vec<_>>() })),
        "DeleteApplication" => groups::delete_application(&mut w.codedeploy, input),
        "CreateDeploymentGroup" => groups::create_group(w, input),
        "GetDeploymentGroup" => groups::get_group(&w.codedeploy, input),
        "UpdateDeploymentGroup" => groups::update_group(w, input),
        "ListDeploymentGroups" => groups::list_groups(&w.codedeploy, input),
        "DeleteDeploymentGroup" => groups::delete_group(&mut w.codedeploy, input),
        "CreateDeploymentConfig" => groups::create_config(&mut w.codedeploy, input),
        "GetDeploymentConfig" => groups::get_config(&w.codedeploy, input),
        "ListDeploymentConfigs" => groups::list_configs(&w.codedeploy),
        "CreateDeployment" => deployments::create(w, ctx, input),
        "GetDeployment" => deployments::get(w, input),
        "BatchGetDeployments" => deployments::batch_get(w, input),
        "ListDeployments" => deployments::list(w, input),
        "StopDeployment" => deployments::stop(w, ctx, input),
        "ContinueDeployment" => deployments::continue_deployment(w, ctx, input),
        "ListDeploymentTargets" => targets::list(w, input),
        "GetDeploymentTarget" => targets::get(w, input),
        "BatchGetDeploymentTargets" => targets::batch_get(w, input),
        _ => Err(AwsError::not_implemented("codedeploy", op)),
    }
}

pub fn tick(w: &mut World, ctx: &Ctx) {
    lifecycle::tick(w, ctx);
}

pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn required<'a>(input: &'a Value, key: &str, code: &str, message: &str) -> AwsResult<&'a str> {
    str_field(input, key).ok_or_else(|| AwsError::client(code, message))
}

// ---- Hook for real containers (`crate::containers`): the load-balancer stand-in follows the traffic weights. ----
impl CodeDeployState {
    pub(crate) fn all_deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.deployments.values()
    }

    /// The `(cluster, service)` whose deployment group routes `listener_arn`, and whether it is the group's test
    /// listener (`testTrafficRoute`) rather than its production one (`prodTrafficRoute`).
    pub(crate) fn listener_role(&self, listener_arn: &str) -> Option<(String, String, bool)> {
        self.groups.values().find_map(|g| {
            let pair = g.body.get("loadBalancerInfo")?.pointer("/targetGroupPairInfoList/0")?;
            let routes = |key: &str| {
                pair.get(key)
                    .and_then(|r| r.get("listenerArns"))
                    .and_then(Value::as_array)
                    .is_some_and(|l| l.iter().any(|a| a.as_str() == Some(listener_arn)))
            };
            let test = routes("testTrafficRoute");
            if !test && !routes("prodTrafficRoute") {
                return None;
            }
            let s = g.body.get("ecsServices")?.get(0)?;
            Some((
                str_field(s, "clusterName").unwrap_or("default").to_owned(),
                str_field(s, "serviceName")?.to_owned(),
                test,
            ))
        })
    }

    /// The production listener of the group deploying `cluster/service`.
    pub(crate) fn production_listener(&self, cluster: &str, service: &str) -> Option<String> {
        self.groups.values().find_map(|g| {
            let s = g.body.get("ecsServices")?.get(0)?;
            let same = str_field(s, "serviceName") == Some(service)
                && crate::ecs::last_segment(str_field(s, "clusterName").unwrap_or("default")) == cluster;
            if !same {
                return None;
            }
            g.body
                .get("loadBalancerInfo")?
                .pointer("/targetGroupPairInfoList/0/prodTrafficRoute/listenerArns/0")?
                .as_str()
                .map(str::to_owned)
        })
    }
}

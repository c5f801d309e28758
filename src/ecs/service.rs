//! The live service, described once before a deployment: its controller, what it runs, its load
//! balancing and networking (carried into AppSpecs), and its deployments.

use aws_sdk_ecs::types::{Deployment, Service};

use crate::Error;
use crate::deploy::appspec::{Awsvpc, CapacityProvider};
use crate::deploy::strategy::{Controller, ControllerKind};
use crate::deploy::verdict::{DeploymentStatus, DeploymentView, RolloutState};

#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetGroupRef {
    pub arn: String,
    pub container_name: String,
    pub container_port: i32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceInfo {
    pub cluster: String,
    pub name: String,
    pub arn: String,
    pub controller: Controller,
    pub task_definition: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub target_groups: Vec<TargetGroupRef>,
    pub network: Option<Awsvpc>,
    pub capacity_providers: Vec<CapacityProvider>,
    /// The service's launch type (absent when it uses capacity providers).
    pub launch_type: Option<String>,
    pub platform_version: Option<String>,
    pub deployments: Vec<DeploymentView>,
    /// The last service events, newest first (for diagnostics).
    pub events: Vec<String>,
}

pub async fn describe(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<ServiceInfo, Error> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeServices", format!("{cluster}/{service}"), e))?;
    let found = out.services().iter().find(|s| s.status() != Some("INACTIVE"));
    let Some(svc) = found else {
        return Err(Error::ServiceNotFound { cluster: cluster.to_owned(), service: service.to_owned() });
    };
    Ok(info(cluster, svc))
}

fn info(cluster: &str, svc: &Service) -> ServiceInfo {
    let config = svc.deployment_configuration();
    let controller = Controller {
        kind: svc.deployment_controller().map_or(ControllerKind::Ecs, |c| ControllerKind::parse(c.r#type().as_str())),
        ecs_strategy: config.and_then(|c| c.strategy()).map(|s| s.as_str().to_owned()),
    };
    let target_groups = svc
        .load_balancers()
        .iter()
        .filter_map(|lb| {
            Some(TargetGroupRef {
                arn: lb.target_group_arn()?.to_owned(),
                container_name: lb.container_name()?.to_owned(),
                container_port: lb.container_port()?,
            })
        })
        .collect();
    let network = svc.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|v| Awsvpc {
        subnets: v.subnets().to_vec(),
        security_groups: v.security_groups().to_vec(),
        assign_public_ip: v.assign_public_ip().map(|a| a.as_str().to_owned()),
    });
    let capacity_providers = svc
        .capacity_provider_strategy()
        .iter()
        .map(|c| CapacityProvider { name: c.capacity_provider().to_owned(), base: c.base(), weight: c.weight() })
        .collect();
    ServiceInfo {
        cluster: cluster.to_owned(),
        name: svc.service_name().unwrap_or_default().to_owned(),
        arn: svc.service_arn().unwrap_or_default().to_owned(),
        controller,
        task_definition: svc.task_definition().unwrap_or_default().to_owned(),
        desired_count: svc.desired_count(),
        running_count: svc.running_count(),
        target_groups,
        network,
        capacity_providers,
        launch_type: svc.launch_type().map(|l| l.as_str().to_owned()),
        platform_version: svc.platform_version().map(str::to_owned),
        deployments: svc.deployments().iter().map(view).collect(),
        events: svc.events().iter().take(10).filter_map(|e| e.message().map(str::to_owned)).collect(),
    }
}

pub fn view(d: &Deployment) -> DeploymentView {
    DeploymentView {
        id: d.id().unwrap_or_default().to_owned(),
        status: DeploymentStatus::parse(d.status().unwrap_or_default()),
        task_definition: d.task_definition().unwrap_or_default().to_owned(),
        rollout_state: d.rollout_state().and_then(|s| RolloutState::parse(s.as_str())),
        rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
        running: d.running_count(),
        desired: d.desired_count(),
        failed_tasks: d.failed_tasks(),
    }
}

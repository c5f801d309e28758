//! Finding a service and what it deploys with, for `pipeline init`: by name (`--from-service CLUSTER/SERVICE`) or by
//! the family of a task definition file (which service runs it). Read-only.

use super::service::{self, ServiceInfo};
use crate::Error;

/// What `init` needs to know of a live service.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub cluster: String,
    pub service: String,
    /// The running revision's ARN.
    pub task_definition: String,
    /// `ECS`, `CODE_DEPLOY` or `EXTERNAL`.
    pub controller: String,
    /// ECS's own strategy (`ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY`), for the ECS controller.
    pub ecs_strategy: Option<String>,
    /// The deployment alarms ECS watches (deploymentConfiguration.alarms, when enabled).
    pub alarms: Vec<String>,
    /// The container the load balancer sends traffic to.
    pub load_balanced_container: Option<String>,
}

impl From<ServiceInfo> for Discovered {
    fn from(info: ServiceInfo) -> Self {
        Discovered {
            controller: info.controller.kind.to_string(),
            ecs_strategy: info.controller.ecs_strategy,
            alarms: info.deployment_alarms.filter(|a| a.enable).map(|a| a.names).unwrap_or_default(),
            load_balanced_container: info.target_groups.first().map(|t| t.container_name.clone()),
            cluster: info.cluster,
            service: info.name,
            task_definition: info.task_definition,
        }
    }
}

/// `cluster/service`, as `--from-service` names it.
pub async fn service(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<Discovered, Error> {
    service::describe(ecs, cluster, service).await.map(Discovered::from)
}

/// The active services, in every cluster of the region, whose running revision is of `family`.
pub async fn running_family(ecs: &aws_sdk_ecs::Client, family: &str) -> Result<Vec<Discovered>, Error> {
    let mut found = Vec::new();
    let clusters = list_all(|token| async move {
        let out = ecs.list_clusters().set_next_token(token).send().await;
        let out = out.map_err(|e| Error::aws("ListClusters", "clusters", e))?;
        Ok((out.cluster_arns().to_vec(), out.next_token().map(str::to_owned)))
    })
    .await?;
    for cluster in clusters {
        let name = cluster.rsplit('/').next().unwrap_or(&cluster).to_owned();
        let arns = list_all(|token| {
            let cluster = cluster.clone();
            async move {
                let out = ecs.list_services().cluster(&cluster).set_next_token(token).send().await;
                let out = out.map_err(|e| Error::aws("ListServices", &cluster, e))?;
                Ok((out.service_arns().to_vec(), out.next_token().map(str::to_owned)))
            }
        })
        .await?;
        // DescribeServices takes at most 10 services per call (REFERENCE 2.9).
        for chunk in arns.chunks(10) {
            let out = ecs
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws("DescribeServices", &cluster, e))?;
            for svc in out.services() {
                let runs = svc.task_definition().and_then(crate::deploy::verified::family_of) == Some(family);
                if runs && svc.status() == Some("ACTIVE") {
                    found.push(Discovered::from(service::info(&name, svc)));
                }
            }
        }
    }
    Ok(found)
}

/// Every page of a paginated List call.
async fn list_all<F, Fut>(mut page: F) -> Result<Vec<String>, Error>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<String>, Option<String>), Error>>,
{
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let (items, next) = page(token).await?;
        all.extend(items);
        match next {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(all),
        }
    }
}

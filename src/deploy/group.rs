//! Reading a CodeDeploy deployment group before anything changes: does it exist, which ECS services it deploys,
//! which alarms it watches; and finding the group of a service (for `pipeline init`).

use crate::Error;

/// What a release needs to know of its deployment group.
#[derive(Debug, Clone, Default)]
pub struct GroupInfo {
    /// `(cluster, service)` pairs the group deploys.
    pub services: Vec<(String, String)>,
    /// The CloudWatch alarms attached to the group.
    pub alarms: Vec<String>,
    pub deployment_config: Option<String>,
    /// `blueGreenDeploymentConfiguration.deploymentReadyOption`: `(actionOnTimeout, waitTimeInMinutes)`.
    pub ready_option: Option<(String, i32)>,
    /// The test listener of the target group pair (`testTrafficRoute.listenerArns[0]`).
    pub test_listener: Option<String>,
}

impl GroupInfo {
    /// The group waits for ContinueDeployment(READY_WAIT) before moving production traffic (REFERENCE 3.6).
    pub fn waits_for_reroute(&self) -> bool {
        self.ready_option.as_ref().is_some_and(|(action, _)| action == "STOP_DEPLOYMENT")
    }
}

impl GroupInfo {
    pub fn deploys(&self, cluster: &str, service: &str) -> bool {
        self.services.iter().any(|(c, s)| same(c, cluster) && same(s, service))
    }
}

/// Names and ARNs both identify clusters and services: compare by the last path segment.
fn same(a: &str, b: &str) -> bool {
    a.rsplit('/').next() == b.rsplit('/').next()
}

#[derive(Debug)]
pub enum GroupRead {
    Found(GroupInfo),
    NoApplication,
    NoGroup,
}

/// GetDeploymentGroup, with "does not exist" as answers rather than errors.
pub async fn read(cd: &aws_sdk_codedeploy::Client, application: &str, group: &str) -> Result<GroupRead, Error> {
    let out = cd.get_deployment_group().application_name(application).deployment_group_name(group).send().await;
    let info = match out {
        Ok(out) => out.deployment_group_info,
        Err(e) => {
            let service = e.as_service_error();
            if service.is_some_and(|s| s.is_application_does_not_exist_exception()) {
                return Ok(GroupRead::NoApplication);
            }
            if service.is_some_and(|s| s.is_deployment_group_does_not_exist_exception()) {
                return Ok(GroupRead::NoGroup);
            }
            return Err(Error::aws("GetDeploymentGroup", format!("{application}/{group}"), e));
        }
    };
    let Some(info) = info else { return Ok(GroupRead::NoGroup) };
    let services = info
        .ecs_services()
        .iter()
        .filter_map(|s| Some((s.cluster_name()?.to_owned(), s.service_name()?.to_owned())))
        .collect();
    let alarms = info
        .alarm_configuration()
        .filter(|a| a.enabled())
        .map(|a| a.alarms().iter().filter_map(|a| a.name().map(str::to_owned)).collect())
        .unwrap_or_default();
    let ready_option = info
        .blue_green_deployment_configuration()
        .and_then(|b| b.deployment_ready_option())
        .map(|r| (r.action_on_timeout().map(|a| a.as_str().to_owned()).unwrap_or_default(), r.wait_time_in_minutes()));
    let test_listener = info
        .load_balancer_info()
        .and_then(|l| l.target_group_pair_info_list().first())
        .and_then(|p| p.test_traffic_route())
        .and_then(|r| r.listener_arns().first())
        .cloned();
    Ok(GroupRead::Found(GroupInfo {
        services,
        alarms,
        deployment_config: info.deployment_config_name().map(str::to_owned),
        ready_option,
        test_listener,
    }))
}

/// The `(application, group, info)` whose group deploys `cluster/service`, looking through every ECS application.
pub async fn find_for_service(
    cd: &aws_sdk_codedeploy::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<(String, String, GroupInfo)>, Error> {
    let apps = cd.list_applications().send().await.map_err(|e| Error::aws("ListApplications", "applications", e))?;
    for app in apps.applications() {
        let groups = cd
            .list_deployment_groups()
            .application_name(app)
            .send()
            .await
            .map_err(|e| Error::aws("ListDeploymentGroups", app, e))?;
        for group in groups.deployment_groups() {
            if let GroupRead::Found(info) = read(cd, app, group).await?
                && info.deploys(cluster, service)
            {
                return Ok(Some((app.clone(), group.clone(), info)));
            }
        }
    }
    Ok(None)
}

//! The AWS half, read-only: what the deploy plan found missing placed at the config key that names it, and the
//! reads the plan itself does not make (the CodeDeploy group serves this service, the named alarms exist and are
//! quiet, the load balancer's container is in the task definition, the repository may be created).

use super::at;
use super::sidecars::Registered;
use crate::Error;
use crate::aws::Aws;
use crate::config::{Config, Environment, TaskDefinitionSource};
use crate::deploy::group::{self, GroupRead};
use crate::deploy::plan::{DeployPlan, short_arn};
use crate::deploy::strategy::Strategy;
use crate::guard::state::{AlarmState, states};
use crate::image::plan::{ImagePlan, RepositoryState};

/// An error of the deploy plan's reads, placed at the key of the resource that is missing when it is one.
pub fn place(config: &Config, name: &str, env: &Environment, region: &str, err: Error) -> Error {
    let key = |k: &str| ["environments", name, k].map(str::to_owned);
    let (path, message, help): ([String; 3], String, &str) = match &err {
        Error::Aws { operation: "DescribeServices", code, .. } if code == "ClusterNotFoundException" => (
            key("cluster"),
            format!("cluster `{}` does not exist in {region}", env.cluster),
            "check `cluster` (and `region`); `aws ecs list-clusters` lists the clusters",
        ),
        Error::ServiceNotFound { cluster, service } => (
            key("service"),
            format!("service `{service}` does not exist in cluster `{cluster}` ({region})"),
            "check `service`; `aws ecs list-services --cluster CLUSTER` lists the services",
        ),
        Error::StrategyMismatch { message, help } => {
            return at(config, &["environments", name, "strategy"], message, help);
        }
        Error::Aws { operation: "GetDeploymentGroup", code, .. } if code == "ApplicationDoesNotExistException" => {
            return missing_application(config, name, env);
        }
        Error::Aws { operation: "GetDeploymentGroup", code, .. } if code == "DeploymentGroupDoesNotExistException" => {
            return missing_group(config, name, env);
        }
        _ => return err,
    };
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    at(config, &path, &message, help)
}

fn missing_application(config: &Config, name: &str, env: &Environment) -> Error {
    let app = env.codedeploy.as_ref().map(|c| c.application.as_str()).unwrap_or_default();
    at(
        config,
        &["environments", name, "codedeploy", "application"],
        &format!("CodeDeploy application `{app}` does not exist"),
        "check `codedeploy.application`; `aws deploy list-applications` lists them",
    )
}

fn missing_group(config: &Config, name: &str, env: &Environment) -> Error {
    let (app, group) =
        env.codedeploy.as_ref().map(|c| (c.application.as_str(), c.deployment_group.as_str())).unwrap_or_default();
    at(
        config,
        &["environments", name, "codedeploy", "deployment-group"],
        &format!("deployment group `{group}` does not exist in CodeDeploy application `{app}`"),
        "check `codedeploy.deployment-group`; `aws deploy list-deployment-groups --application-name APP` lists them",
    )
}

/// A repository that is missing may only be planned for creation when the config allows it.
pub fn repository(config: &Config, image: &ImagePlan) -> Result<(), Error> {
    match &image.repository {
        RepositoryState::Create { name } if !config.image.create_repository => Err(at(
            config,
            &["image", "create-repository"],
            &format!("ECR repository `{name}` does not exist, and `create-repository` is false"),
            "create the repository, or set `image.create-repository: true` so pipeline creates it (IMMUTABLE)",
        )),
        _ => Ok(()),
    }
}

/// The reads beyond the deploy plan's, all before the first write; every problem at once.
pub async fn check(aws: &Aws, config: &Config, name: &str, env: &Environment, plan: &DeployPlan) -> Result<(), Error> {
    let mut problems = Vec::new();
    let svc = &plan.service;
    if let (Strategy::CodeDeploy, Some(cd)) = (plan.strategy, &plan.codedeploy) {
        match group::read(&aws.codedeploy, &cd.application, &cd.deployment_group).await? {
            GroupRead::NoApplication => problems.push(missing_application(config, name, env)),
            GroupRead::NoGroup => problems.push(missing_group(config, name, env)),
            GroupRead::Found(info) if !info.deploys(&svc.cluster, &svc.name) => problems.push(at(
                config,
                &["environments", name, "codedeploy", "deployment-group"],
                &format!(
                    "deployment group `{}` deploys {}, not {}/{}",
                    cd.deployment_group,
                    list(info.services.iter().map(|(c, s)| format!("{c}/{s}"))),
                    svc.cluster,
                    svc.name
                ),
                "name the deployment group of this service",
            )),
            GroupRead::Found(info) => problems.extend(verify_needs(config, name, cd, &info, plan)),
        }
    }
    if !plan.verify.is_empty() && plan.strategy != Strategy::CodeDeploy && !plan.strategy.is_ecs_native() {
        problems.push(at(
            config,
            &["environments", name, "verify"],
            &format!("`verify:` runs on test traffic, which the {} strategy does not have", plan.strategy),
            "use `strategy: codedeploy` or ECS-native blue/green (`strategy: ecs-blue-green`) with a test listener, or remove `verify:`",
        ));
    }

    // Named alarms must exist; none may fire now (the 5xx alarms the release creates may not exist yet).
    let found = states(&aws.cloudwatch, &plan.alarms).await?;
    for alarm in env.guard.alarms.iter().filter(|a| !found.contains_key(*a)) {
        problems.push(at(
            config,
            &["environments", name, "guard", "alarms"],
            &format!("alarm `{alarm}` does not exist in CloudWatch"),
            "name an existing alarm (`aws cloudwatch describe-alarms`), or drop it from `guard.alarms`",
        ));
    }
    if let Some((alarm, (_, reason))) = found.iter().find(|(_, (state, _))| *state == AlarmState::Alarm) {
        problems.push(Error::GuardBlocked { reason: format!("guard alarm `{alarm}` is already in ALARM ({reason})") });
    }

    // The load balancer sends traffic to a container and port the new revision must have.
    for tg in &svc.target_groups {
        let has = plan.template.containers().iter().any(|c| {
            c.get("name").and_then(serde_json::Value::as_str) == Some(tg.container_name.as_str())
                && c.get("portMappings").and_then(serde_json::Value::as_array).is_some_and(|ports| {
                    ports.iter().any(|p| {
                        p.get("containerPort").and_then(serde_json::Value::as_i64) == Some(i64::from(tg.container_port))
                    })
                })
        });
        if !has {
            problems.push(at(
                config,
                &["environments", name, "task-definition"],
                &format!(
                    "the service's load balancer sends traffic to container `{}` on port {}, which the task \
                     definition does not have",
                    tg.container_name, tg.container_port
                ),
                "keep that container and its `portMappings` entry in the task definition",
            ));
        }
    }
    Error::from_problems(problems)
}

/// Each sidecar names a container of a task definition the release registers, now that the deploy plans hold every
/// one (a `from-service` one read from the service): `planned` is each service's one-service environment and plan.
pub fn sidecars(config: &Config, name: &str, planned: &[(&Environment, &DeployPlan)]) -> Result<(), Error> {
    let registered: Vec<Registered> = planned
        .iter()
        .map(|(env, plan)| Registered {
            source: match &env.task_definition {
                TaskDefinitionSource::File(path) => super::local::shown(config, path),
                _ => format!(
                    "the revision {}/{} runs ({})",
                    plan.service.cluster,
                    plan.service.name,
                    short_arn(&plan.service.task_definition)
                ),
            },
            app: plan.container.clone(),
            containers: plan.template.container_names().into_iter().map(str::to_owned).collect(),
        })
        .collect();
    Error::from_problems(super::sidecars::check(config, name, &registered))
}

/// `verify:` with CodeDeploy: the group must hold the replacement on the test listener until told to reroute
/// (REFERENCE 3.6), and HTTP checks without `url:` need the group's test listener.
fn verify_needs(
    config: &Config,
    name: &str,
    cd: &crate::deploy::codedeploy::CodeDeploySettings,
    info: &group::GroupInfo,
    plan: &DeployPlan,
) -> Vec<Error> {
    let mut problems = Vec::new();
    if plan.verify.is_empty() {
        return problems;
    }
    if !info.waits_for_reroute() {
        let now = match &info.ready_option {
            Some((action, _)) => format!("its deploymentReadyOption is {action}"),
            None => "it has no deploymentReadyOption".into(),
        };
        problems.push(at(
            config,
            &["environments", name, "verify"],
            &format!(
                "deployment group `{}` moves production traffic without waiting ({now}): `verify:` needs its \
                 actionOnTimeout STOP_DEPLOYMENT to run before users see the release",
                cd.deployment_group
            ),
            &format!(
                "make the group wait for the reroute: `aws deploy update-deployment-group --application-name {} \
                 --current-deployment-group-name {} --blue-green-deployment-configuration \
                 'deploymentReadyOption={{actionOnTimeout=STOP_DEPLOYMENT,waitTimeInMinutes=60}}'` (pipeline then \
                 reroutes after the checks pass)",
                cd.application, cd.deployment_group
            ),
        ));
    }
    let needs_listener =
        plan.verify.checks.iter().any(|c| matches!(c, crate::config::VerifyCheck::Http(h) if h.url.is_none()));
    if needs_listener && info.test_listener.is_none() {
        problems.push(at(
            config,
            &["environments", name, "verify"],
            &format!("deployment group `{}` has no test listener to probe", cd.deployment_group),
            "add a test listener to the group's target group pair (testTrafficRoute), or give the HTTP checks a `url:`",
        ));
    }
    problems
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() { "no service".to_owned() } else { items.join(", ") }
}

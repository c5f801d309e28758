//! The deploy half of the release plan, computed read-only before any change: the service and its
//! strategy, the task-definition template and the latest revision it is compared with, the guard
//! alarms, and where a rollback would go.

use std::collections::BTreeMap;

use serde_json::Value;

use super::codedeploy::CodeDeploySettings;
use super::strategy::{self, Strategy};
use super::verdict::{DeploymentStatus, DeploymentView};
use super::watcher::WatchSettings;
use crate::Error;
use crate::config::{self, Environment, TaskDefinitionSource};
use crate::ecs::revision::describe;
use crate::ecs::service::{self, ServiceInfo};
use crate::guard::{AlarmSpec, FiveXx, dimension_values, guard_alarm_name};
use crate::task_definition::{self, RenderInput, TaskDefinitionDiff, TaskDefinitionDoc};

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeployPlan {
    pub environment: String,
    pub service: ServiceInfo,
    pub strategy: Strategy,
    pub template: TaskDefinitionDoc,
    pub container: String,
    /// Sidecar images by container (`image.sidecars`), pinned by digest where the template has that container.
    pub sidecars: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    /// What runs now: the service's PRIMARY deployment, or for CodeDeploy its PRIMARY (blue) task
    /// set. The diff compares with it, and a failed release returns to exactly it.
    pub running: String,
    /// The running revision as a document to register (tags stripped when compared).
    pub running_doc: Option<Value>,
    /// The newest ACTIVE revision of the family, as `(arn, document)`.
    pub latest: Option<(String, Value)>,
    /// Where a failed deployment returns: what ran before it ([`Self::running`]); for `pipeline
    /// rollback`, the release it goes to.
    pub rollback_to: String,
    /// Alarms the tool upserts before deploying (the 5xx guard).
    pub ensure_alarms: Vec<AlarmSpec>,
    pub five_xx: FiveXx,
    /// Every alarm watched during the deployment (ensured + named).
    pub alarms: Vec<String>,
    pub codedeploy: Option<CodeDeploySettings>,
    pub watch: WatchSettings,
    pub before_deploy: Vec<String>,
    /// `verify:` checks on test traffic and where they reach the release.
    pub verify: crate::verify::VerifyPlan,
    pub warnings: Vec<String>,
}

impl DeployPlan {
    /// The task definition this release would register for `image`.
    pub fn render(&self, image: &str) -> Result<TaskDefinitionDoc, Error> {
        let input = RenderInput { container: &self.container, image, env: &self.env, secrets: &self.secrets };
        let mut doc = task_definition::render(&self.template, &input)?;
        let none = BTreeMap::new();
        let names: Vec<String> = doc.container_names().iter().map(|n| n.to_string()).collect();
        for (container, image) in self.sidecars.iter().filter(|(c, _)| names.contains(c)) {
            doc = task_definition::render(&doc, &RenderInput { container, image, env: &none, secrets: &none })?;
        }
        Ok(doc)
    }

    /// What deploying `image` would change against what runs now.
    pub fn diff(&self, image: &str) -> Result<TaskDefinitionDiff, Error> {
        let rendered = self.render(image)?.to_register_json();
        let old = self.running_doc.clone().unwrap_or(Value::Object(Default::default()));
        Ok(task_definition::diff(&without_tags(old), &without_tags(rendered)))
    }

    /// An existing revision equal to what rendering for `image` would register: what runs, else
    /// the family's latest (e.g. the release a rollback left behind).
    pub fn reusable(&self, image: &str) -> Result<Option<String>, Error> {
        let rendered = without_tags(self.render(image)?.to_register_json());
        let candidates = self.running_doc.as_ref().map(|doc| (&self.running, doc)).into_iter();
        let candidates = candidates.chain(self.latest.as_ref().map(|(arn, doc)| (arn, doc)));
        for (arn, doc) in candidates {
            if task_definition::diff(&without_tags(doc.clone()), &rendered).is_empty() {
                return Ok(Some(arn.clone()));
            }
        }
        Ok(None)
    }

    /// Whether the service runs `task_definition` already, settled and alone: there is nothing to deploy. A task set
    /// draining after a finished blue/green deployment (CodeDeploy's termination) serves nothing and does not count.
    pub fn already_runs(&self, task_definition: &str) -> bool {
        let svc = &self.service;
        let serving: Vec<&DeploymentView> =
            svc.deployments.iter().filter(|d| d.status != DeploymentStatus::Inactive).collect();
        svc.running() == task_definition
            && matches!(serving.as_slice(), [only] if only.is_primary() && only.is_settled())
    }

    /// Whether `arn` is what runs and is already the verified release `version` (a re-run: there
    /// is nothing to mark).
    pub fn runs_verified(&self, arn: &str, version: &str) -> bool {
        let tag = |key: &str| {
            let tags = self.running_doc.as_ref().and_then(|d| d.get("tags")).and_then(Value::as_array);
            tags.into_iter()
                .flatten()
                .find(|t| t.get("key").and_then(Value::as_str) == Some(key))
                .and_then(|t| t.get("value").and_then(Value::as_str))
        };
        arn == self.running
            && tag(super::verified::VERIFIED) == Some("true")
            && tag(super::verified::VERSION) == Some(version)
    }

    /// One line when the family's latest revision is not what runs (after a rollback, or a release
    /// that registered but failed): the diff is against what runs.
    pub fn latest_not_running(&self) -> Option<String> {
        let (latest, _) = self.latest.as_ref()?;
        (*latest != self.running).then(|| {
            format!(
                "the family's latest revision {} is not what runs ({}): compared with what runs",
                short_arn(latest),
                short_arn(&self.running)
            )
        })
    }
}

/// `arn:aws:ecs:r:a:task-definition/web:42` -> `web:42`.
pub fn short_arn(arn: &str) -> &str {
    arn.rsplit_once("task-definition/").map_or(arn, |(_, t)| t)
}

fn without_tags(mut doc: Value) -> Value {
    if let Some(map) = doc.as_object_mut() {
        map.remove("tags");
    }
    doc
}

/// Reads the service, the template, the latest revision, the target groups and the verified history.
pub async fn plan(aws: &crate::aws::Aws, name: &str, env: &Environment) -> Result<DeployPlan, Error> {
    let svc = service::describe(&aws.ecs, &env.cluster, &env.service).await?;
    let strategy = strategy::choose(env.strategy, &svc.controller).map_err(|m| Error::StrategyMismatch {
        message: format!("{}/{}: {}", env.cluster, env.service, m.message),
        help: m.help,
    })?;
    let mut warnings = Vec::new();
    let running = svc.running().to_owned();
    let running_described = if running.is_empty() { None } else { Some(describe(&aws.ecs, &running).await?.1) };
    let template = match &env.task_definition {
        TaskDefinitionSource::File(path) => {
            let loaded = TaskDefinitionDoc::load(path)?;
            warnings.extend(loaded.warnings);
            loaded.doc
        }
        TaskDefinitionSource::FromService => match &running_described {
            Some(doc) => doc.clone(),
            None => describe(&aws.ecs, &svc.task_definition).await?.1,
        },
        // Only an environment with `services:` has none; it is planned service by service (`services.rs`).
        TaskDefinitionSource::Unset => {
            return Err(Error::SeveralServices {
                environment: name.to_owned(),
                command: "deploy",
                help: "plan each service of `services:` on its own".into(),
            });
        }
    };
    let latest = match describe(&aws.ecs, template.family()).await {
        Ok((arn, doc)) => Some((arn, doc.to_register_json())),
        Err(Error::Aws { code, .. }) if code == "ClientException" => None, // a new family
        Err(e) => return Err(e),
    };
    let running_doc = running_described.map(|doc| doc.to_register_json());
    // A failed release returns to what runs now, not to some older verified revision.
    let rollback_to = running.clone();

    let guard = &env.guard;
    let five_xx = guard.five_xx.clone().unwrap_or_default();
    // The 5xx guard is on by default for load-balanced services; named alarms alone turn it off.
    let wants_five_xx = guard.five_xx.is_some() || guard.alarms.is_empty();
    let codedeploy = env.codedeploy.as_ref().map(|c| CodeDeploySettings {
        application: c.application.clone(),
        deployment_group: c.deployment_group.clone(),
        config: c.config.clone(),
        wait_when_busy: c.on_busy == config::OnBusy::Wait,
        hooks: c.hooks.pairs(),
    });
    let blue_green = codedeploy.as_ref().filter(|_| strategy == Strategy::CodeDeploy);
    let ensure_alarms = if wants_five_xx { alarm_specs(aws, &svc, blue_green).await? } else { Vec::new() };
    if wants_five_xx && ensure_alarms.is_empty() {
        warnings.push(format!("{}/{} has no load balancer: no 5xx guard alarm", env.cluster, env.service));
    }
    let ecs_native = strategy.is_ecs_native().then_some(&svc);
    let verify = verify_plan(aws, env, blue_green, ecs_native).await?;
    let mut alarms: Vec<String> = ensure_alarms.iter().map(|a| a.name.clone()).collect();
    alarms.extend(guard.alarms.iter().cloned());

    if strategy == Strategy::CodeDeploy && codedeploy.is_none() {
        return Err(Error::StrategyMismatch {
            message: format!("environment `{name}` uses CodeDeploy but has no `codedeploy:` section"),
            help: "add `codedeploy: { application: ..., deployment-group: ... }` to the environment".into(),
        });
    }
    let plan = Ok::<_, Error>(DeployPlan {
        environment: name.to_owned(),
        strategy,
        container: env.container.clone(),
        sidecars: BTreeMap::new(),
        env: env.env.clone(),
        secrets: env.secrets.clone(),
        running,
        running_doc,
        latest,
        rollback_to,
        ensure_alarms,
        five_xx,
        alarms,
        codedeploy,
        watch: WatchSettings {
            poll: guard.poll_interval,
            timeout: env.timeout,
            bake: guard.bake,
            alarms: Vec::new(),
            on_cancel: env.on_cancel,
            transient_window: guard.transient_window,
            wait: env.wait,
        },
        before_deploy: env.before_deploy.iter().map(|s| s.run_task.clone()).collect(),
        verify,
        warnings,
        template,
        service: svc,
    })
    .map(|mut p| {
        p.watch.alarms = p.alarms.clone();
        p
    })
    .and_then(|p| {
        super::detach::check(&p)?;
        Ok(p)
    })?;
    bake_fits_termination_wait(aws, &plan).await?;
    Ok(plan)
}

/// The `verify:` checks and the URL of the test listener: the CodeDeploy group's, or for ECS-native blue/green the
/// listener of the service's `advancedConfiguration.testListenerRule` (read-only; a group without one is reported
/// by the preflight, at the config key).
async fn verify_plan(
    aws: &crate::aws::Aws,
    env: &Environment,
    codedeploy: Option<&CodeDeploySettings>,
    ecs_native: Option<&ServiceInfo>,
) -> Result<crate::verify::VerifyPlan, Error> {
    let mut plan = crate::verify::VerifyPlan { checks: env.verify.clone(), ..Default::default() };
    if let Some(svc) = ecs_native.filter(|_| !plan.checks.is_empty()) {
        if let Some(listener) = ecs_test_listener(aws, svc).await? {
            plan.test_url = Some(crate::verify::listener::url(&aws.elbv2, &listener).await?);
            plan.test_listener = Some(listener);
        }
        return Ok(plan);
    }
    let Some(cd) = codedeploy.filter(|_| !plan.checks.is_empty()) else { return Ok(plan) };
    if let super::group::GroupRead::Found(info) =
        super::group::read(&aws.codedeploy, &cd.application, &cd.deployment_group).await?
        && let Some(listener) = info.test_listener
    {
        plan.test_url = Some(crate::verify::listener::url(&aws.elbv2, &listener).await?);
        plan.test_listener = Some(listener);
    }
    Ok(plan)
}

/// The listener of an ECS-native service's test listener rule (an NLB names the listener itself, REFERENCE 2.6).
async fn ecs_test_listener(aws: &crate::aws::Aws, svc: &ServiceInfo) -> Result<Option<String>, Error> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(&svc.cluster)
        .services(&svc.name)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeServices", format!("{}/{}", svc.cluster, svc.name), e))?;
    let rule = out
        .services()
        .first()
        .and_then(|s| s.load_balancers().iter().find_map(|lb| lb.advanced_configuration()?.test_listener_rule()))
        .map(str::to_owned);
    Ok(rule.map(|r| listener_of_rule(&r)))
}

/// `...:listener-rule/app/<lb>/<id>/<listener id>/<rule id>` -> `...:listener/app/<lb>/<id>/<listener id>`.
fn listener_of_rule(rule: &str) -> String {
    match rule.split_once(":listener-rule/") {
        Some((head, path)) => {
            let listener_path = path.rsplit_once('/').map_or(path, |(l, _)| l);
            format!("{head}:listener/{listener_path}")
        }
        None => rule.to_owned(),
    }
}

/// CodeDeploy bakes during the original task set's termination wait: the group's wait must cover the bake.
async fn bake_fits_termination_wait(aws: &crate::aws::Aws, plan: &DeployPlan) -> Result<(), Error> {
    let bake = plan.watch.bake;
    let Some(cd) = plan.codedeploy.as_ref().filter(|_| plan.strategy == Strategy::CodeDeploy && !bake.is_zero()) else {
        return Ok(());
    };
    let wait = super::codedeploy::termination_wait(&aws.codedeploy, cd).await?;
    if wait.is_some_and(|w| w >= bake) {
        return Ok(());
    }
    Err(Error::BakeNotCovered {
        application: cd.application.clone(),
        group: cd.deployment_group.clone(),
        bake: bake.as_secs(),
        wait: wait.map_or_else(|| "none".to_owned(), |w| format!("{} min", w.as_secs() / 60)),
        minutes: bake.as_secs().div_ceil(60).max(1),
    })
}

/// One 5xx alarm per target group the service's traffic can reach, dimensioned through ELBv2:
/// the service's own, plus for CodeDeploy both target groups of the deployment group, since during
/// a blue/green shift the new revision answers from the other one.
async fn alarm_specs(
    aws: &crate::aws::Aws,
    svc: &ServiceInfo,
    codedeploy: Option<&CodeDeploySettings>,
) -> Result<Vec<AlarmSpec>, Error> {
    let mut groups = Vec::new();
    if !svc.target_groups.is_empty() {
        let arns: Vec<String> = svc.target_groups.iter().map(|t| t.arn.clone()).collect();
        let out = aws
            .elbv2
            .describe_target_groups()
            .set_target_group_arns(Some(arns.clone()))
            .send()
            .await
            .map_err(|e| Error::aws("DescribeTargetGroups", arns.join(", "), e))?;
        groups.extend(out.target_groups().iter().cloned());
    }
    if let Some(cd) = codedeploy {
        let names = deployment_group_target_groups(aws, cd).await?;
        let missing: Vec<String> =
            names.into_iter().filter(|n| !groups.iter().any(|g| g.target_group_name() == Some(n.as_str()))).collect();
        if !missing.is_empty() {
            let out = aws
                .elbv2
                .describe_target_groups()
                .set_names(Some(missing.clone()))
                .send()
                .await
                .map_err(|e| Error::aws("DescribeTargetGroups", missing.join(", "), e))?;
            groups.extend(out.target_groups().iter().cloned());
        }
    }
    let mut specs = Vec::new();
    for tg in &groups {
        let (Some(tg_arn), Some(tg_name), Some(lb_arn)) =
            (tg.target_group_arn(), tg.target_group_name(), tg.load_balancer_arns().first())
        else {
            continue;
        };
        if let Some((load_balancer, target_group)) = dimension_values(lb_arn, tg_arn) {
            specs.push(AlarmSpec {
                name: guard_alarm_name(&svc.cluster, &svc.name, tg_name),
                load_balancer,
                target_group,
            });
        }
    }
    Ok(specs)
}

/// The target group names of the deployment group's blue/green pair.
async fn deployment_group_target_groups(aws: &crate::aws::Aws, cd: &CodeDeploySettings) -> Result<Vec<String>, Error> {
    let out = aws
        .codedeploy
        .get_deployment_group()
        .application_name(&cd.application)
        .deployment_group_name(&cd.deployment_group)
        .send()
        .await
        .map_err(|e| Error::aws("GetDeploymentGroup", format!("{}/{}", cd.application, cd.deployment_group), e))?;
    let pairs =
        out.deployment_group_info().and_then(|g| g.load_balancer_info()).map(|l| l.target_group_pair_info_list());
    Ok(pairs
        .unwrap_or_default()
        .iter()
        .flat_map(|p| p.target_groups())
        .filter_map(|t| t.name().map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::deploy::strategy::{Controller, ControllerKind};
    use crate::deploy::verdict::RolloutState;
    use crate::deploy::watcher::WatchSettings;

    const ARN: &str = "arn:aws:ecs:us-east-1:000000000000:task-definition/web";

    fn doc(image: &str, tags: Value) -> Value {
        json!({
            "family": "web",
            "containerDefinitions": [{"name": "web", "image": image, "essential": true}],
            "tags": tags,
        })
    }

    /// What runs: revision 2 (v1.0.0, verified); the family's latest: revision 3.
    fn plan() -> DeployPlan {
        let template = TaskDefinitionDoc::from_value(doc("placeholder", json!([])), "test").unwrap().doc;
        let verified =
            json!([{"key": "pipeline:verified", "value": "true"}, {"key": "pipeline:version", "value": "1.0.0"}]);
        DeployPlan {
            environment: "prod".into(),
            service: ServiceInfo {
                cluster: "prod".into(),
                name: "web".into(),
                arn: String::new(),
                controller: Controller { kind: ControllerKind::Ecs, ecs_strategy: None },
                task_definition: format!("{ARN}:2"),
                desired_count: 1,
                running_count: 1,
                target_groups: Vec::new(),
                network: None,
                capacity_providers: Vec::new(),
                platform_version: None,
                launch_type: None,
                deployments: Vec::new(),
                primary_task_set: None,
                active_task_sets: Vec::new(),
                events: Vec::new(),
                deployment_alarms: None,
                circuit_breaker: None,
            },
            strategy: Strategy::Rolling,
            template,
            container: "web".into(),
            sidecars: BTreeMap::new(),
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            running: format!("{ARN}:2"),
            running_doc: Some(doc("web@sha256:old", verified)),
            latest: Some((format!("{ARN}:3"), doc("web@sha256:new", json!([])))),
            rollback_to: format!("{ARN}:2"),
            ensure_alarms: Vec::new(),
            five_xx: FiveXx::default(),
            alarms: Vec::new(),
            codedeploy: None,
            watch: WatchSettings {
                poll: std::time::Duration::from_millis(50),
                timeout: std::time::Duration::from_secs(60),
                bake: std::time::Duration::ZERO,
                alarms: Vec::new(),
                on_cancel: config::OnCancel::Rollback,
                transient_window: std::time::Duration::from_secs(180),
                wait: true,
            },
            before_deploy: Vec::new(),
            verify: Default::default(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn the_diff_is_against_what_runs_not_the_familys_latest() {
        let plan = plan();
        // The release the rollback left behind: equal to the latest revision, not to what runs.
        let diff = plan.diff("web@sha256:new").unwrap();
        assert!(!diff.is_empty());
        assert!(diff.to_string().contains("web@sha256:old") && diff.to_string().contains("web@sha256:new"), "{diff}");
        assert_eq!(plan.reusable("web@sha256:new").unwrap(), Some(format!("{ARN}:3")), "no new revision");
        assert_eq!(plan.reusable("web@sha256:old").unwrap(), Some(format!("{ARN}:2")));
        assert!(plan.diff("web@sha256:old").unwrap().is_empty());
        assert_eq!(plan.reusable("web@sha256:other").unwrap(), None);
        assert_eq!(
            plan.latest_not_running().as_deref(),
            Some("the family's latest revision web:3 is not what runs (web:2): compared with what runs")
        );
    }

    fn deployment(status: DeploymentStatus, revision: u32, rollout: RolloutState) -> DeploymentView {
        DeploymentView {
            id: format!("ecs-svc/{revision}"),
            status,
            task_definition: format!("{ARN}:{revision}"),
            rollout_state: Some(rollout),
            rollout_state_reason: None,
            running: 1,
            desired: 1,
            failed_tasks: 0,
        }
    }

    #[test]
    fn a_service_already_runs_a_revision_when_it_is_primary_settled_and_alone_but_for_a_draining_one() {
        use DeploymentStatus::{Active, Inactive, Primary};
        use RolloutState::{Completed, InProgress};
        let with = |deployments: Vec<DeploymentView>| {
            let mut plan = plan();
            plan.service.deployments = deployments;
            plan
        };
        let two = format!("{ARN}:2");
        assert!(with(vec![deployment(Primary, 2, Completed)]).already_runs(&two));
        assert!(!with(vec![deployment(Primary, 2, Completed)]).already_runs(&format!("{ARN}:3")));
        assert!(!with(vec![deployment(Primary, 2, InProgress)]).already_runs(&two), "still rolling out");
        assert!(!with(vec![deployment(Active, 1, Completed), deployment(Primary, 2, Completed)]).already_runs(&two));
        // CodeDeploy: the blue task set of the release before drains after the deployment succeeded.
        let mut blue_green = with(vec![deployment(Inactive, 1, Completed), deployment(Primary, 2, Completed)]);
        blue_green.service.controller.kind = ControllerKind::CodeDeploy;
        blue_green.service.primary_task_set = Some(two.clone());
        assert!(blue_green.already_runs(&two), "a draining task set serves nothing");
        blue_green.service.primary_task_set = Some(format!("{ARN}:1"));
        assert!(!blue_green.already_runs(&two), "what runs is the PRIMARY task set");
        assert!(!with(Vec::new()).already_runs(&two), "no deployment to say it settled");
    }

    #[test]
    fn a_rerun_of_the_verified_release_that_runs_marks_nothing() {
        let plan = plan();
        assert!(plan.runs_verified(&format!("{ARN}:2"), "1.0.0"));
        assert!(!plan.runs_verified(&format!("{ARN}:2"), "1.0.1"));
        assert!(!plan.runs_verified(&format!("{ARN}:3"), "1.0.0"));
    }
}

//! Task sets of CODE_DEPLOY services (REFERENCE 2.3, 3.5), and the small API CodeDeploy drives them with.
//! A task set is stored as a `Deployment` with `task_set` info, so the same scheduler runs its tasks.

use serde_json::{Value, json};

use super::services::{Deployment, Service, TaskSetInfo};
use super::{EcsState, new_deployment_id};
use crate::Ctx;

/// Progress of one task set as CodeDeploy reports it in `taskSetsInfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSetProgress {
    pub desired: u32,
    pub pending: u32,
    pub running: u32,
    /// Running long enough to count as healthy (see `tasks.rs`).
    pub healthy: u32,
    pub failed: u32,
    pub status: String,
    pub task_definition: String,
}

/// Adds a task set running `task_definition` (PRIMARY for the service's first one) and returns its id.
pub fn add_task_set(
    s: &mut Service,
    ctx: &Ctx,
    task_definition: &str,
    external_id: Option<String>,
    primary: bool,
) -> String {
    let id = new_deployment_id();
    let now = super::now();
    let suffix = id.trim_start_matches("ecs-svc/");
    let started_by = external_id.clone().unwrap_or_else(|| "CodeDeploy".into());
    s.deployments.push(Deployment {
        id: id.clone(),
        arn: ctx.arn("ecs", &format!("service-deployment/{}/{}/{suffix}", s.cluster, s.name)),
        status: if primary { "PRIMARY" } else { "ACTIVE" }.into(),
        task_definition: task_definition.to_owned(),
        previous_task_definition: Some(s.task_definition.clone()),
        sources: Vec::new(),
        target: 0,
        failed_tasks: 0,
        rollout_state: "IN_PROGRESS".into(),
        rollout_reason: String::new(),
        created_at: now,
        updated_at: now,
        launch_type: s.launch_type.clone(),
        network_configuration: s.network_configuration.clone(),
        platform_version: s.platform_version.clone(),
        sd_status: "IN_PROGRESS".into(),
        sd_reason: None,
        finished_at: None,
        rollback_of: None,
        halted: false,
        bake_until: None,
        triggered_alarms: Vec::new(),
        target_group: None,
        native: None,
        task_set: Some(TaskSetInfo {
            arn: ctx.arn("ecs", &format!("task-set/{}/{}/{id}", s.cluster, s.name)),
            external_id,
            started_by,
            scale: 100.0,
            target_group: None,
        }),
    });
    id
}

/// Moves a service between the ECS and CODE_DEPLOY controllers (REFERENCE 2.2: the controller may change
/// after creation): the PRIMARY deployment becomes the PRIMARY task set or the other way round, and everything
/// else drains.
pub fn switch_controller(s: &mut Service, ctx: &Ctx, to: &str) {
    let (cluster, name) = (s.cluster.clone(), s.name.clone());
    for d in &mut s.deployments {
        let primary = d.status == "PRIMARY";
        if to == "CODE_DEPLOY" {
            d.task_set = Some(TaskSetInfo {
                arn: ctx.arn("ecs", &format!("task-set/{cluster}/{name}/{}", d.id)),
                external_id: None,
                started_by: d.id.clone(),
                scale: 100.0,
                target_group: None,
            });
            if !primary {
                d.status = "DRAINING".into();
                d.target = 0;
            }
        } else {
            d.task_set = None;
            if !primary {
                d.status = "ACTIVE".into();
                d.target = 0;
            }
        }
    }
    s.controller = to.to_owned();
    s.event(format!("deployment controller changed to {to}."));
}

pub fn task_set_json(ecs: &EcsState, s: &Service, d: &Deployment) -> Value {
    let (pending, running) = super::rollout::counts(ecs, s, &d.id);
    let info = d.task_set.as_ref();
    let steady = pending == 0 && running == d.target;
    let mut v = json!({
        "id": d.id,
        "taskSetArn": info.map(|i| i.arn.clone()),
        "serviceArn": s.arn,
        "clusterArn": s.cluster_arn,
        "status": d.status,
        "taskDefinition": d.task_definition,
        "computedDesiredCount": d.target,
        "pendingCount": pending,
        "runningCount": running,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "loadBalancers": s.load_balancers,
        "scale": {"value": info.map_or(100.0, |i| i.scale), "unit": "PERCENT"},
        "stabilityStatus": if steady { "STEADY_STATE" } else { "STABILIZING" },
        "stabilityStatusAt": d.updated_at,
    });
    if let Some(i) = info {
        v["startedBy"] = json!(i.started_by);
        if let Some(e) = &i.external_id {
            v["externalId"] = json!(e);
        }
    }
    if let Some(l) = &d.launch_type {
        v["launchType"] = json!(l);
    }
    if !d.network_configuration.is_null() {
        v["networkConfiguration"] = d.network_configuration.clone();
    }
    v
}

impl EcsState {
    /// Creates a replacement (ACTIVE) task set on a CODE_DEPLOY service; `None` if the service is gone.
    pub fn create_task_set(
        &mut self,
        ctx: &Ctx,
        cluster: &str,
        service: &str,
        task_definition: &str,
        external_id: &str,
        network_configuration: Option<&Value>,
    ) -> Option<String> {
        let s = self.service_mut(cluster, service)?;
        let id = add_task_set(s, ctx, task_definition, Some(external_id.to_owned()), false);
        if let Some(n) = network_configuration
            && let Some(d) = s.deployment_mut(&id)
        {
            d.network_configuration = n.clone();
        }
        Some(id)
    }

    /// Makes a task set's tasks register in `target_group` (a name or ARN) instead of the service's own.
    pub fn set_task_set_target_group(&mut self, cluster: &str, service: &str, id: &str, target_group: &str) {
        if let Some(info) =
            self.service_mut(cluster, service).and_then(|s| s.deployment_mut(id)).and_then(|d| d.task_set.as_mut())
        {
            info.target_group = Some(target_group.to_owned());
        }
    }

    pub fn task_set_progress(&self, cluster: &str, service: &str, id: &str) -> Option<TaskSetProgress> {
        let s = self.service(cluster, service)?;
        let d = s.deployments.iter().find(|d| d.id == id)?;
        let (pending, running) = super::rollout::counts(self, s, id);
        Some(TaskSetProgress {
            desired: d.target,
            pending,
            running,
            healthy: super::rollout::healthy(self, s, id),
            failed: d.failed_tasks,
            status: d.status.clone(),
            task_definition: d.task_definition.clone(),
        })
    }

    /// Makes a task set PRIMARY (the others ACTIVE): the service now runs its task definition.
    pub fn set_primary_task_set(&mut self, cluster: &str, service: &str, id: &str) {
        let Some(s) = self.service_mut(cluster, service) else { return };
        let Some(td) = s.deployments.iter().find(|d| d.id == id).map(|d| d.task_definition.clone()) else { return };
        let now = super::now();
        for d in &mut s.deployments {
            let status = if d.id == id {
                "PRIMARY"
            } else if d.status == "DRAINING" {
                "DRAINING"
            } else {
                "ACTIVE"
            };
            if d.status != status {
                d.status = status.into();
                d.updated_at = now;
            }
        }
        s.task_definition = td.clone();
        s.event(format!("updated the primary task set to {id} (task definition {td})."));
    }

    /// Scales a task set to zero and removes it once its tasks are stopped.
    pub fn drain_task_set(&mut self, cluster: &str, service: &str, id: &str) {
        let Some(s) = self.service_mut(cluster, service) else { return };
        if let Some(d) = s.deployment_mut(id)
            && d.status != "PRIMARY"
        {
            d.status = "DRAINING".into();
            d.target = 0;
            d.updated_at = super::now();
        }
    }

    /// Drains every task set of the service except `keep` (leftovers of a stopped deployment, say).
    pub fn drain_other_task_sets(&mut self, cluster: &str, service: &str, keep: &str) {
        let ids: Vec<String> = self
            .service(cluster, service)
            .map(|s| {
                s.deployments.iter().filter(|d| d.id != keep && d.status == "ACTIVE").map(|d| d.id.clone()).collect()
            })
            .unwrap_or_default();
        for id in ids {
            self.drain_task_set(cluster, service, &id);
        }
    }

    /// The PRIMARY task set of a CODE_DEPLOY service (the "blue" one before a deployment).
    pub fn primary_task_set(&self, cluster: &str, service: &str) -> Option<String> {
        let s = self.service(cluster, service)?;
        s.primary().map(|d| d.id.clone())
    }
}

/// DescribeTaskSets: the task sets of a CODE_DEPLOY service, all or the ones named by id or ARN.
pub fn describe(ecs: &mut EcsState, input: &Value) -> crate::AwsResult<Value> {
    let cluster = ecs.cluster_name(super::str_field(input, "cluster"))?;
    let name = super::str_field(input, "service").map(super::last_segment).unwrap_or_default();
    let s = ecs
        .service(&cluster, name)
        .ok_or_else(|| crate::AwsError::client("ServiceNotFoundException", "Service not found."))?;
    let wanted = super::string_list(input, "taskSets");
    let (mut sets, mut failures) = (Vec::new(), Vec::new());
    if s.controller == "CODE_DEPLOY" {
        for d in &s.deployments {
            let arn = d.task_set.as_ref().map(|t| t.arn.as_str()).unwrap_or_default();
            if wanted.is_empty() || wanted.iter().any(|w| *w == d.id || w == arn) {
                sets.push(task_set_json(ecs, s, d));
            }
        }
    }
    for w in &wanted {
        if !s.deployments.iter().any(|d| *w == d.id || d.task_set.as_ref().is_some_and(|t| t.arn == *w)) {
            failures.push(json!({"arn": w, "reason": "MISSING"}));
        }
    }
    Ok(json!({ "taskSets": sets, "failures": failures }))
}

//! Scheduled jobs through EventBridge Scheduler (REFERENCE A1): `schedules:` reconciled into the one schedule group
//! the tool owns (created, updated, and deleted when the config no longer names them; nothing outside the group,
//! and no pending one-time run, is touched), and one-time runs (`run-task --at`) that delete themselves after.

pub mod at;
pub mod diff;
pub mod spec;

use std::collections::BTreeMap;

use aws_sdk_scheduler::error::ProvideErrorMetadata as _;
use serde::Serialize;

use self::diff::{Action, ScheduleChange};
use self::spec::{ScheduleSpec, overrides_input};
use super::job::{self, Defaults, JobDefinition, JobPlan};
use super::payload;
use crate::Error;
use crate::aws::Aws;
use crate::config::schedule::ONE_TIME_PREFIX;
use crate::config::{Config, SchedulerSettings};
use crate::ecs::service::ServiceInfo;
use crate::report::{Reporter, Stage};

/// What reconciling the schedules would do.
#[derive(Debug, Clone, Serialize)]
pub struct SchedulesPlan {
    pub group: String,
    /// The group does not exist yet.
    pub create_group: bool,
    pub changes: Vec<ScheduleChange>,
    #[serde(skip)]
    pub desired: Vec<Desired>,
}

#[derive(Debug, Clone)]
pub struct Desired {
    pub spec: ScheduleSpec,
    pub job: JobPlan,
}

impl SchedulesPlan {
    pub fn changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Unchanged)
    }

    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.create_group {
            lines.push(format!("schedule group {}: create", self.group));
        }
        lines.extend(self.changes.iter().map(|c| c.describe(&self.group)));
        if lines.is_empty() {
            lines.push(format!("schedule group {}: no schedules", self.group));
        }
        lines
    }
}

/// Where the jobs run: the environment's name, its defaults, its service (when it has one).
pub struct Context<'a> {
    pub environment: Option<&'a str>,
    pub defaults: Defaults,
    pub service: Option<&'a ServiceInfo>,
}

/// The revision schedules of tasks without their own run: `None` outside a release (the service's running
/// revision), `Some(None)` in a release before it registered, `Some(Some(arn))` once known.
pub type Released = Option<Option<String>>;

/// The schedule group of this config and environment.
pub fn group(config: &Config, environment: Option<&str>) -> String {
    SchedulerSettings::group_for(config.scheduler.as_ref(), &config.image.repository, environment)
}

/// Plans the reconciliation; `None` when the config has no `schedules:` (then the tool leaves schedules alone).
pub async fn plan(
    aws: &Aws,
    config: &Config,
    ctx: &Context<'_>,
    released: Released,
) -> Result<Option<SchedulesPlan>, Error> {
    let Some(schedules) = &config.schedules else { return Ok(None) };
    let group = group(config, ctx.environment);
    let create_group = !group_exists(aws, &group).await?;
    let existing = if create_group { Vec::new() } else { existing(aws, &group).await? };
    let role = config.scheduler.as_ref().map(|s| s.role_arn.clone()).unwrap_or_default();
    let mut clusters = BTreeMap::new();
    let mut desired = Vec::new();
    for (name, schedule) in schedules {
        let task = config.task(&schedule.task)?;
        let mut values = schedule.env.clone();
        if let Some(file) = &schedule.env_file {
            values.extend(payload::read_env_file(file)?);
        }
        let job =
            job::plan(&aws.ecs, &schedule.task, task, &ctx.defaults, ctx.service, &values, released.is_some()).await?;
        let cluster_arn = match clusters.get(&job.cluster) {
            Some(arn) => String::clone(arn),
            None => {
                let arn = cluster_arn(aws, &job.cluster).await?;
                clusters.insert(job.cluster.clone(), arn.clone());
                arn
            }
        };
        let task_definition = match &job.definition {
            JobDefinition::Registered { arn } => Some(arn.clone()),
            JobDefinition::Register { .. } => None,
            JobDefinition::Released => released.clone().flatten(),
        };
        let spec = ScheduleSpec {
            name: name.clone(),
            expression: schedule.expression(),
            timezone: schedule.timezone.clone(),
            flexible_minutes: (schedule.flexible_window.as_secs() / 60) as u32,
            enabled: schedule.enabled,
            description: Some(
                schedule.description.clone().unwrap_or_else(|| format!("pipeline: task {}", schedule.task)),
            ),
            delete_after: false,
            cluster_arn,
            role_arn: role.clone(),
            task_definition,
            launch: job.launch.clone(),
            network: job.network.clone(),
            input: overrides_input(&job.container, &job.command, &job.env),
        };
        desired.push(Desired { spec, job });
    }
    let specs: Vec<ScheduleSpec> = desired.iter().map(|d| d.spec.clone()).collect();
    let changes = diff::diff(&specs, &existing);
    Ok(Some(SchedulesPlan { group, create_group, changes, desired }))
}

/// Carries out a plan. `released` is the revision a release registered, for tasks that run it.
pub async fn apply(
    aws: &Aws,
    plan: &SchedulesPlan,
    released: Option<&str>,
    reporter: &mut Reporter,
) -> Result<(), Error> {
    if plan.create_group {
        create_group(aws, &plan.group).await?;
    }
    let mut registered: BTreeMap<String, String> = BTreeMap::new();
    for change in &plan.changes {
        match change.action {
            Action::Unchanged => continue,
            Action::Delete => {
                aws.scheduler
                    .delete_schedule()
                    .name(&change.name)
                    .group_name(&plan.group)
                    .send()
                    .await
                    .map_err(|e| Error::aws("DeleteSchedule", &change.name, e))?;
            }
            Action::Create | Action::Update => {
                let Some(d) = plan.desired.iter().find(|d| d.spec.name == change.name) else { continue };
                let td = match (&d.spec.task_definition, registered.get(&d.job.name)) {
                    (Some(td), _) => td.clone(),
                    (None, Some(td)) => td.clone(),
                    (None, None) => {
                        let td = job::ensure_registered(&aws.ecs, &d.job, released).await?;
                        registered.insert(d.job.name.clone(), td.clone());
                        td
                    }
                };
                put(aws, &plan.group, &d.spec, &td, change.action == Action::Create).await?;
            }
        }
        reporter.progress(Stage::Schedule, change.describe(&plan.group));
    }
    reporter.finished(Stage::Schedule, format!("schedule group {} matches the config", plan.group));
    Ok(())
}

/// Creates a one-time schedule for a job (`run-task --at`), deleted by EventBridge Scheduler after its run.
pub async fn create_one_time(aws: &Aws, group: &str, spec: &ScheduleSpec, job: &JobPlan) -> Result<String, Error> {
    if !group_exists(aws, group).await? {
        create_group(aws, group).await?;
    }
    let td = match &spec.task_definition {
        Some(td) => td.clone(),
        None => job::ensure_registered(&aws.ecs, job, None).await?,
    };
    put(aws, group, spec, &td, true).await
}

/// The one-time run's schedule.
pub async fn one_time_spec(
    aws: &Aws,
    name: &str,
    expression: String,
    role_arn: &str,
    job: &JobPlan,
) -> Result<ScheduleSpec, Error> {
    Ok(ScheduleSpec {
        name: at::one_time_name(name, &expression),
        expression,
        timezone: Some("UTC".into()),
        flexible_minutes: 0,
        enabled: true,
        description: Some(format!("pipeline: one run of task {name}")),
        delete_after: true,
        cluster_arn: cluster_arn(aws, &job.cluster).await?,
        role_arn: role_arn.to_owned(),
        task_definition: match &job.definition {
            JobDefinition::Registered { arn } => Some(arn.clone()),
            _ => None,
        },
        launch: job.launch.clone(),
        network: job.network.clone(),
        input: overrides_input(&job.container, &job.command, &job.env),
    })
}

/// CreateSchedule or UpdateSchedule (which replaces the whole schedule: every member is sent). The ARN.
async fn put(aws: &Aws, group: &str, spec: &ScheduleSpec, td: &str, create: bool) -> Result<String, Error> {
    let target = spec.target(td)?;
    let window = spec.window()?;
    let arn = if create {
        aws.scheduler
            .create_schedule()
            .name(&spec.name)
            .group_name(group)
            .schedule_expression(&spec.expression)
            .set_schedule_expression_timezone(spec.timezone.clone())
            .flexible_time_window(window)
            .state(spec.state())
            .set_description(spec.description.clone())
            .action_after_completion(spec.after_completion())
            .target(target)
            .send()
            .await
            .map_err(|e| Error::aws("CreateSchedule", &spec.name, e))?
            .schedule_arn
    } else {
        aws.scheduler
            .update_schedule()
            .name(&spec.name)
            .group_name(group)
            .schedule_expression(&spec.expression)
            .set_schedule_expression_timezone(spec.timezone.clone())
            .flexible_time_window(window)
            .state(spec.state())
            .set_description(spec.description.clone())
            .action_after_completion(spec.after_completion())
            .target(target)
            .send()
            .await
            .map_err(|e| Error::aws("UpdateSchedule", &spec.name, e))?
            .schedule_arn
    };
    Ok(arn)
}

async fn group_exists(aws: &Aws, group: &str) -> Result<bool, Error> {
    match aws.scheduler.get_schedule_group().name(group).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
        Err(e) => Err(Error::aws("GetScheduleGroup", group, e)),
    }
}

async fn create_group(aws: &Aws, group: &str) -> Result<(), Error> {
    match aws.scheduler.create_schedule_group().name(group).send().await {
        Ok(_) => Ok(()),
        // Created meanwhile (another run): it is ours all the same.
        Err(e) if e.code() == Some("ConflictException") => Ok(()),
        Err(e) => Err(Error::aws("CreateScheduleGroup", group, e)),
    }
}

/// The schedules of the group the tool manages: all but pending one-time runs.
async fn existing(aws: &Aws, group: &str) -> Result<Vec<ScheduleSpec>, Error> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let out = aws
            .scheduler
            .list_schedules()
            .group_name(group)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::aws("ListSchedules", group, e))?;
        names.extend(out.schedules().iter().filter_map(|s| s.name()).map(str::to_owned));
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut specs = Vec::new();
    for name in names.into_iter().filter(|n| !n.starts_with(ONE_TIME_PREFIX)) {
        let out = aws
            .scheduler
            .get_schedule()
            .name(&name)
            .group_name(group)
            .send()
            .await
            .map_err(|e| Error::aws("GetSchedule", &name, e))?;
        specs.push(ScheduleSpec::from_sdk(&name, &out));
    }
    Ok(specs)
}

/// A schedule's ECS target names the cluster by ARN.
async fn cluster_arn(aws: &Aws, cluster: &str) -> Result<String, Error> {
    let out = aws
        .ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeClusters", cluster, e))?;
    out.clusters()
        .iter()
        .find(|c| c.status() == Some("ACTIVE"))
        .and_then(|c| c.cluster_arn())
        .map(str::to_owned)
        .ok_or_else(|| Error::JobSetup {
            message: format!("ECS cluster `{cluster}` not found"),
            help: "check `cluster` of the task or the environment".into(),
        })
}

/// The scheduler settings a schedule or one-time run needs.
pub fn role_arn(config: &Config) -> Result<&str, Error> {
    config.scheduler.as_ref().map(|s| s.role_arn.as_str()).ok_or_else(|| Error::JobSetup {
        message: "running a job at a time needs `scheduler.role-arn` in the config".into(),
        help: "add `scheduler: { role-arn: arn:aws:iam::<account>:role/<role EventBridge Scheduler assumes> }`".into(),
    })
}

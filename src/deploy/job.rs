//! A job (`tasks.<name>`) resolved into what RunTask or a schedule's ECS target needs: the cluster, the task
//! definition (the service's, a registered family, or the task's own file registered when it changed), the
//! container and its payload, the launch type or capacity providers, and the network. Each comes from the task's
//! config first, then from the environment's service when there is one (read-only: planning).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::appspec::{Awsvpc, CapacityProvider};
use super::run_task::{Launch, RunTaskRequest};
use crate::Error;
use crate::config::{Environment, Task, TaskDefinitionRef};
use crate::ecs::revision;
use crate::ecs::service::ServiceInfo;
use crate::task_definition::{self, RenderInput, TaskDefinitionDoc};

/// Which revision the job runs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JobDefinition {
    /// A registered revision: the service's, a family's latest, or the task's own file when it is unchanged.
    Registered { arn: String },
    /// The task's own file, registered first: it differs from the latest revision of its family (or is new).
    Register {
        family: String,
        #[serde(skip)]
        doc: Box<TaskDefinitionDoc>,
    },
    /// The revision the release registers (before-deploy tasks, schedules reconciled by `release`).
    Released,
}

/// A job ready to run or to schedule.
#[derive(Debug, Clone, Serialize)]
pub struct JobPlan {
    pub name: String,
    pub cluster: String,
    pub definition: JobDefinition,
    pub container: String,
    pub command: Vec<String>,
    /// The task's `env`, then the payload on top. Values only: they never pass through a shell.
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    pub network: Option<Awsvpc>,
    pub launch: Launch,
    pub timeout: Duration,
    pub poll: Duration,
    pub transient_window: Duration,
}

impl JobPlan {
    /// The RunTask request for a registered revision.
    pub fn request(&self, task_definition: &str) -> RunTaskRequest {
        RunTaskRequest {
            name: self.name.clone(),
            cluster: self.cluster.clone(),
            task_definition: task_definition.to_owned(),
            container: self.container.clone(),
            command: self.command.clone(),
            env: self.env.clone(),
            network: self.network.clone(),
            launch: self.launch.clone(),
            poll: self.poll,
            timeout: self.timeout,
            transient_window: self.transient_window,
        }
    }

    /// The plan line: what runs where.
    pub fn describe(&self) -> String {
        let definition = match &self.definition {
            JobDefinition::Registered { arn } => arn.clone(),
            JobDefinition::Register { family, .. } => format!("{family} (a new revision of the task's own file)"),
            JobDefinition::Released => "the released revision".into(),
        };
        let placement = match (&self.launch.launch_type, self.launch.capacity_providers.is_empty()) {
            (Some(l), _) => format!(", {l}"),
            (None, false) => {
                let names: Vec<&str> = self.launch.capacity_providers.iter().map(|c| c.name.as_str()).collect();
                format!(", capacity providers {}", names.join(", "))
            }
            (None, true) => String::new(),
        };
        format!(
            "job `{}`: {definition} in cluster {}{placement}, container {}",
            self.name, self.cluster, self.container
        )
    }
}

/// What a job borrows from where it runs when its task config does not say: the environment's (or the
/// release's) cluster, container and poll interval.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub cluster: Option<String>,
    pub container: Option<String>,
    pub poll: Option<Duration>,
    /// How long transient AWS faults are retried while the job runs (`guard.transient-window`).
    pub transient_window: Option<Duration>,
}

impl Defaults {
    pub fn of(env: Option<&Environment>) -> Self {
        Self {
            cluster: env.map(|e| e.cluster.clone()),
            container: env.map(|e| e.container.clone()),
            poll: env.map(|e| e.guard.poll_interval),
            transient_window: env.map(|e| e.guard.transient_window),
        }
    }
}

/// Whether planning the job needs the environment's service (its revision, network or placement).
pub fn needs_service(task: &Task) -> bool {
    task.task_definition.is_none()
        || task.subnets.is_empty()
        || (task.launch_type.is_none() && task.capacity_provider_strategy.is_empty())
}

/// Resolves a job. `definition` is given when the caller knows the revision already (a release's); otherwise the
/// task's own, else the service's running revision.
pub async fn plan(
    ecs: &aws_sdk_ecs::Client,
    name: &str,
    task: &Task,
    defaults: &Defaults,
    service: Option<&ServiceInfo>,
    payload: &BTreeMap<String, String>,
    released: bool,
) -> Result<JobPlan, Error> {
    let cluster = task.cluster.clone().or_else(|| defaults.cluster.clone()).ok_or_else(|| Error::JobSetup {
        message: format!("task `{name}` names no cluster and no environment gives one"),
        help: format!("add `cluster:` to `tasks.{name}`, or run with --env"),
    })?;
    // The revision, and its document when the job has its own (for the container and the launch type).
    let (definition, doc) = match &task.task_definition {
        Some(TaskDefinitionRef::File(path)) => {
            let loaded = TaskDefinitionDoc::load(path)?;
            let mut doc = loaded.doc;
            if let Some(image) = &task.image {
                let container = task.container.clone().or_else(|| first_essential(&doc)).unwrap_or_default();
                let none = BTreeMap::new();
                doc = task_definition::render(
                    &doc,
                    &RenderInput { container: &container, image, env: &none, secrets: &none },
                )?;
            }
            (registered_equal(ecs, &doc).await?, Some(doc))
        }
        Some(TaskDefinitionRef::Family(family)) => {
            let (arn, doc) = revision::describe(ecs, family).await?;
            (JobDefinition::Registered { arn }, Some(doc))
        }
        None if released => (JobDefinition::Released, None),
        None => {
            let svc = service.ok_or_else(|| Error::JobSetup {
                message: format!(
                    "task `{name}` has no task definition of its own and no environment's service to borrow one from"
                ),
                help: format!("add `task-definition:` (a file or a family) to `tasks.{name}`, or run with --env"),
            })?;
            (JobDefinition::Registered { arn: svc.task_definition.clone() }, None)
        }
    };
    let container = match (&task.container, &doc) {
        (Some(c), _) => c.clone(),
        (None, Some(doc)) => first_essential(doc).unwrap_or_default(),
        (None, None) => defaults.container.clone().unwrap_or_default(),
    };
    let mut launch = Launch {
        launch_type: task.launch_type.map(|l| l.as_str().to_owned()),
        capacity_providers: task
            .capacity_provider_strategy
            .iter()
            .map(|c| CapacityProvider { name: c.capacity_provider.clone(), base: c.base, weight: c.weight })
            .collect(),
        platform_version: task.platform_version.clone().or_else(|| service.and_then(|s| s.platform_version.clone())),
    };
    if launch.launch_type.is_none() && launch.capacity_providers.is_empty() {
        match service {
            Some(svc) if !svc.capacity_providers.is_empty() => {
                launch.capacity_providers = svc.capacity_providers.clone()
            }
            Some(svc) if svc.launch_type.is_some() => launch.launch_type = svc.launch_type.clone(),
            // A job of its own on Fargate-only task definitions must say so, or ECS would place it on EC2.
            _ => launch.launch_type = doc.as_ref().and_then(fargate_only),
        }
    }
    let network = if task.subnets.is_empty() {
        service.and_then(|s| s.network.clone())
    } else {
        Some(Awsvpc {
            subnets: task.subnets.clone(),
            security_groups: task.security_groups.clone(),
            assign_public_ip: Some(if task.assign_public_ip { "ENABLED" } else { "DISABLED" }.into()),
        })
    };
    let mut values = task.env.clone();
    values.extend(payload.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(JobPlan {
        name: name.to_owned(),
        cluster,
        definition,
        container,
        command: task.command.clone(),
        env: values,
        network,
        launch,
        timeout: task.timeout,
        poll: defaults.poll.unwrap_or(Duration::from_secs(1)),
        transient_window: defaults.transient_window.unwrap_or(crate::config::Guard::default().transient_window),
    })
}

/// Registers the job's own revision when planned; the ARN the job runs. `released` is the release's revision.
pub async fn ensure_registered(
    ecs: &aws_sdk_ecs::Client,
    plan: &JobPlan,
    released: Option<&str>,
) -> Result<String, Error> {
    match &plan.definition {
        JobDefinition::Registered { arn } => Ok(arn.clone()),
        JobDefinition::Released => released.map(str::to_owned).ok_or_else(|| Error::JobSetup {
            message: format!("task `{}` runs the released revision, and there is none", plan.name),
            help: "give the task its own `task-definition:`".into(),
        }),
        JobDefinition::Register { doc, .. } => {
            let input = doc.to_sdk_input()?;
            let out =
                input.fluent(ecs)?.send().await.map_err(|e| Error::aws("RegisterTaskDefinition", doc.family(), e))?;
            Ok(out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_owned())
        }
    }
}

/// The latest revision of the document's family when it equals the document, else a registration.
async fn registered_equal(ecs: &aws_sdk_ecs::Client, doc: &TaskDefinitionDoc) -> Result<JobDefinition, Error> {
    let register = || JobDefinition::Register { family: doc.family().to_owned(), doc: Box::new(doc.clone()) };
    match revision::describe(ecs, doc.family()).await {
        Ok((arn, latest)) => {
            let same = task_definition::diff(&untagged(latest.to_register_json()), &untagged(doc.to_register_json()));
            Ok(if same.is_empty() { JobDefinition::Registered { arn } } else { register() })
        }
        Err(Error::Aws { code, .. }) if code == "ClientException" => Ok(register()), // a new family
        Err(e) => Err(e),
    }
}

fn untagged(mut doc: Value) -> Value {
    if let Some(map) = doc.as_object_mut() {
        map.remove("tags");
    }
    doc
}

fn first_essential(doc: &TaskDefinitionDoc) -> Option<String> {
    doc.containers()
        .iter()
        .find(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true))
        .and_then(|c| c.get("name").and_then(Value::as_str))
        .map(str::to_owned)
}

/// `FARGATE` when the document requires Fargate and nothing else.
fn fargate_only(doc: &TaskDefinitionDoc) -> Option<String> {
    let compat = doc.as_map().get("requiresCompatibilities")?.as_array()?;
    (compat.len() == 1 && compat[0] == "FARGATE").then(|| "FARGATE".to_owned())
}

/// The essential containers of a revision (DescribeTaskDefinition), for judging a task's exit.
pub async fn essential_containers(ecs: &aws_sdk_ecs::Client, task_definition: &str) -> Result<Vec<String>, Error> {
    let (_, doc) = revision::describe(ecs, task_definition).await?;
    Ok(doc
        .containers()
        .iter()
        .filter(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true))
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

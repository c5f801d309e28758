//! `tasks.<name>`: a one-off job (a migration, a data load). It runs from the environment's task definition with
//! overrides, or from its own task definition file or family with its own image; where it runs (cluster, network,
//! launch type or capacity providers) comes from the task, else from the environment's service.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::duration::{self, DurationSchema};
use super::environment::Environment;
use super::model::ScalarString;

/// A one-off job run by `pipeline run-task NAME`, by `before-deploy`, or on a schedule.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Task {
    /// The container to run the command in; default: the environment's `container`, or the task definition's
    /// first essential container.
    #[serde(default)]
    pub container: Option<String>,
    /// The command, one argument per item (no shell); empty: the task definition's own command.
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment variables set for this run.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ScalarString>")]
    pub env: BTreeMap<String, String>,
    /// The task's own task definition: a JSON or YAML file (relative to the config file) registered when it
    /// changes, or a registered family (`psql-load`, `psql-load:3`, or an ARN). Default: the environment's.
    #[serde(default)]
    pub task_definition: Option<TaskDefinitionRef>,
    /// The image of `container` in the task's own task definition file, e.g. `postgres:16`; default: the file's.
    #[serde(default)]
    pub image: Option<String>,
    /// ECS cluster; default: the environment's.
    #[serde(default)]
    pub cluster: Option<String>,
    /// awsvpc subnets; default: the environment's service's.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// awsvpc security groups; default: the environment's service's (with `subnets`: the VPC's default group).
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Give the task a public IP (Fargate in a public subnet).
    #[serde(default)]
    pub assign_public_ip: bool,
    /// `FARGATE`, `EC2` or `EXTERNAL`; default: the service's, else FARGATE when the task definition requires it.
    #[serde(default)]
    pub launch_type: Option<LaunchType>,
    /// Capacity providers instead of a launch type, e.g. `[{capacity-provider: FARGATE_SPOT, weight: 1}]`.
    #[serde(default)]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Fargate platform version, e.g. `1.4.0`.
    #[serde(default)]
    pub platform_version: Option<String>,
    /// How long the job may run before `run-task` stops it.
    #[serde(default = "default_timeout", deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "1h"))]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(3600)
}

impl Task {
    /// The container the command runs in, for a given environment (before the task definition is known).
    pub fn container<'a>(&'a self, environment: &'a Environment) -> &'a str {
        self.container.as_deref().unwrap_or(&environment.container)
    }

    /// The task's own task definition file, if it has one.
    pub fn own_file(&self) -> Option<&PathBuf> {
        match &self.task_definition {
            Some(TaskDefinitionRef::File(path)) => Some(path),
            _ => None,
        }
    }
}

/// ECS launch types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LaunchType {
    Fargate,
    Ec2,
    External,
}

impl LaunchType {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchType::Fargate => "FARGATE",
            LaunchType::Ec2 => "EC2",
            LaunchType::External => "EXTERNAL",
        }
    }
}

/// One capacity provider of a strategy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CapacityProviderItem {
    pub capacity_provider: String,
    #[serde(default)]
    pub base: i32,
    #[serde(default = "default_weight")]
    #[schemars(extend("default" = 1))]
    pub weight: i32,
}

fn default_weight() -> i32 {
    1
}

/// A task's own task definition: a file to register, or a family (or `family:revision`, or an ARN) in ECS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskDefinitionRef {
    /// Resolved against the config file's directory when loading.
    File(PathBuf),
    Family(String),
}

impl TaskDefinitionRef {
    /// `.json`, `.yml`, `.yaml` or a path with `/` is a file; an ARN or a bare name is a family.
    fn parse(text: &str) -> Option<Self> {
        let lower = text.to_ascii_lowercase();
        if text.trim().is_empty() {
            None
        } else if lower.starts_with("arn:") {
            Some(Self::Family(text.to_owned()))
        } else if [".json", ".yml", ".yaml"].iter().any(|e| lower.ends_with(e)) || text.contains('/') {
            Some(Self::File(PathBuf::from(text)))
        } else {
            Some(Self::Family(text.to_owned()))
        }
    }
}

impl<'de> Deserialize<'de> for TaskDefinitionRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;
        impl Visitor<'_> for RefVisitor {
            type Value = TaskDefinitionRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a task definition file (.json, .yml, .yaml) or a registered family")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                TaskDefinitionRef::parse(value).ok_or_else(|| E::invalid_value(de::Unexpected::Str(value), &self))
            }
        }
        deserializer.deserialize_str(RefVisitor)
    }
}

impl JsonSchema for TaskDefinitionRef {
    fn schema_name() -> Cow<'static, str> {
        "TaskDefinitionRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "A task definition file (.json, .yml or .yaml, relative to the config file), or a registered family (`name`, `name:revision` or an ARN).",
            "examples": ["deploy/psql-task.json", "psql-load"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_families_are_told_apart() {
        assert_eq!(
            TaskDefinitionRef::parse("deploy/psql.json"),
            Some(TaskDefinitionRef::File("deploy/psql.json".into()))
        );
        assert_eq!(TaskDefinitionRef::parse("job.yaml"), Some(TaskDefinitionRef::File("job.yaml".into())));
        assert_eq!(TaskDefinitionRef::parse("psql-load:3"), Some(TaskDefinitionRef::Family("psql-load:3".into())));
        let arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/psql:3";
        assert_eq!(TaskDefinitionRef::parse(arn), Some(TaskDefinitionRef::Family(arn.into())));
        assert_eq!(TaskDefinitionRef::parse(" "), None);
    }
}

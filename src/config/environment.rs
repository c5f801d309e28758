//! One deployment target (`environments.<name>`): where the service runs and how it is released.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::duration::{self, DurationSchema};
use super::model::ScalarString;
use super::services::{DeployOrder, ServiceSpec};

/// Where the service runs and how a release reaches it: one service (`service`, `task-definition`, `container`), or
/// several under `services:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(extend("oneOf" = [
    { "required": ["cluster", "service", "task-definition", "container"] },
    { "required": ["services"] }
]))]
pub struct Environment {
    /// AWS region, e.g. `eu-west-1`; default: the AWS SDK's own (`AWS_REGION`, the profile).
    #[serde(default)]
    pub region: Option<String>,
    /// An IAM role to assume for this environment's AWS calls (e.g. production in another account), with the
    /// credentials the job has; the session is named after the release (`pipeline-<service>-<version>`).
    #[serde(default)]
    pub role_arn: Option<String>,
    /// A named AWS profile (`~/.aws/config`) for this environment's credentials and region.
    #[serde(default)]
    pub profile: Option<String>,
    /// `deploy --image` of an image in another registry: `copy` it by digest into this environment's ECR, or
    /// run it `in-place`.
    #[serde(default)]
    pub promote: super::identity::Promote,
    /// ECS cluster name (with `services:`, the default of each service).
    #[serde(default)]
    pub cluster: String,
    /// ECS service name. Not with `services:`.
    #[serde(default)]
    pub service: String,
    /// Task definition to deploy: a JSON or YAML file (relative to this config file), or `from-service` to start from
    /// the service's live task definition. Not with `services:`.
    #[serde(default)]
    pub task_definition: TaskDefinitionSource,
    /// The container whose image is replaced by the released one. Not with `services:`.
    #[serde(default)]
    pub container: String,
    /// Several ECS services released from one image and one version, by name; each takes the environment's keys it
    /// does not give itself. All or nothing: when one fails, those that moved return to what ran before.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceSpec>,
    /// With `services:`, the order they deploy in: `parallel` (default), or stages such as `[[worker], [web]]`.
    #[serde(default, deserialize_with = "super::services::deserialize_order")]
    pub order: DeployOrder,
    /// Environment variables merged into the container.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ScalarString>")]
    pub env: BTreeMap<String, String>,
    /// Secrets merged into the container: variable name -> `valueFrom` (an SSM parameter or Secrets Manager ARN).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// How traffic moves to the new release.
    #[serde(default)]
    pub strategy: Strategy,
    /// CodeDeploy application and deployment group; required when `strategy: codedeploy`.
    #[serde(default)]
    pub codedeploy: Option<CodeDeploy>,
    /// The alarms that stop and roll back a release.
    #[serde(default)]
    pub guard: Guard,
    /// Checks run on test traffic before production traffic moves (CodeDeploy: the deployment group must wait
    /// for the reroute, `deploymentReadyOption.actionOnTimeout: STOP_DEPLOYMENT`). A failed check rolls back.
    #[serde(default)]
    pub verify: Vec<super::verify::VerifyCheck>,
    /// Steps run before the deployment starts, in order; a failing step stops the release.
    #[serde(default)]
    pub before_deploy: Vec<BeforeDeployStep>,
    /// The longest a deployment may take before it is stopped (and rolled back per `on-cancel`).
    #[serde(default = "default_timeout", deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "30m"))]
    pub timeout: Duration,
    /// What to do with a deployment in progress when the job is cancelled or times out.
    #[serde(default)]
    pub on_cancel: OnCancel,
    /// The environment's URL, shown in reports and GitHub Deployments.
    #[serde(default)]
    pub url: Option<String>,
    /// Watch the deployment to its end (default). `false` starts it and exits at once, which is allowed only when
    /// AWS itself keeps watching: guard alarms attached to the CodeDeploy deployment with auto-rollback, or ECS
    /// deployment alarms and the circuit breaker, both with rollback, on the service. `pipeline status` tells later
    /// how it ended.
    #[serde(default = "default_true")]
    #[schemars(extend("default" = true))]
    pub wait: bool,
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(30 * 60)
}

/// A task definition file, or the live service's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TaskDefinitionSource {
    /// Not given: an environment with `services:` has none of its own (`load` refuses it anywhere else).
    #[default]
    Unset,
    /// A file; relative paths are resolved against the config file's directory when loading.
    File(PathBuf),
    /// `from-service`: describe the service's current task definition and start from it.
    FromService,
}

impl<'de> Deserialize<'de> for TaskDefinitionSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        impl Visitor<'_> for SourceVisitor {
            type Value = TaskDefinitionSource;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a task definition file path or `from-service`")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                match value {
                    "from-service" => Ok(TaskDefinitionSource::FromService),
                    "" => Err(E::invalid_value(de::Unexpected::Str(value), &self)),
                    path => Ok(TaskDefinitionSource::File(PathBuf::from(path))),
                }
            }
        }
        deserializer.deserialize_str(SourceVisitor)
    }
}

impl JsonSchema for TaskDefinitionSource {
    fn schema_name() -> Cow<'static, str> {
        "TaskDefinitionSource".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "A task definition file (JSON or YAML, relative to the config file), or `from-service`.",
            "examples": ["deploy/task-definition.json", "from-service"]
        })
    }
}

/// How traffic moves to the new release.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// ECS rolling update (deployment controller ECS).
    #[default]
    Rolling,
    /// Blue/green through AWS CodeDeploy (deployment controller CODE_DEPLOY).
    Codedeploy,
    /// ECS's own blue/green deployments.
    EcsBlueGreen,
}

/// CodeDeploy settings for `strategy: codedeploy`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CodeDeploy {
    /// CodeDeploy application name.
    pub application: String,
    /// CodeDeploy deployment group name.
    pub deployment_group: String,
    /// Deployment config, e.g. `CodeDeployDefault.ECSCanary10Percent5Minutes`; default: the group's own.
    #[serde(default)]
    pub config: Option<String>,
    /// When another deployment is already running in the group: wait for it (up to `timeout`) or fail.
    #[serde(default)]
    pub on_busy: OnBusy,
    /// AppSpec lifecycle hooks: event -> Lambda function CodeDeploy invokes, e.g.
    /// `{BeforeAllowTraffic: fnSmoke}`.
    #[serde(default)]
    pub hooks: super::verify::AppSpecHooks,
}

/// What to do when the deployment group is busy with another deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnBusy {
    /// Wait for the running deployment to end, up to the environment's `timeout`.
    #[default]
    Wait,
    /// Fail at once, naming the running deployment.
    Fail,
}

/// What to do with a deployment in progress when the job is cancelled or times out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnCancel {
    /// Stop the deployment and roll back.
    #[default]
    Rollback,
    /// Leave it running (and say so).
    Leave,
}

/// The alarms that stop and roll back a release. Without `alarms`, the 5xx alarm is always used.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Guard {
    /// A load-balancer 5xx alarm ensured for the service (`HTTPCode_Target_5XX_Count` on its target groups).
    /// Defaults apply when neither this nor `alarms` is given.
    #[serde(default)]
    pub five_xx: Option<FiveXx>,
    /// Existing CloudWatch alarms (names) that also stop the release.
    #[serde(default)]
    pub alarms: Vec<String>,
    /// How long to keep watching after all traffic reached the new release.
    #[serde(default, deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "0s"))]
    pub bake: Duration,
    /// How often the alarms are polled.
    #[serde(default = "default_poll_interval", deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "1s"))]
    pub poll_interval: Duration,
    /// How long AWS may keep failing (throttling, 5xx, network) while a deployment is in flight before the tool
    /// stops watching and does what `on-cancel` says; each read is retried with backoff until then.
    #[serde(default = "default_transient_window", deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "3m"))]
    pub transient_window: Duration,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            five_xx: None,
            alarms: Vec::new(),
            bake: Duration::ZERO,
            poll_interval: default_poll_interval(),
            transient_window: default_transient_window(),
        }
    }
}

fn default_transient_window() -> Duration {
    Duration::from_secs(180)
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(1)
}

/// The 5xx alarm's shape.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FiveXx {
    /// 5xx responses per period at or above which a period counts as breaching.
    #[serde(default = "default_threshold")]
    #[schemars(extend("default" = 5))]
    pub threshold: f64,
    /// Length of one evaluation period: 10s, 30s, or a multiple of 60s.
    #[serde(default = "default_period", deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "60s"))]
    pub period: Duration,
    /// Number of periods evaluated.
    #[serde(default = "default_evaluation_periods")]
    #[schemars(extend("default" = 2), range(min = 1))]
    pub evaluation_periods: u32,
    /// Breaching periods (out of `evaluation-periods`) that fire the alarm; default: all of them.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub datapoints_to_alarm: Option<u32>,
}

impl Default for FiveXx {
    fn default() -> Self {
        FiveXx {
            threshold: default_threshold(),
            period: default_period(),
            evaluation_periods: default_evaluation_periods(),
            datapoints_to_alarm: None,
        }
    }
}

fn default_threshold() -> f64 {
    5.0
}

fn default_period() -> Duration {
    Duration::from_secs(60)
}

fn default_evaluation_periods() -> u32 {
    2
}

/// One step before the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BeforeDeployStep {
    /// Run the task of this name (from `tasks:`) and require exit code 0.
    pub run_task: String,
}

//! `schedules:` (jobs run by EventBridge Scheduler) and `scheduler:` (the role it runs them with and the schedule
//! group the tool owns), and the checks that tie schedules and tasks together after loading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diagnose::{closest, locate};
use super::duration::{self, DurationSchema};
use super::error::ConfigError;
use super::model::{Config, ScalarString};
use super::task::TaskDefinitionRef;

/// Names of one-time runs (`run-task --at`) start with this; config schedules may not, so `schedules apply`
/// never deletes a pending one-time run.
pub const ONE_TIME_PREFIX: &str = "once-";

/// How the tool reaches EventBridge Scheduler.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SchedulerSettings {
    /// The IAM role EventBridge Scheduler assumes to call ecs:RunTask (and iam:PassRole for the task's roles).
    pub role_arn: String,
    /// The schedule group the tool owns: what `schedules:` no longer names is deleted from it, nothing else is
    /// touched. Default: `pipeline-<image.repository>-<environment>`.
    #[serde(default)]
    pub group: Option<String>,
}

impl SchedulerSettings {
    /// The group for an environment (or none: standalone jobs), within the 64 characters of `[0-9a-zA-Z-_.]`.
    pub fn group_for(settings: Option<&Self>, repository: &str, environment: Option<&str>) -> String {
        if let Some(group) = settings.and_then(|s| s.group.clone()) {
            return group;
        }
        let mut name = format!("pipeline-{repository}");
        if let Some(env) = environment {
            name = format!("{name}-{env}");
        }
        let clean: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
            .collect();
        clean.chars().take(64).collect()
    }
}

/// A job EventBridge Scheduler runs: give exactly one of `cron`, `rate` and `at`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Schedule {
    /// The task (a key of `tasks:`) to run.
    pub task: String,
    /// Six fields, `minutes hours day-of-month month day-of-week year`, e.g. `0 3 * * ? *` (03:00 every day).
    #[serde(default)]
    pub cron: Option<String>,
    /// `value unit`, e.g. `1 hour` or `15 minutes` (units: minute(s), hour(s), day(s)).
    #[serde(default)]
    pub rate: Option<String>,
    /// Once, at this local time of `timezone`: `2026-12-01T03:00:00`.
    #[serde(default)]
    pub at: Option<String>,
    /// IANA time zone the expression is read in, e.g. `Europe/Oslo`; default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Environment values for the run (on top of the task's `env`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ScalarString>")]
    pub env: BTreeMap<String, String>,
    /// A file of `KEY=VALUE` lines (relative to the config file) with more values; they win over `env`.
    #[serde(default)]
    pub env_file: Option<PathBuf>,
    /// Let EventBridge Scheduler start the job anywhere in this window after its time (whole minutes, at most
    /// 24h); `0s`: exactly on time.
    #[serde(default, deserialize_with = "duration::deserialize")]
    #[schemars(with = "DurationSchema", extend("default" = "0s"))]
    pub flexible_window: Duration,
    /// `false` keeps the schedule but stops its runs.
    #[serde(default = "default_true")]
    #[schemars(extend("default" = true))]
    pub enabled: bool,
    /// Shown in the AWS console.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Schedule {
    /// The EventBridge Scheduler expression: `cron(...)`, `rate(...)` or `at(...)`.
    pub fn expression(&self) -> String {
        match (&self.cron, &self.rate, &self.at) {
            (Some(cron), _, _) => format!("cron({})", cron.trim()),
            (_, Some(rate), _) => format!("rate({})", rate.trim()),
            (_, _, Some(at)) => format!("at({})", at.trim()),
            _ => String::new(),
        }
    }
}

/// Resolves the schedules' and tasks' paths and checks what one key alone cannot say.
pub(crate) fn normalize(config: &mut Config, dir: &Path) -> Result<(), ConfigError> {
    for task in config.tasks.values_mut() {
        if let Some(TaskDefinitionRef::File(file)) = &mut task.task_definition {
            *file = super::normalize::resolve(dir, file);
        }
    }
    if let Some(schedules) = &mut config.schedules {
        for schedule in schedules.values_mut() {
            if let Some(file) = &mut schedule.env_file {
                *file = super::normalize::resolve(dir, file);
            }
        }
    }
    for (name, task) in &config.tasks {
        let at = |key: &'static str| ["tasks", name.as_str(), key];
        if task.image.is_some() && task.own_file().is_none() {
            return Err(invalid(
                config,
                &at("image"),
                "`image` needs the task's own task definition file",
                "add `task-definition: path/to/task-definition.json` to this task, or drop `image`",
            ));
        }
        if task.timeout == Duration::ZERO {
            return Err(invalid(config, &at("timeout"), "the timeout is zero", "give a timeout such as `1h`"));
        }
        if task.launch_type.is_some() && !task.capacity_provider_strategy.is_empty() {
            return Err(invalid(
                config,
                &at("launch-type"),
                "`launch-type` and `capacity-provider-strategy` are both given",
                "ECS takes one or the other: keep one",
            ));
        }
        if task.security_groups.len() > 5 || task.subnets.len() > 16 {
            return Err(invalid(
                config,
                &at("subnets"),
                "too many subnets or security groups",
                "ECS takes up to 16 subnets and 5 security groups",
            ));
        }
    }
    let Some(schedules) = &config.schedules else { return Ok(()) };
    if !schedules.is_empty() && config.scheduler.is_none() {
        return Err(invalid(
            config,
            &["schedules"],
            "schedules need `scheduler.role-arn`",
            "add `scheduler: { role-arn: arn:aws:iam::<account>:role/<role EventBridge Scheduler assumes> }`",
        ));
    }
    let task_names: Vec<String> = config.tasks.keys().cloned().collect();
    for (name, schedule) in schedules {
        let at = |key: &'static str| ["schedules", name.as_str(), key];
        let valid_name = (1..=64).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name || name.starts_with(ONE_TIME_PREFIX) {
            return Err(invalid(
                config,
                &["schedules", name.as_str()],
                &format!("`{name}` is not a schedule name the tool can own"),
                &format!("use 1-64 letters, digits, `-`, `_` or `.`, not starting with `{ONE_TIME_PREFIX}`"),
            ));
        }
        if !config.tasks.contains_key(&schedule.task) {
            let help = match closest(&schedule.task, &task_names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "define it under `tasks:`".to_string(),
            };
            return Err(invalid(
                config,
                &at("task"),
                &format!("`{}` names no task under `tasks:`", schedule.task),
                &help,
            ));
        }
        let given = [&schedule.cron, &schedule.rate, &schedule.at].iter().filter(|e| e.is_some()).count();
        if given != 1 {
            return Err(invalid(
                config,
                &["schedules", name.as_str()],
                "a schedule needs exactly one of `cron`, `rate` and `at`",
                "e.g. `cron: \"0 3 * * ? *\"`, `rate: 1 hour` or `at: 2026-12-01T03:00:00`",
            ));
        }
        if let Some(cron) = &schedule.cron
            && cron.split_whitespace().count() != 6
        {
            return Err(invalid(
                config,
                &at("cron"),
                "EventBridge Scheduler's cron has six fields: minutes hours day-of-month month day-of-week year",
                "e.g. `0 3 * * ? *`; one of day-of-month and day-of-week must be `?`",
            ));
        }
        if let Some(rate) = &schedule.rate {
            let mut parts = rate.split_whitespace();
            let ok = matches!((parts.next().map(str::parse::<u32>), parts.next(), parts.next()),
                (Some(Ok(n)), Some("minute" | "minutes" | "hour" | "hours" | "day" | "days"), None) if n > 0);
            if !ok {
                return Err(invalid(
                    config,
                    &at("rate"),
                    &format!("`{rate}` is not a rate"),
                    "e.g. `15 minutes`, `1 hour`, `2 days`",
                ));
            }
        }
        let window = schedule.flexible_window;
        if window.as_secs() % 60 != 0 || window.subsec_nanos() != 0 || window > Duration::from_secs(1440 * 60) {
            return Err(invalid(
                config,
                &at("flexible-window"),
                "the flexible window is whole minutes, at most 24h",
                "e.g. `15m`; `0s` runs exactly on time",
            ));
        }
    }
    Ok(())
}

fn invalid(config: &Config, path: &[&str], message: &str, help: &str) -> ConfigError {
    ConfigError::InvalidValue {
        at: Box::new(locate(&config.source.path, &config.source.text, path)),
        field: path.join("."),
        message: message.to_string(),
        help: help.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_group_names_the_repository_and_the_environment() {
        assert_eq!(SchedulerSettings::group_for(None, "team/web", Some("prod")), "pipeline-team-web-prod");
        assert_eq!(SchedulerSettings::group_for(None, "web", None), "pipeline-web");
        let own = SchedulerSettings { role_arn: "r".into(), group: Some("jobs".into()) };
        assert_eq!(SchedulerSettings::group_for(Some(&own), "web", Some("prod")), "jobs");
    }
}

//! After deserialising: fill the defaults that depend on other keys, resolve relative paths against the config
//! file's directory, and check what one key alone cannot say (cross-references, AWS limits).

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::diagnose::{closest, locate};
use super::environment::{Environment, FiveXx, Strategy, TaskDefinitionSource};
use super::error::ConfigError;
use super::model::{Config, Slack};

/// Fills defaults and resolves paths; returns every problem found (none when the config is good).
pub(crate) fn normalize(config: &mut Config) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    let dir = match config.source.path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    config.dir = dir.clone();

    // Keep the first of each tag kind: a repeated kind would only push the same tag twice.
    let mut seen = Vec::new();
    config.tags.retain(|t| {
        let fresh = !seen.contains(t);
        seen.push(*t);
        fresh
    });
    if config.tags.is_empty() {
        problems.push(invalid(config, &["tags"], "the list is empty", "list at least one of: semver, sha, latest"));
    }

    if let Err(e) = check_moving_tags(config) {
        problems.push(e);
    }

    let repository = &config.image.repository;
    if repository.trim().is_empty() {
        problems.push(invalid(config, &["image", "repository"], "the value is empty", "give the ECR repository name"));
    } else if !is_repository_name(repository) {
        problems.push(invalid(
            config,
            &["image", "repository"],
            &format!(
                "`{repository}` is not an ECR repository name (lowercase letters, digits, and . _ - / between them)"
            ),
            "use the repository name only, e.g. `web` or `team/web`, not a full image URI",
        ));
    }

    config.image.context = resolve(&dir, &config.image.context);
    // Relative to the context, as `dockerfile:` is in Docker Compose.
    config.image.dockerfile = resolve(&config.image.context, &config.image.dockerfile);
    if let Some(policy) = &mut config.image.lifecycle_policy {
        *policy = resolve(&dir, policy);
    }
    super::sidecars::normalize(config, &dir, &mut problems);
    if let Err(e) = super::schedule::normalize(config, &dir) {
        problems.push(e);
    }

    let names: Vec<String> = config.environments.keys().cloned().collect();
    for name in &names {
        super::services::normalize(config, name, &dir, &mut problems);
        check_environment(config, name, &mut problems);
        let Some(env) = config.environments.get_mut(name) else { continue };
        if let TaskDefinitionSource::File(file) = &mut env.task_definition {
            *file = resolve(&dir, file);
        }
        // The 5xx alarm guards every release unless named alarms replace it.
        if env.guard.five_xx.is_none() && env.guard.alarms.is_empty() {
            env.guard.five_xx = Some(FiveXx::default());
        }
    }

    if let Some(slack) = &config.notify.slack
        && slack.token_env.is_some()
        && slack.webhook_env.is_some()
    {
        problems.push(invalid(
            config,
            &["notify", "slack", "webhook-env"],
            "`token-env` and `webhook-env` are both given",
            "keep one: `token-env` (a bot token, one message updated in place) or `webhook-env` (an incoming webhook)",
        ));
    }
    if let Some(slack) = &mut config.notify.slack
        && slack.webhook_env.is_none()
        && slack.token_env.is_none()
    {
        slack.token_env = Some(Slack::DEFAULT_TOKEN_ENV.to_string());
    }
    problems
}

/// Moving tags are ECR tags that must never look like a version or commit tag, and ECR takes at most
/// five exclusion filters (REFERENCE 1.1).
fn check_moving_tags(config: &Config) -> Result<(), ConfigError> {
    let at = ["moving-tags"];
    for tag in &config.moving_tags {
        let valid = (1..=128).contains(&tag.len())
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(invalid(
                config,
                &at,
                &format!("`{tag}` is not a tag ECR accepts as an exclusion (letters, digits, . _ -; at most 128)"),
                "give a plain tag name such as `stable`",
            ));
        }
        if tag.starts_with("sha-") || crate::version::parse_tag(tag).is_some() {
            return Err(invalid(
                config,
                &at,
                &format!("`{tag}` looks like a version or commit tag, which never move"),
                "give a name such as `stable` or `production`",
            ));
        }
    }
    if config.moving_tags().len() > 5 {
        return Err(invalid(
            config,
            &at,
            "more than five moving tags (with `latest`)",
            "ECR excludes at most five tag filters from immutability; keep five or fewer",
        ));
    }
    Ok(())
}

/// `base/path` without `.` segments (`/repo/./Dockerfile` reads badly in messages); absolute paths stay as they are.
pub(super) fn resolve(base: &Path, path: &Path) -> PathBuf {
    let joined: PathBuf = base.join(path).components().filter(|c| *c != Component::CurDir).collect();
    if joined.as_os_str().is_empty() { PathBuf::from(".") } else { joined }
}

/// ECR's rule: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, 2 to 256 characters.
fn is_repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len())
        && name.split('/').all(|part| {
            !part.is_empty()
                && part
                    .split(['.', '_', '-'])
                    .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        })
}

fn check_environment(config: &Config, name: &str, problems: &mut Vec<ConfigError>) {
    // Which of `cluster`, `service`, `container` must be given is checked with `services:` (`services.rs`).
    let Some(env) = config.environments.get(name) else { return };
    let key = |k: &'static str| ["environments", name, k];
    let Environment { strategy, codedeploy, guard, before_deploy, timeout, .. } = env;

    if let Some(problem) = env.role_arn.as_deref().and_then(super::identity::role_arn_problem) {
        let help = "write the role's ARN, e.g. `arn:aws:iam::123456789012:role/deploy`";
        problems.push(invalid(config, &key("role-arn"), &problem, help));
    }

    if *strategy == Strategy::Codedeploy && codedeploy.is_none() {
        problems.push(invalid(
            config,
            &key("strategy"),
            "strategy `codedeploy` needs a `codedeploy:` section",
            "add `codedeploy: { application: ..., deployment-group: ... }` to this environment",
        ));
    }
    let task_names: Vec<String> = config.tasks.keys().cloned().collect();
    for step in before_deploy {
        if !config.tasks.contains_key(&step.run_task) {
            let help = match closest(&step.run_task, &task_names) {
                Some(s) => format!("did you mean `{s}`?"),
                None if task_names.is_empty() => "define it under `tasks:`".to_string(),
                None => format!("the tasks defined under `tasks:` are: {}", task_names.join(", ")),
            };
            problems.push(invalid(
                config,
                &key("before-deploy"),
                &format!("`run-task: {}` names no task under `tasks:`", step.run_task),
                &help,
            ));
        }
    }
    if *timeout == Duration::ZERO {
        problems.push(invalid(config, &key("timeout"), "the timeout is zero", "give a timeout such as `30m`"));
    }
    check_verify(config, name, &task_names, problems);
    if guard.poll_interval == Duration::ZERO {
        problems.push(invalid(
            config,
            &["environments", name, "guard", "poll-interval"],
            "the poll interval is zero",
            "give an interval such as `1s`",
        ));
    }
    if let Some(five_xx) = &guard.five_xx {
        let at = ["environments", name, "guard", "five-xx"];
        // CloudWatch accepts these periods for standard-resolution metrics such as the ALB's.
        let secs = five_xx.period.as_secs();
        if five_xx.period.subsec_nanos() != 0 || !(secs == 10 || secs == 30 || (secs > 0 && secs % 60 == 0)) {
            problems.push(invalid(
                config,
                &at,
                "`period` must be 10s, 30s or a multiple of 60s (CloudWatch's alarm periods)",
                "use e.g. `period: 60s`",
            ));
        }
        if five_xx.evaluation_periods == 0 {
            problems.push(invalid(config, &at, "`evaluation-periods` is zero", "use at least 1"));
        } else if let Some(n) = five_xx.datapoints_to_alarm
            && (n == 0 || n > five_xx.evaluation_periods)
        {
            problems.push(invalid(
                config,
                &at,
                &format!(
                    "`datapoints-to-alarm` ({n}) must be between 1 and `evaluation-periods` ({})",
                    five_xx.evaluation_periods
                ),
                "lower `datapoints-to-alarm` or raise `evaluation-periods`",
            ));
        }
        if five_xx.threshold.is_nan() || five_xx.threshold < 0.0 {
            problems.push(invalid(config, &at, "`threshold` must be zero or more", "use e.g. `threshold: 5`"));
        }
    }
}

/// `verify:` checks: each is located at its own key (the n-th `run-task:` or `path:` under `verify:`).
fn check_verify(config: &Config, name: &str, task_names: &[String], problems: &mut Vec<ConfigError>) {
    let Some(env) = config.environments.get(name) else { return };
    if !env.verify.is_empty() && !env.wait {
        problems.push(invalid(
            config,
            &["environments", name, "wait"],
            "`wait: false` with `verify:`: the checks run in this job, while the deployment waits for them",
            "remove `wait: false`, or remove `verify:`",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for check in &env.verify {
        let kind = match check {
            super::VerifyCheck::Http(_) => "http",
            super::VerifyCheck::RunTask(_) => "run-task",
        };
        seen.push(kind);
        let Some((field, message, help)) = super::verify::problem(check, task_names) else { continue };
        // Repeating a key makes `locate` find its n-th occurrence after `verify`.
        let nth = seen.iter().filter(|k| **k == kind).count();
        let mut path = vec!["environments", name, "verify"];
        path.extend(std::iter::repeat_n(kind, nth));
        if field != kind {
            path.push(field);
        }
        let mut err = invalid(config, &path, &message, &help);
        if let ConfigError::InvalidValue { field: f, .. } = &mut err {
            *f = format!("environments.{name}.verify.{kind}.{field}").replace(".run-task.run-task", ".run-task");
        }
        problems.push(err);
    }
}

fn invalid(config: &Config, path: &[&str], message: &str, help: &str) -> ConfigError {
    ConfigError::InvalidValue {
        at: Box::new(locate(&config.source.path, &config.source.text, path)),
        field: path.join("."),
        message: message.to_string(),
        help: help.to_string(),
    }
}

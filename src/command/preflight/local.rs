//! The local half: everything the config points at that can be checked without AWS (the build context and
//! Dockerfile, the task definitions and their containers, env and secret references, the tasks, the sidecars'
//! containers), every problem at once, each naming the file and line to fix.

use std::path::Path;

use super::sidecars::Registered;
use super::{Scope, at};
use crate::Error;
use crate::config::{Config, Environment, ServiceSpec, TaskDefinitionRef, TaskDefinitionSource};
use crate::task_definition::{self, RenderInput, TaskDefinitionDoc};

/// Runs every local check of `scope`; all problems are returned together.
pub fn check(config: &Config, ci: &crate::ci::Ci, scope: &Scope<'_>) -> Result<(), Error> {
    let mut problems = Vec::new();
    if scope.image {
        image(config, &mut problems);
    }
    if scope.build_secrets {
        for (id, var) in &config.image.secrets {
            if ci.secret(var).is_none() {
                problems.push(Error::MissingSecret { id: id.clone(), var: var.clone() });
            }
        }
    }
    for (name, env) in &scope.environments {
        environment(config, name, env, &mut problems);
    }
    sidecars(config, &scope.environments, &mut problems);
    let mut seen = Vec::new();
    for (name, env) in &scope.tasks {
        if !seen.contains(name) {
            seen.push(name);
            task(config, name, env, &mut problems);
        }
    }
    Error::from_problems(problems)
}

/// The build context must be a directory and the Dockerfile a file; a missing context is reported as such, not as
/// a missing Dockerfile inside it.
fn image(config: &Config, problems: &mut Vec<Error>) {
    let image = &config.image;
    if !image.context.exists() {
        problems.push(at(
            config,
            &["image", "context"],
            &format!("the build context {} does not exist", image.context.display()),
            "set `image.context` to the directory to build from (relative to the config file)",
        ));
    } else if !image.context.is_dir() {
        problems.push(at(
            config,
            &["image", "context"],
            &format!("the build context {} is not a directory", image.context.display()),
            "set `image.context` to the directory to build from (relative to the config file)",
        ));
    } else if !image.dockerfile.is_file() {
        problems.push(at(
            config,
            &["image", "dockerfile"],
            &format!("the Dockerfile {} does not exist", image.dockerfile.display()),
            &format!(
                "add the Dockerfile, or set `image.dockerfile` (relative to the build context {})",
                image.context.display()
            ),
        ));
    }
    if let Some(policy) = &image.lifecycle_policy {
        let problem = match std::fs::read_to_string(policy) {
            Err(e) => Some(format!("cannot read the lifecycle policy {}: {e}", policy.display())),
            Ok(text) => serde_json::from_str::<serde_json::Value>(&text)
                .err()
                .map(|e| format!("the lifecycle policy {} is not JSON: {e}", policy.display())),
        };
        if let Some(message) = problem {
            problems.push(at(
                config,
                &["image", "lifecycle-policy"],
                &message,
                "give a JSON file with an ECR lifecycle policy (`{\"rules\": [...]}`)",
            ));
        }
    }
}

/// The environment's task definition (loaded and checked against the ECS shape), its container, and the env and
/// secrets merged into it.
fn environment(config: &Config, name: &str, env: &Environment, problems: &mut Vec<Error>) {
    let service = service_of(config, name, env);
    // A service's own settings are under `services.<key>`; what it takes from its environment is the environment's.
    let key = |k: &'static str| -> Vec<&str> {
        match &service {
            Some((key, _)) => vec!["environments", name, "services", key, k],
            None => vec!["environments", name, k],
        }
    };
    for var in env.env.keys().filter(|k| env.secrets.contains_key(*k)) {
        problems.push(at(
            config,
            &secret_key(name, service.as_ref(), var),
            &format!("`{var}` is set both in `env` and in `secrets`"),
            "ECS rejects a name that is both an environment variable and a secret; keep one of them",
        ));
    }
    for (var, from) in &env.secrets {
        if let Some(why) = bad_value_from(from) {
            problems.push(at(
                config,
                &secret_key(name, service.as_ref(), var),
                &format!("secret `{var}`: `{from}` {why}"),
                "give an SSM parameter (`arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`, or its name in the same region) \
                 or a Secrets Manager secret ARN (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`)",
            ));
        }
    }
    let TaskDefinitionSource::File(path) = &env.task_definition else { return };
    let Some(doc) = load(config, path, &key("task-definition"), problems) else { return };
    if !doc.container_names().contains(&env.container.as_str()) {
        problems.push(at(
            config,
            &key("container"),
            &format!(
                "container `{}` is not in {} (it has: {})",
                env.container,
                shown(config, path),
                doc.container_names().join(", ")
            ),
            "set `container` to the container whose image the release replaces",
        ));
        return;
    }
    // What the release will register, mapped onto the SDK's request: anything the mapping refuses is found now.
    let input = RenderInput { container: &env.container, image: "placeholder", env: &env.env, secrets: &env.secrets };
    match task_definition::render(&doc, &input).and_then(|rendered| rendered.to_sdk_input()) {
        Ok(_) => {}
        // Already reported above with its place in the config.
        Err(task_definition::TaskDefinitionError::EnvSecretClash { .. }) => {}
        Err(e) => problems.push(e.into()),
    }
}

/// The key under `services:` and the spec of the service `env` is (as `each_service` expanded it), when environment
/// `name` lists services.
fn service_of<'c>(config: &'c Config, name: &str, env: &Environment) -> Option<(String, &'c ServiceSpec)> {
    let listed = config.environments.get(name).filter(|e| e.has_services())?;
    let (key, _) =
        listed.each_service().into_iter().find(|(_, e)| e.cluster == env.cluster && e.service == env.service)?;
    listed.services.get(&key).map(|spec| (key, spec))
}

/// Where secret `var` of environment `name` (or of its `service`, when that sets it) is in the config.
fn secret_key<'a>(name: &'a str, service: Option<&'a (String, &ServiceSpec)>, var: &'a str) -> Vec<&'a str> {
    match service {
        Some((key, spec)) if spec.secrets.contains_key(var) => {
            vec!["environments", name, "services", key, "secrets", var]
        }
        _ => vec!["environments", name, "secrets", var],
    }
}

/// No sidecar is named like an app container (decided from the config alone), and each names a container of a task
/// definition the release to each environment registers (with `services:`, of one service's at least): decided here
/// when all of an environment's are files that load; else, for a `from-service` one, once AWS was read
/// (`remote::sidecars`).
fn sidecars(config: &Config, environments: &[(&str, &Environment)], problems: &mut Vec<Error>) {
    if config.image.sidecars.is_empty() {
        return;
    }
    let apps: Vec<(&str, &str, &str)> =
        environments.iter().map(|(name, env)| (*name, env.service.as_str(), env.container.as_str())).collect();
    problems.extend(super::sidecars::app_named(config, &apps));
    let mut seen = Vec::new();
    for (name, _) in environments {
        if seen.contains(name) {
            continue;
        }
        seen.push(name);
        let each = environments.iter().filter(|(n, _)| n == name);
        let Some(registered) = each.map(|(_, env)| from_file(config, env)).collect::<Option<Vec<_>>>() else {
            continue;
        };
        problems.extend(super::sidecars::check(config, name, &registered));
    }
}

/// The containers of an environment's task definition file; `None` when it is not a file or does not load (said
/// by [`environment`]).
fn from_file(config: &Config, env: &Environment) -> Option<Registered> {
    let TaskDefinitionSource::File(path) = &env.task_definition else { return None };
    let loaded = TaskDefinitionDoc::load(path).ok()?;
    let containers = loaded.doc.container_names().into_iter().map(str::to_owned).collect();
    Some(Registered { source: shown(config, path), app: env.container.clone(), containers })
}

/// A task's own task definition, and that its container is in the task definition it runs with.
fn task(config: &Config, name: &str, env: &Environment, problems: &mut Vec<Error>) {
    let Some(task) = config.tasks.get(name) else { return };
    let Some(task_definition) = &task.task_definition else {
        // Runs with the environment's task definition, checked with the environment.
        if let Some(container) = &task.container
            && let TaskDefinitionSource::File(td) = &env.task_definition
            && let Ok(loaded) = TaskDefinitionDoc::load(td)
            && !loaded.doc.container_names().contains(&container.as_str())
        {
            problems.push(missing_container(config, name, container, td, &loaded.doc));
        }
        return;
    };
    // A registered family is AWS's to check; a file is checked here.
    let TaskDefinitionRef::File(path) = task_definition else { return };
    let Some(doc) = load(config, path, &["tasks", name, "task-definition"], problems) else { return };
    let container = task.container(env);
    if !doc.container_names().contains(&container) {
        problems.push(missing_container(config, name, container, path, &doc));
    }
}

fn missing_container(config: &Config, task: &str, container: &str, td: &Path, doc: &TaskDefinitionDoc) -> Error {
    at(
        config,
        &["tasks", task, "container"],
        &format!(
            "task `{task}` runs container `{container}`, which is not in {} (it has: {})",
            shown(config, td),
            doc.container_names().join(", ")
        ),
        "set the task's `container` to one of the task definition's containers",
    )
}

/// Loads a task definition file the config names at `key`; a missing file is the config's problem.
fn load(config: &Config, path: &Path, key: &[&str], problems: &mut Vec<Error>) -> Option<TaskDefinitionDoc> {
    if !path.is_file() {
        problems.push(at(
            config,
            key,
            &format!("there is no task definition file at {}", shown(config, path)),
            "write it (`aws ecs describe-task-definition --task-definition FAMILY --query taskDefinition` gives one), \
             fix the path (relative to the config file), or use `from-service`",
        ));
        return None;
    }
    match TaskDefinitionDoc::load(path) {
        Ok(loaded) => Some(loaded.doc),
        Err(e) => {
            problems.push(e.into());
            None
        }
    }
}

/// Why a secret's `valueFrom` cannot be right, if it cannot.
fn bad_value_from(value: &str) -> Option<&'static str> {
    if value.trim().is_empty() {
        return Some("is empty");
    }
    if value.chars().any(char::is_whitespace) {
        return Some("contains whitespace");
    }
    let arn = value.strip_prefix("arn:")?;
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    match parts.as_slice() {
        [_, "ssm", _, _, rest] if rest.starts_with("parameter/") => None,
        [_, "secretsmanager", _, _, rest] if rest.starts_with("secret:") => None,
        _ => Some("is neither an SSM parameter nor a Secrets Manager secret ARN"),
    }
}

/// A path as the user wrote it: relative to the config's directory when it is inside it.
pub(super) fn shown(config: &Config, path: &Path) -> String {
    path.strip_prefix(&config.dir).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references_are_parameters_or_secret_arns() {
        assert_eq!(bad_value_from("arn:aws:ssm:eu-west-1:111122223333:parameter/web/db"), None);
        assert_eq!(bad_value_from("arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf"), None);
        assert_eq!(bad_value_from("web-db-password"), None, "an SSM parameter name in the same region");
        assert!(bad_value_from("arn:aws:s3:::bucket/key").is_some());
        assert!(bad_value_from("").is_some());
        assert!(bad_value_from("my secret").is_some());
    }
}

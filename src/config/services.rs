//! `services:` in an environment: several ECS services released from one image and one version. The single-service
//! keys (`service`, `task-definition`, `container`) stay the shorthand for one service; `load` refuses the two forms
//! mixed. Each service is turned into the one-service [`Environment`] the deploy half already knows
//! ([`Environment::each_service`]), so the drivers stay as they are.

use std::collections::BTreeMap;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::diagnose::locate;
use super::environment::{BeforeDeployStep, CodeDeploy, Environment, Guard, Strategy, TaskDefinitionSource};
use super::error::ConfigError;
use super::model::{Config, ScalarString};
use super::normalize::resolve;

/// One ECS service of a multi-service environment. Keys left out take the environment's value.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServiceSpec {
    /// ECS cluster; default: the environment's `cluster`.
    #[serde(default)]
    pub cluster: Option<String>,
    /// ECS service name; default: this entry's name.
    #[serde(default)]
    pub service: Option<String>,
    /// Task definition to deploy: a JSON or YAML file (relative to the config file), or `from-service`.
    pub task_definition: TaskDefinitionSource,
    /// The container whose image is replaced by the released one.
    pub container: String,
    /// Environment variables merged into the container, over the environment's `env`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ScalarString>")]
    pub env: BTreeMap<String, String>,
    /// Secrets merged into the container, over the environment's `secrets`.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// How traffic moves to the new release; default: the environment's `strategy`.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// CodeDeploy application and deployment group of this service; required when its strategy is `codedeploy`.
    #[serde(default)]
    pub codedeploy: Option<CodeDeploy>,
    /// The alarms that stop and roll back this service's deployment; default: the environment's `guard`.
    #[serde(default)]
    pub guard: Option<Guard>,
    /// Steps run before this service's deployment; default: the environment's `before-deploy`.
    #[serde(default)]
    pub before_deploy: Option<Vec<BeforeDeployStep>>,
}

/// The order services are deployed in: all at once, or stage after stage (the services of a stage at once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DeployOrder {
    /// `parallel` (the default): every service at once.
    #[default]
    Parallel,
    /// Stages, e.g. `[[worker], [web, api]]`: a stage starts once every service of the one before is healthy. Each
    /// service appears exactly once.
    Stages(Vec<Vec<String>>),
}

impl JsonSchema for DeployOrder {
    fn schema_name() -> Cow<'static, str> {
        "DeployOrder".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`parallel` (every service at once), or stages of service names, each stage's services at \
                            once, a stage starting when the one before is healthy; each service exactly once.",
            "default": "parallel",
            "oneOf": [
                { "const": "parallel" },
                { "type": "array", "minItems": 1,
                  "items": { "type": "array", "minItems": 1, "items": { "type": "string" } } }
            ],
            "examples": ["parallel", [["worker"], ["web"]]]
        })
    }
}

/// The word `parallel`, as the YAML gives it.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ParallelWord {
    Parallel,
}

impl DeployOrder {
    /// The stages of service names, every service once, in the order they deploy.
    pub fn stages(&self, services: &[String]) -> Vec<Vec<String>> {
        match self {
            DeployOrder::Parallel => vec![services.to_vec()],
            DeployOrder::Stages(stages) => stages.clone(),
        }
    }
}

/// `parallel` or a list of lists, with one message for anything else.
pub(super) fn deserialize_order<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<DeployOrder, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Word(ParallelWord),
        Stages(Vec<Vec<String>>),
    }
    match Raw::deserialize(deserializer) {
        Ok(Raw::Word(ParallelWord::Parallel)) => Ok(DeployOrder::Parallel),
        Ok(Raw::Stages(stages)) => Ok(DeployOrder::Stages(stages)),
        Err(_) => Err(serde::de::Error::custom(
            "expected `parallel` or a list of stages, each a list of service names, e.g. `[[worker], [web]]`",
        )),
    }
}

impl Environment {
    /// Whether this environment lists `services:` (rather than the one-service keys).
    pub fn has_services(&self) -> bool {
        !self.services.is_empty()
    }

    /// Every service of the environment as a one-service environment, by name: the environment itself (named after
    /// its `service`) for the shorthand, else each `services:` entry over the environment's own keys.
    pub fn each_service(&self) -> Vec<(String, Environment)> {
        if !self.has_services() {
            return vec![(self.service.clone(), self.clone())];
        }
        self.services
            .iter()
            .map(|(name, spec)| {
                let mut env = self.clone();
                env.services = BTreeMap::new();
                env.order = DeployOrder::Parallel;
                if let Some(cluster) = &spec.cluster {
                    env.cluster = cluster.clone();
                }
                env.service = spec.service.clone().unwrap_or_else(|| name.clone());
                env.task_definition = spec.task_definition.clone();
                env.container = spec.container.clone();
                env.env.extend(spec.env.clone());
                env.secrets.extend(spec.secrets.clone());
                if let Some(strategy) = spec.strategy {
                    env.strategy = strategy;
                }
                if spec.codedeploy.is_some() {
                    env.codedeploy = spec.codedeploy.clone();
                }
                if let Some(guard) = &spec.guard {
                    env.guard = guard.clone();
                }
                if let Some(steps) = &spec.before_deploy {
                    env.before_deploy = steps.clone();
                }
                (name.clone(), env)
            })
            .collect()
    }

    /// The deploy stages, by service name.
    pub fn stages(&self) -> Vec<Vec<String>> {
        let names: Vec<String> = self.services.keys().cloned().collect();
        self.order.stages(&names)
    }
}

/// The checks of the two forms: one of them, complete; the order names every service once; each service's own keys.
/// Paths in `services:` are resolved against `dir` here.
pub(super) fn normalize(config: &mut Config, name: &str, dir: &std::path::Path, problems: &mut Vec<ConfigError>) {
    let Some(env) = config.environments.get(name) else { return };
    let shorthand: Vec<&str> = [
        ("service", !env.service.is_empty()),
        ("task-definition", env.task_definition != TaskDefinitionSource::Unset),
        ("container", !env.container.is_empty()),
    ]
    .into_iter()
    .filter_map(|(key, given)| given.then_some(key))
    .collect();
    let mut found = Vec::new();
    if env.has_services() {
        if let Some(key) = shorthand.first() {
            found.push(invalid(
                config,
                &["environments", name, key],
                &format!(
                    "`{}` and `services` are both given: an environment lists its services under `services:` or is \
                     one service",
                    shorthand.join("`, `")
                ),
                "move them into an entry under `services:` (e.g. `services: { web: { task-definition: ..., \
                 container: ... } }`), or remove `services:`",
            ));
        }
        check_order(config, name, env, &mut found);
        if !env.wait {
            found.push(invalid(
                config,
                &["environments", name, "wait"],
                "`wait: false` with `services:`: a release of several services is all or nothing, so it watches each",
                "remove `wait: false`",
            ));
        }
        for (service, spec) in &env.services {
            let at = |key: &'static str| ["environments", name, "services", service.as_str(), key];
            if spec.cluster.is_none() && env.cluster.trim().is_empty() {
                found.push(invalid(
                    config,
                    &at("cluster"),
                    "no cluster: neither this service nor the environment gives `cluster`",
                    "give `cluster:` here or in the environment",
                ));
            }
            if spec.container.trim().is_empty() {
                found.push(invalid(config, &at("container"), "the value is empty", "give the container name"));
            }
            if spec.strategy == Some(Strategy::Codedeploy) && spec.codedeploy.is_none() {
                found.push(invalid(
                    config,
                    &at("strategy"),
                    "strategy `codedeploy` needs a `codedeploy:` section in this service",
                    "add `codedeploy: { application: ..., deployment-group: ... }` to this service",
                ));
            }
        }
    } else if env.order != DeployOrder::Parallel {
        found.push(invalid(
            config,
            &["environments", name, "order"],
            "`order` is only for an environment with `services:`",
            "remove `order`, or list the services under `services:`",
        ));
    } else {
        // The one-service shorthand: all of its keys are required.
        for key in ["cluster", "service", "task-definition", "container"] {
            let value = match key {
                "cluster" => env.cluster.trim().is_empty(),
                "service" => env.service.trim().is_empty(),
                "container" => env.container.trim().is_empty(),
                _ => env.task_definition == TaskDefinitionSource::Unset,
            };
            if value {
                found.push(ConfigError::MissingKey {
                    at: Box::new(first_key(config, name)),
                    key: key.to_owned(),
                    section: format!("environments.{name}"),
                });
            }
        }
    }
    problems.extend(found);
    if let Some(env) = config.environments.get_mut(name) {
        for spec in env.services.values_mut() {
            if let TaskDefinitionSource::File(file) = &mut spec.task_definition {
                *file = resolve(dir, file);
            }
        }
    }
}

fn check_order(config: &Config, name: &str, env: &Environment, problems: &mut Vec<ConfigError>) {
    let DeployOrder::Stages(stages) = &env.order else { return };
    let at = ["environments", name, "order"];
    let known: Vec<&String> = env.services.keys().collect();
    let listed: Vec<&String> = stages.iter().flatten().collect();
    let list = |names: &[&String]| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let unknown: Vec<&String> = listed.iter().copied().filter(|n| !known.contains(n)).collect();
    let missing: Vec<&String> = known.iter().copied().filter(|n| !listed.contains(n)).collect();
    let mut twice: Vec<&String> =
        listed.iter().copied().filter(|n| listed.iter().filter(|m| m == &n).count() > 1).collect();
    twice.sort();
    twice.dedup();
    let mut say = |message: String| {
        problems.push(invalid(
            config,
            &at,
            &message,
            &format!("list each of {} once, e.g. `order: [[worker], [web]]`, or `order: parallel`", list(&known)),
        ))
    };
    if stages.iter().any(Vec::is_empty) {
        say("a stage is empty".into());
    }
    if !unknown.is_empty() {
        say(format!("{} is not under `services:`", list(&unknown)));
    }
    if !missing.is_empty() {
        say(format!("{} is under `services:` but in no stage", list(&missing)));
    }
    if !twice.is_empty() {
        say(format!("{} is in more than one place", list(&twice)));
    }
}

/// Where serde would have placed a missing key: the environment mapping's first key (the line after its name).
fn first_key(config: &Config, name: &str) -> super::error::At {
    let (path, text) = (&config.source.path, &config.source.text);
    let at = locate(path, text, &["environments", name]);
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let indent = line.len() - line.trim_start().len();
        let blank = line.trim().is_empty() || line.trim_start().starts_with('#');
        if index >= at.line && !blank && indent >= at.column {
            return super::error::At::new(path, text, index + 1, indent + 1, offset + indent);
        }
        offset += line.len();
    }
    at
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
    use std::path::Path;

    use super::*;
    use crate::config::from_text;

    const TWO: &str = "version: 1
image: { repository: web }
environments:
  prod:
    cluster: prod
    strategy: rolling
    env: { LOG: info }
    order: [[worker], [web]]
    services:
      web:
        task-definition: web.json
        container: web
        strategy: codedeploy
        codedeploy: { application: web, deployment-group: web-prod }
      worker:
        cluster: jobs
        service: worker-svc
        task-definition: from-service
        container: worker
        env: { QUEUE: jobs }
";

    fn messages(text: &str) -> Vec<String> {
        let err = from_text(Path::new("/repo/.pipeline.yml"), text.to_owned(), &[]).unwrap_err();
        match err {
            ConfigError::Several { errors, .. } => errors.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }

    #[test]
    fn each_service_is_a_one_service_environment_over_the_environments_keys() {
        let config = from_text(Path::new("/repo/.pipeline.yml"), TWO.to_owned(), &[]).unwrap();
        let env = &config.environments["prod"];
        assert!(env.has_services());
        assert_eq!(env.stages(), vec![vec!["worker".to_owned()], vec!["web".to_owned()]]);
        let each = env.each_service();
        let (web, worker) = (&each[0].1, &each[1].1);
        assert_eq!((each[0].0.as_str(), web.cluster.as_str(), web.service.as_str()), ("web", "prod", "web"));
        assert_eq!(web.strategy, Strategy::Codedeploy);
        assert_eq!(web.task_definition, TaskDefinitionSource::File("/repo/web.json".into()));
        assert_eq!((worker.cluster.as_str(), worker.service.as_str()), ("jobs", "worker-svc"));
        assert_eq!(worker.strategy, Strategy::Rolling, "the environment's");
        assert_eq!(worker.task_definition, TaskDefinitionSource::FromService);
        assert_eq!(worker.env.get("LOG").map(String::as_str), Some("info"));
        assert_eq!(worker.env.get("QUEUE").map(String::as_str), Some("jobs"));
        assert!(!worker.has_services());
    }

    #[test]
    fn parallel_is_one_stage_of_every_service() {
        let config =
            from_text(Path::new("p.yml"), TWO.replace("order: [[worker], [web]]", "order: parallel"), &[]).unwrap();
        assert_eq!(config.environments["prod"].stages(), vec![vec!["web".to_owned(), "worker".to_owned()]]);
        let config = from_text(Path::new("p.yml"), TWO.replace("    order: [[worker], [web]]\n", ""), &[]).unwrap();
        assert_eq!(config.environments["prod"].order, DeployOrder::Parallel, "the default");
    }

    #[test]
    fn the_two_forms_mixed_and_bad_orders_are_refused_with_their_place() {
        let mixed = messages(&TWO.replace("    strategy: rolling\n", "    strategy: rolling\n    service: web\n"));
        assert_eq!(mixed.len(), 1, "{mixed:#?}");
        assert!(
            mixed[0].contains(":7:5:") && mixed[0].contains("`service` and `services` are both given"),
            "{mixed:?}"
        );

        let order = messages(&TWO.replace("[[worker], [web]]", "[[worker], [wbe, worker], []]"));
        let all = order.join("\n");
        assert!(all.contains("a stage is empty"), "{all}");
        assert!(all.contains("`wbe` is not under `services:`"), "{all}");
        assert!(all.contains("`web` is under `services:` but in no stage"), "{all}");
        assert!(all.contains("`worker` is in more than one place"), "{all}");

        let word = messages(&TWO.replace("[[worker], [web]]", "sideways"));
        assert!(word[0].contains("expected `parallel` or a list of stages"), "{word:?}");

        let alone = messages(&TWO.replace("    order: [[worker], [web]]\n", "    order: parallel\n    service: web\n"));
        assert!(alone.iter().any(|m| m.contains("are both given")), "{alone:?}");
    }

    #[test]
    fn the_shorthand_still_requires_its_keys_and_refuses_an_order() {
        let text = "version: 1\nimage: { repository: web }\nenvironments:\n  s:\n    cluster: c\n    container: c\n";
        let missing = messages(text);
        assert!(
            missing.iter().any(|m| m.ends_with("missing required key `service` in `environments.s`")),
            "{missing:?}"
        );
        assert!(missing.iter().any(|m| m.contains(":5:5:")), "placed at the environment's first key: {missing:?}");
        let parallel = format!("{text}    service: s\n    task-definition: td.json\n    order: parallel\n");
        assert!(from_text(Path::new("p.yml"), parallel, &[]).is_ok(), "`parallel` is the default");
        let with_stages = messages(&format!("{text}    service: s\n    task-definition: td.json\n    order: [[s]]\n"));
        assert!(with_stages[0].contains("`order` is only for an environment with `services:`"), "{with_stages:?}");
    }
}

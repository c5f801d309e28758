//! Checked before changed. A command that changes something first checks, read-only, everything it will use:
//! locally ([`local`]: files, task definitions, references) before the first AWS call, then in AWS ([`remote`]: the
//! cluster, service, controller, CodeDeploy group, alarms, repository) before the first write. Every problem names
//! the config key (file:line) that points at what is wrong, and a failed check changes nothing.

pub mod local;
pub mod remote;
pub mod sidecars;

use crate::Error;
use crate::config::{self, Config, ConfigError, Environment};

/// What a command is about to use, and so what must be checked.
#[derive(Default)]
pub struct Scope<'c> {
    /// It builds the image: the context and Dockerfile must exist.
    pub image: bool,
    /// It builds on the local engine for sure (`build`): the build secrets must be set now.
    pub build_secrets: bool,
    /// The environments it deploys to (all of them for `check`).
    pub environments: Vec<(&'c str, &'c Environment)>,
    /// Tasks it runs, with the environment whose container they default to.
    pub tasks: Vec<(&'c str, &'c Environment)>,
}

impl<'c> Scope<'c> {
    /// A release (or plan, check) to `environment`: the image, the environment and its before-deploy tasks.
    pub fn release(environment: Option<(&'c str, &'c Environment)>) -> Self {
        let mut scope = Scope { image: true, ..Scope::default() };
        if let Some((name, env)) = environment {
            scope.environments.push((name, env));
            scope.tasks.extend(env.before_deploy.iter().map(|s| (s.run_task.as_str(), env)));
            scope.tasks.extend(env.verify.iter().filter_map(|c| match c {
                config::VerifyCheck::RunTask(name) => Some((name.as_str(), env)),
                config::VerifyCheck::Http(_) => None,
            }));
        }
        scope
    }

    /// What a deployment to `name` uses: `each` is its `each_service()`, so each service of `services:` is checked as
    /// the one-service environment it is deployed as, with its before-deploy tasks.
    pub fn deploying(&mut self, name: &'c str, each: &'c [(String, Environment)]) {
        for (_, env) in each {
            self.environments.push((name, env));
            self.tasks.extend(env.before_deploy.iter().map(|s| (s.run_task.as_str(), env)));
        }
    }
}

/// A problem placed at a key of the config file (or the deepest of its parents the file has).
pub fn at(config: &Config, key: &[&str], message: &str, help: &str) -> Error {
    Error::Config(ConfigError::InvalidValue {
        at: Box::new(config::locate(&config.source.path, &config.source.text, key)),
        field: key.join("."),
        message: message.to_owned(),
        help: help.to_owned(),
    })
}

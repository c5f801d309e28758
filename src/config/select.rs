//! Choosing an environment (`--env`) or a task (`run-task NAME`) by name, with a did-you-mean.

use super::diagnose::closest;
use super::environment::Environment;
use super::error::ConfigError;
use super::model::Config;
use super::task::Task;

impl Config {
    /// The environment named `name`, or the only one when `name` is None.
    pub fn environment(&self, name: Option<&str>) -> Result<(&str, &Environment), ConfigError> {
        if self.environments.is_empty() {
            return Err(ConfigError::NoEnvironments { path: self.source.path.clone() });
        }
        let known: Vec<String> = self.environments.keys().cloned().collect();
        match name {
            Some(name) => self.environments.get_key_value(name).map(|(k, e)| (k.as_str(), e)).ok_or_else(|| {
                ConfigError::UnknownEnvironment { name: name.to_string(), suggestion: closest(name, &known), known }
            }),
            None => {
                let mut all = self.environments.iter();
                match (all.next(), all.next()) {
                    (Some((k, e)), None) => Ok((k.as_str(), e)),
                    _ => Err(ConfigError::EnvironmentRequired { known }),
                }
            }
        }
    }

    /// The task named `name` under `tasks:`.
    pub fn task(&self, name: &str) -> Result<&Task, ConfigError> {
        self.tasks.get(name).ok_or_else(|| {
            let known: Vec<String> = self.tasks.keys().cloned().collect();
            ConfigError::UnknownTask { name: name.to_string(), suggestion: closest(name, &known), known }
        })
    }
}

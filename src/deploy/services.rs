//! The deploy half of a release to an environment with `services:`: one [`DeployPlan`] per service, planned as the
//! one-service release plans its own, and the stages they deploy in. Executed in `command/services.rs`.

use serde::Serialize;

use super::plan::DeployPlan;
use crate::task_definition::TaskDefinitionDiff;

/// Every service of the environment, with the order they deploy in.
#[derive(Debug, Clone, Serialize)]
pub struct ServicesPlan {
    pub environment: String,
    /// Stages of service names: a stage starts when every service of the one before is healthy; the services of a
    /// stage deploy at once.
    pub order: Vec<Vec<String>>,
    pub services: Vec<ServiceDeploy>,
}

/// One service's deploy plan and what registering would change against what it runs.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceDeploy {
    pub name: String,
    pub deploy: DeployPlan,
    pub task_definition_diff: Option<TaskDefinitionDiff>,
}

impl ServicesPlan {
    /// Whether deploying would change any service.
    pub fn changes(&self) -> bool {
        self.services.iter().any(|s| s.task_definition_diff.is_some() || s.deploy.running_doc.is_none())
    }

    /// The stages as indexes into [`Self::services`].
    pub fn stages(&self) -> Vec<Vec<usize>> {
        let index = |name: &String| self.services.iter().position(|s| s.name == *name);
        self.order.iter().map(|stage| stage.iter().filter_map(index).collect()).collect()
    }

    /// `web, worker at once` or `worker, then web`.
    pub fn describe_order(&self) -> String {
        let stages: Vec<String> = self.order.iter().map(|s| s.join(" and ")).collect();
        match stages.as_slice() {
            [one] if self.services.len() > 1 => format!("{one} at once"),
            _ => stages.join(", then "),
        }
    }
}

//! One line per service of a multi-service release, carried in the outcome every sink renders.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLine {
    /// The entry's name under `services:`.
    pub name: String,
    /// `cluster/service`.
    pub service: String,
    pub state: ServiceState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// After a failure: the revision the service runs now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_now: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// Planned, not started (yet).
    Planned,
    /// Runs the new release, verified.
    Released,
    /// Already ran this release: nothing deployed.
    Unchanged,
    /// Its own deployment failed and it went back to what ran before.
    RolledBack,
    /// Its deployment succeeded, but another service's failed: returned to what ran before.
    Returned,
    /// Failed and NOT back on what ran before (or could not be returned): look at it.
    Failed,
    /// A later stage that never started because an earlier one failed.
    NotStarted,
}

impl ServiceState {
    pub fn name(self) -> &'static str {
        match self {
            ServiceState::Planned => "planned",
            ServiceState::Released => "released",
            ServiceState::Unchanged => "unchanged",
            ServiceState::RolledBack => "rolled back",
            ServiceState::Returned => "returned to what ran before",
            ServiceState::Failed => "FAILED",
            ServiceState::NotStarted => "not started",
        }
    }
}

impl ServiceLine {
    /// `worker (prod/worker): rolled back, runs worker:1`.
    pub fn describe(&self) -> String {
        let short = |arn: &str| arn.rsplit_once("task-definition/").map_or(arn, |(_, t)| t).to_owned();
        let detail = match (self.state, &self.running_now, &self.task_definition_arn) {
            (_, Some(now), _) => format!(", runs {}", short(now)),
            (ServiceState::Released | ServiceState::Unchanged, None, Some(arn)) => format!(", runs {}", short(arn)),
            _ => String::new(),
        };
        format!("{} ({}): {}{detail}", self.name, self.service, self.state.name())
    }
}

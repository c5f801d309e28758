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
    /// Stopped (or not started) because this other service of its stage failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because_of: Option<String>,
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
    /// Still deploying when another service of its stage failed: stopped at once and rolled back.
    Stopped,
    /// Its deployment succeeded, but another service's failed: returned to what ran before.
    Returned,
    /// Failed and NOT back on what ran before (or could not be returned): look at it.
    Failed,
    /// Never started: in a later stage than a failure, or its stage failed before its deployment began.
    NotStarted,
}

impl ServiceState {
    pub fn name(self) -> &'static str {
        match self {
            ServiceState::Planned => "planned",
            ServiceState::Released => "released",
            ServiceState::Unchanged => "unchanged",
            ServiceState::RolledBack => "rolled back",
            ServiceState::Stopped => "stopped at once and rolled back",
            ServiceState::Returned => "returned to what ran before",
            ServiceState::Failed => "FAILED",
            ServiceState::NotStarted => "not started",
        }
    }
}

impl ServiceLine {
    /// `worker (prod/worker): rolled back, runs worker:1`;
    /// `web (prod/web): stopped at once and rolled back because `worker` failed, runs web:1`.
    pub fn describe(&self) -> String {
        let short = |arn: &str| arn.rsplit_once("task-definition/").map_or(arn, |(_, t)| t).to_owned();
        let detail = match (self.state, &self.running_now, &self.task_definition_arn) {
            (_, Some(now), _) => format!(", runs {}", short(now)),
            (ServiceState::Released | ServiceState::Unchanged, None, Some(arn)) => format!(", runs {}", short(arn)),
            _ => String::new(),
        };
        let because = self.because_of.as_ref().map(|f| format!(" because `{f}` failed")).unwrap_or_default();
        format!("{} ({}): {}{because}{detail}", self.name, self.service, self.state.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(state: ServiceState, running_now: Option<&str>, because_of: Option<&str>) -> ServiceLine {
        ServiceLine {
            name: "web".into(),
            service: "prod/web".into(),
            state,
            task_definition_arn: Some("arn:aws:ecs:us-east-1:1:task-definition/web:2".into()),
            deployment_id: None,
            running_now: running_now.map(str::to_owned),
            because_of: because_of.map(str::to_owned),
        }
    }

    #[test]
    fn a_stopped_sibling_names_the_service_that_failed_and_what_it_runs_now() {
        let stopped =
            line(ServiceState::Stopped, Some("arn:aws:ecs:us-east-1:1:task-definition/web:1"), Some("worker"));
        assert_eq!(
            stopped.describe(),
            "web (prod/web): stopped at once and rolled back because `worker` failed, runs web:1"
        );
        let json = serde_json::to_value(&stopped).unwrap();
        assert_eq!((json["state"].as_str(), json["because_of"].as_str()), (Some("stopped"), Some("worker")));
        let not_started = line(ServiceState::NotStarted, None, Some("worker"));
        assert_eq!(not_started.describe(), "web (prod/web): not started because `worker` failed");
        assert_eq!(line(ServiceState::Released, None, None).describe(), "web (prod/web): released, runs web:2");
    }
}

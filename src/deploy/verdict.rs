//! Judging a rolling deployment from a DescribeServices snapshot (REFERENCE 2.5). Pure, so every
//! case of "looks stable but is not ours" is a unit test.

/// `services[].deployments[].status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    Primary,
    Active,
    Inactive,
}

/// `services[].deployments[].rolloutState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed,
}

impl DeploymentStatus {
    /// ECS's word for it; anything unknown counts as INACTIVE (it is not serving).
    pub fn parse(s: &str) -> Self {
        match s {
            "PRIMARY" => Self::Primary,
            "ACTIVE" => Self::Active,
            _ => Self::Inactive,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "PRIMARY",
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }
}

impl RolloutState {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "IN_PROGRESS" => Some(Self::InProgress),
            "COMPLETED" => Some(Self::Completed),
            "FAILED" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of one `services[].deployments[]` entry the verdict needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeploymentView {
    pub id: String,
    pub status: DeploymentStatus,
    pub task_definition: String,
    /// Absent on old services.
    pub rollout_state: Option<RolloutState>,
    pub rollout_state_reason: Option<String>,
    pub running: i32,
    pub desired: i32,
    pub failed_tasks: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    InProgress {
        running: i32,
        desired: i32,
        failed_tasks: i32,
    },
    /// Ours is PRIMARY, COMPLETED, alone, and at its desired count.
    Completed,
    /// Ours FAILED and nothing replaced it (circuit breaker without rollback).
    Failed {
        reason: String,
    },
    /// Ours failed or vanished and another deployment (typically the circuit breaker's rollback to
    /// the previous task definition) is PRIMARY now. The service may look stable: it is not ours.
    Replaced {
        by: String,
        task_definition: String,
        reason: String,
    },
    /// Ours is gone and nothing explains it.
    Vanished,
}

impl DeploymentView {
    pub fn is_primary(&self) -> bool {
        self.status == DeploymentStatus::Primary
    }

    /// Completed, or too old a service to say (no rollout state).
    pub fn is_settled(&self) -> bool {
        self.rollout_state.is_none_or(|s| s == RolloutState::Completed)
    }
}

impl Verdict {
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Verdict::InProgress { .. })
    }
}

/// `ours` is the deployment id UpdateService returned as PRIMARY.
pub fn judge(ours: &str, deployments: &[DeploymentView]) -> Verdict {
    let primary = deployments.iter().find(|d| d.is_primary());
    let Some(mine) = deployments.iter().find(|d| d.id == ours) else {
        return match primary {
            Some(p) => Verdict::Replaced {
                by: p.id.clone(),
                task_definition: p.task_definition.clone(),
                reason: "our deployment is no longer listed".into(),
            },
            None => Verdict::Vanished,
        };
    };
    let reason = || mine.rollout_state_reason.clone().unwrap_or_else(|| "no reason given".into());
    // ECS marks a rollout COMPLETED only once it reached steady state; a newer release may have
    // superseded it since (the next queued release), which does not undo that.
    if !mine.is_primary() && mine.rollout_state == Some(RolloutState::Completed) {
        return Verdict::Completed;
    }
    if !mine.is_primary()
        && let Some(p) = primary
    {
        return Verdict::Replaced { by: p.id.clone(), task_definition: p.task_definition.clone(), reason: reason() };
    }
    if mine.rollout_state == Some(RolloutState::Failed) {
        return Verdict::Failed { reason: reason() };
    }
    let alone = deployments.len() == 1;
    if mine.is_primary() && mine.is_settled() && alone && mine.running == mine.desired {
        return Verdict::Completed;
    }
    Verdict::InProgress { running: mine.running, desired: mine.desired, failed_tasks: mine.failed_tasks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: &str, status: &str, td: &str, state: &str, running: i32, desired: i32) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: DeploymentStatus::parse(status),
            task_definition: td.into(),
            rollout_state: RolloutState::parse(state),
            rollout_state_reason: Some(format!("{id} {state}")),
            running,
            desired,
            failed_tasks: 0,
        }
    }

    #[test]
    fn ours_primary_completed_alone_and_full_is_success() {
        assert_eq!(judge("new", &[d("new", "PRIMARY", "web:2", "COMPLETED", 2, 2)]), Verdict::Completed);
    }

    #[test]
    fn still_draining_the_old_deployment_is_in_progress() {
        let v = judge(
            "new",
            &[d("new", "PRIMARY", "web:2", "COMPLETED", 2, 2), d("old", "ACTIVE", "web:1", "COMPLETED", 1, 0)],
        );
        assert!(matches!(v, Verdict::InProgress { .. }), "{v:?}");
    }

    #[test]
    fn a_circuit_breaker_rollback_is_not_success_even_when_the_service_looks_stable() {
        // REFERENCE 0.1: after the rollback, one deployment at full count: the waiter says stable.
        let v = judge("new", &[d("rollback", "PRIMARY", "web:1", "COMPLETED", 2, 2)]);
        assert_eq!(
            v,
            Verdict::Replaced {
                by: "rollback".into(),
                task_definition: "web:1".into(),
                reason: "our deployment is no longer listed".into()
            }
        );
        let v = judge(
            "new",
            &[d("rollback", "PRIMARY", "web:1", "IN_PROGRESS", 1, 2), d("new", "ACTIVE", "web:2", "FAILED", 0, 0)],
        );
        assert!(matches!(v, Verdict::Replaced { ref task_definition, .. } if task_definition == "web:1"), "{v:?}");
    }

    #[test]
    fn a_completed_rollout_superseded_by_the_next_release_still_completed() {
        let v = judge(
            "first",
            &[d("second", "PRIMARY", "web:3", "IN_PROGRESS", 0, 2), d("first", "ACTIVE", "web:2", "COMPLETED", 2, 2)],
        );
        assert_eq!(v, Verdict::Completed);
    }

    #[test]
    fn failed_without_rollback_is_a_failure() {
        let v = judge(
            "new",
            &[d("new", "PRIMARY", "web:2", "FAILED", 0, 2), d("old", "ACTIVE", "web:1", "COMPLETED", 2, 2)],
        );
        assert_eq!(v, Verdict::Failed { reason: "new FAILED".into() });
    }

    #[test]
    fn nothing_primary_and_ours_gone_is_vanished() {
        assert_eq!(judge("new", &[]), Verdict::Vanished);
    }
}

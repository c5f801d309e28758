//! Fault injection: throttling, server errors and latency on a share of calls or on named operations,
//! configured through `POST /_sandbox/faults`.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::AwsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// The service's own throttling error (`ThrottlingException` / `Throttling`), HTTP 400.
    Throttle,
    /// HTTP 500 `InternalFailure`.
    Error,
    /// The call succeeds after `latency_ms`.
    Latency,
}

/// One rule. A call matches when `service` and `operation` (if given) equal its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// `ecr`, `ecs`, `codedeploy`, `cloudwatch`, `sts`, `elbv2`.
    #[serde(default)]
    pub service: Option<String>,
    /// The operation name, e.g. `RegisterTaskDefinition`.
    #[serde(default)]
    pub operation: Option<String>,
    /// Share of matching calls affected, 0.0-1.0 (default: all).
    #[serde(default = "one")]
    pub rate: f64,
    /// Affect at most this many calls, then the rule is spent.
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub latency_ms: u64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Default)]
pub struct Faults {
    pub rules: Vec<FaultRule>,
}

/// What to do to a call before it is handled.
#[derive(Debug)]
pub enum FaultAction {
    Fail(AwsError),
    Delay(Duration),
}

impl Faults {
    /// The first rule matching this call decides; a rule with a spent count is dropped.
    pub fn check(&mut self, service: &str, operation: &str) -> Option<FaultAction> {
        let mut rng = rand::rng();
        let index = self.rules.iter().position(|r| {
            r.service.as_deref().is_none_or(|s| s == service)
                && r.operation.as_deref().is_none_or(|o| o == operation)
                && r.count != Some(0)
        })?;
        let rule = &mut self.rules[index];
        if rule.rate < 1.0 && !rng.random_bool(rule.rate.clamp(0.0, 1.0)) {
            return None;
        }
        if let Some(count) = rule.count.as_mut() {
            *count -= 1;
        }
        Some(match rule.kind {
            FaultKind::Throttle => FaultAction::Fail(AwsError::throttling(service)),
            FaultKind::Error => {
                FaultAction::Fail(AwsError::internal(format!("injected fault on {service}:{operation}")))
            }
            FaultKind::Latency => FaultAction::Delay(Duration::from_millis(rule.latency_ms)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_rule_is_spent_after_its_count() {
        let mut faults = Faults::default();
        faults.rules.push(FaultRule {
            kind: FaultKind::Throttle,
            service: Some("ecs".into()),
            operation: Some("RegisterTaskDefinition".into()),
            rate: 1.0,
            count: Some(2),
            latency_ms: 0,
        });
        assert!(faults.check("ecs", "DescribeServices").is_none());
        assert!(faults.check("ecr", "RegisterTaskDefinition").is_none());
        for _ in 0..2 {
            match faults.check("ecs", "RegisterTaskDefinition") {
                Some(FaultAction::Fail(e)) => assert_eq!(e.code, "ThrottlingException"),
                other => panic!("expected a throttle, got {other:?}"),
            }
        }
        assert!(faults.check("ecs", "RegisterTaskDefinition").is_none());
    }
}

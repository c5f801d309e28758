//! Choosing the deployment strategy, once, from the service's deployment controller and the config.

use std::fmt;

/// What the config asks for: the environment's `strategy:`.
pub use crate::config::Strategy as Requested;

/// What the service is: `deploymentController.type` and, for ECS, `deploymentConfiguration.strategy`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Controller {
    pub kind: ControllerKind,
    /// `ROLLING`, `BLUE_GREEN`, `LINEAR` or `CANARY`; absent means ROLLING.
    pub ecs_strategy: Option<String>,
}

/// `deploymentController.type`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ControllerKind {
    Ecs,
    CodeDeploy,
    /// EXTERNAL, or anything newer: not driven by pipeline.
    Other(String),
}

impl ControllerKind {
    pub fn parse(s: &str) -> Self {
        match s {
            "ECS" => Self::Ecs,
            "CODE_DEPLOY" => Self::CodeDeploy,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ControllerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ecs => "ECS",
            Self::CodeDeploy => "CODE_DEPLOY",
            Self::Other(kind) => kind,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Strategy {
    /// UpdateService; success only when our deployment is PRIMARY, COMPLETED and alone.
    Rolling,
    /// CodeDeploy blue/green with an AppSpec per release.
    CodeDeploy,
    /// ECS-native blue/green (UpdateService; ECS shifts all traffic at once), driven in `ecs_native.rs`.
    EcsBlueGreen,
    /// ECS-native linear: traffic moves in equal steps.
    EcsLinear,
    /// ECS-native canary: a share first, then the rest.
    EcsCanary,
}

impl Strategy {
    /// One of ECS's own blue/green strategies (deploymentConfiguration.strategy, REFERENCE 2.6).
    pub fn is_ecs_native(self) -> bool {
        matches!(self, Strategy::EcsBlueGreen | Strategy::EcsLinear | Strategy::EcsCanary)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Rolling => "rolling",
            Strategy::CodeDeploy => "codedeploy",
            Strategy::EcsBlueGreen => "ecs-blue-green",
            Strategy::EcsLinear => "ecs-linear",
            Strategy::EcsCanary => "ecs-canary",
        })
    }
}

/// A mismatch between what the config asks and what the service can do, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub message: String,
    pub help: String,
}

/// The strategy for what the config asks (`strategy:` of an environment) on this service.
pub fn choose(requested: Requested, controller: &Controller) -> Result<Strategy, Mismatch> {
    let ecs_strategy = controller.ecs_strategy.as_deref().unwrap_or("ROLLING");
    match (&controller.kind, requested) {
        (ControllerKind::Ecs, Requested::Rolling) if ecs_strategy == "ROLLING" => Ok(Strategy::Rolling),
        // `strategy: ecs-blue-green` asks for ECS's own traffic shifting; the service says which shape.
        (ControllerKind::Ecs, Requested::EcsBlueGreen) if ecs_strategy == "LINEAR" => Ok(Strategy::EcsLinear),
        (ControllerKind::Ecs, Requested::EcsBlueGreen) if ecs_strategy == "CANARY" => Ok(Strategy::EcsCanary),
        (ControllerKind::Ecs, Requested::EcsBlueGreen) if ecs_strategy != "ROLLING" => Ok(Strategy::EcsBlueGreen),
        (ControllerKind::CodeDeploy, Requested::Codedeploy) => Ok(Strategy::CodeDeploy),
        (ControllerKind::Ecs, Requested::Rolling) => Err(Mismatch {
            message: format!("the service deploys with ECS's {ecs_strategy} strategy, but the config says `strategy: rolling`"),
            help: "set `strategy: ecs-blue-green` for this environment".into(),
        }),
        (ControllerKind::Ecs, Requested::EcsBlueGreen) => Err(Mismatch {
            message: "the service uses ECS rolling deployments, but the config says `strategy: ecs-blue-green`".into(),
            help: "set deploymentConfiguration.strategy to BLUE_GREEN, LINEAR or CANARY on the service, or use `strategy: rolling`".into(),
        }),
        (ControllerKind::Ecs, Requested::Codedeploy) => Err(Mismatch {
            message: "the service uses the ECS deployment controller, but the config says `strategy: codedeploy`".into(),
            help: "use `strategy: rolling` (or ecs-blue-green), or recreate the service with deploymentController CODE_DEPLOY".into(),
        }),
        (ControllerKind::CodeDeploy, other) => Err(Mismatch {
            message: format!(
                "the service uses the CODE_DEPLOY deployment controller, but the config says `strategy: {}`",
                Strategy::from(other)
            ),
            help: "set `strategy: codedeploy` and the `codedeploy:` application and deployment group".into(),
        }),
        (ControllerKind::Other(kind), _) => Err(Mismatch {
            message: format!("the service uses the {kind} deployment controller, which pipeline does not drive"),
            help: "pipeline deploys services with the ECS or CODE_DEPLOY controller".into(),
        }),
    }
}

impl From<Requested> for Strategy {
    fn from(r: Requested) -> Self {
        match r {
            Requested::Rolling => Strategy::Rolling,
            Requested::Codedeploy => Strategy::CodeDeploy,
            Requested::EcsBlueGreen => Strategy::EcsBlueGreen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl(kind: &str, strategy: Option<&str>) -> Controller {
        Controller { kind: ControllerKind::parse(kind), ecs_strategy: strategy.map(Into::into) }
    }

    #[test]
    fn each_controller_takes_its_own_strategy() {
        assert_eq!(choose(Requested::Rolling, &ctl("ECS", None)), Ok(Strategy::Rolling));
        assert_eq!(choose(Requested::Rolling, &ctl("ECS", Some("ROLLING"))), Ok(Strategy::Rolling));
        assert_eq!(choose(Requested::Codedeploy, &ctl("CODE_DEPLOY", None)), Ok(Strategy::CodeDeploy));
        assert_eq!(choose(Requested::EcsBlueGreen, &ctl("ECS", Some("BLUE_GREEN"))), Ok(Strategy::EcsBlueGreen));
        assert_eq!(choose(Requested::EcsBlueGreen, &ctl("ECS", Some("LINEAR"))), Ok(Strategy::EcsLinear));
        assert_eq!(choose(Requested::EcsBlueGreen, &ctl("ECS", Some("CANARY"))), Ok(Strategy::EcsCanary));
        assert!(Strategy::EcsCanary.is_ecs_native() && !Strategy::Rolling.is_ecs_native());
        assert_eq!(Strategy::EcsLinear.to_string(), "ecs-linear");
    }

    #[test]
    fn mismatches_say_what_to_change() {
        let e = choose(Requested::Rolling, &ctl("CODE_DEPLOY", None)).unwrap_err();
        assert!(e.message.contains("CODE_DEPLOY") && e.help.contains("strategy: codedeploy"), "{e:?}");
        let e = choose(Requested::Codedeploy, &ctl("ECS", None)).unwrap_err();
        assert!(e.message.contains("ECS deployment controller"), "{e:?}");
        let e = choose(Requested::Rolling, &ctl("EXTERNAL", None)).unwrap_err();
        assert!(e.message.contains("EXTERNAL"), "{e:?}");
    }
}

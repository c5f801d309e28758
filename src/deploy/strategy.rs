//! Choosing the deployment strategy, once, from the service's deployment controller and the config.

use std::fmt;

/// What the config asks for (`strategy:` of an environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    Rolling,
    CodeDeploy,
    EcsBlueGreen,
}

/// What the service is: `deploymentController.type` and, for ECS, `deploymentConfiguration.strategy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    pub kind: String,
    pub ecs_strategy: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// UpdateService; success only when our deployment is PRIMARY, COMPLETED and alone.
    Rolling,
    /// CodeDeploy blue/green with an AppSpec per release.
    CodeDeploy,
    /// ECS-native blue/green, linear or canary (UpdateService; ECS shifts the traffic).
    EcsBlueGreen,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Rolling => "rolling",
            Strategy::CodeDeploy => "codedeploy",
            Strategy::EcsBlueGreen => "ecs-blue-green",
        })
    }
}

/// A mismatch between what the config asks and what the service can do, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub message: String,
    pub help: String,
}

pub fn choose(requested: Requested, controller: &Controller) -> Result<Strategy, Mismatch> {
    let ecs_strategy = controller.ecs_strategy.as_deref().unwrap_or("ROLLING");
    match (controller.kind.as_str(), requested) {
        ("ECS", Requested::Rolling) if ecs_strategy == "ROLLING" => Ok(Strategy::Rolling),
        ("ECS", Requested::EcsBlueGreen) if ecs_strategy != "ROLLING" => Ok(Strategy::EcsBlueGreen),
        ("CODE_DEPLOY", Requested::CodeDeploy) => Ok(Strategy::CodeDeploy),
        ("ECS", Requested::Rolling) => Err(Mismatch {
            message: format!("the service deploys with ECS's {ecs_strategy} strategy, but the config says `strategy: rolling`"),
            help: "set `strategy: ecs-blue-green` for this environment".into(),
        }),
        ("ECS", Requested::EcsBlueGreen) => Err(Mismatch {
            message: "the service uses ECS rolling deployments, but the config says `strategy: ecs-blue-green`".into(),
            help: "set deploymentConfiguration.strategy to BLUE_GREEN, LINEAR or CANARY on the service, or use `strategy: rolling`".into(),
        }),
        ("ECS", Requested::CodeDeploy) => Err(Mismatch {
            message: "the service uses the ECS deployment controller, but the config says `strategy: codedeploy`".into(),
            help: "use `strategy: rolling` (or ecs-blue-green), or recreate the service with deploymentController CODE_DEPLOY".into(),
        }),
        ("CODE_DEPLOY", other) => Err(Mismatch {
            message: format!(
                "the service uses the CODE_DEPLOY deployment controller, but the config says `strategy: {}`",
                Strategy::from(other)
            ),
            help: "set `strategy: codedeploy` and the `codedeploy:` application and deployment group".into(),
        }),
        (kind, _) => Err(Mismatch {
            message: format!("the service uses the {kind} deployment controller, which pipeline does not drive"),
            help: "pipeline deploys services with the ECS or CODE_DEPLOY controller".into(),
        }),
    }
}

impl From<Requested> for Strategy {
    fn from(r: Requested) -> Self {
        match r {
            Requested::Rolling => Strategy::Rolling,
            Requested::CodeDeploy => Strategy::CodeDeploy,
            Requested::EcsBlueGreen => Strategy::EcsBlueGreen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl(kind: &str, strategy: Option<&str>) -> Controller {
        Controller { kind: kind.into(), ecs_strategy: strategy.map(Into::into) }
    }

    #[test]
    fn each_controller_takes_its_own_strategy() {
        assert_eq!(choose(Requested::Rolling, &ctl("ECS", None)), Ok(Strategy::Rolling));
        assert_eq!(choose(Requested::Rolling, &ctl("ECS", Some("ROLLING"))), Ok(Strategy::Rolling));
        assert_eq!(choose(Requested::CodeDeploy, &ctl("CODE_DEPLOY", None)), Ok(Strategy::CodeDeploy));
        assert_eq!(choose(Requested::EcsBlueGreen, &ctl("ECS", Some("CANARY"))), Ok(Strategy::EcsBlueGreen));
    }

    #[test]
    fn mismatches_say_what_to_change() {
        let e = choose(Requested::Rolling, &ctl("CODE_DEPLOY", None)).unwrap_err();
        assert!(e.message.contains("CODE_DEPLOY") && e.help.contains("strategy: codedeploy"), "{e:?}");
        let e = choose(Requested::CodeDeploy, &ctl("ECS", None)).unwrap_err();
        assert!(e.message.contains("ECS deployment controller"), "{e:?}");
        let e = choose(Requested::Rolling, &ctl("EXTERNAL", None)).unwrap_err();
        assert!(e.message.contains("EXTERNAL"), "{e:?}");
    }
}

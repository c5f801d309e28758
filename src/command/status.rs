//! `pipeline status`: what runs now, which release it is, what is in flight.

use super::{Run, planning};
use crate::Error;
use crate::deploy::strategy::ControllerKind;
use crate::deploy::plan::short_arn;
use crate::deploy::verdict::RolloutState;
use crate::deploy::{detach, verified};
use crate::ecs::{revision, service};
use crate::report::Stage;

pub async fn run(run: &mut Run<'_>) -> Result<(), Error> {
    let config = run.load_config()?;
    let (name, env, aws) = planning::environment(run, &config).await?;
    run.done.environment = Some(name.to_owned());
    let svc = service::describe(&aws.ecs, &env.cluster, &env.service).await?;
    let running_arn = svc.running().to_owned();
    let (_, running) = revision::describe(&aws.ecs, &running_arn).await?;
    let tags = running.tags();
    let release = tags.get(verified::VERSION).map(|v| format!("v{v}")).unwrap_or_else(|| "no pipeline release".into());
    let verified_at = tags.get(verified::VERIFIED_AT).map(|t| format!(", verified {t}")).unwrap_or_default();
    run.done.task_definition_arn = Some(running_arn.clone());
    run.done.version = tags.get(verified::VERSION).cloned();
    run.done.running_now = Some(format!("{running_arn} ({release}{verified_at})"));
    run.reporter.progress(
        Stage::Plan,
        format!(
            "{}/{}: {} of {} tasks running {} ({release}{verified_at})",
            svc.cluster, svc.name, svc.running_count, svc.desired_count, running_arn
        ),
    );
    // The family's latest revision, when it is not what runs (after a rollback or a failed release).
    let (latest, _) = revision::describe(&aws.ecs, running.family()).await?;
    if latest != running_arn {
        run.reporter.progress(
            Stage::Plan,
            format!(
                "the family's latest revision {} is not what runs ({})",
                short_arn(&latest),
                short_arn(&running_arn)
            ),
        );
    }
    for d in &svc.deployments {
        let state = d.rollout_state.as_ref().map_or("-", |s| s.as_str());
        run.reporter.progress(
            Stage::Deploy,
            format!("{} {} {} {state} {}/{} running", d.id, d.status, d.task_definition, d.running, d.desired),
        );
        if d.is_primary() && d.rollout_state == Some(RolloutState::InProgress) {
            run.done.deployment_id = Some(d.id.clone());
        }
    }
    // How the latest deployment ended: the answer to a release started with `wait: false`.
    let codedeploy = env.codedeploy.as_ref().filter(|_| svc.controller.kind == ControllerKind::CodeDeploy).map(|c| {
        crate::deploy::codedeploy::CodeDeploySettings {
            application: c.application.clone(),
            deployment_group: c.deployment_group.clone(),
            config: None,
            wait_when_busy: false,
            hooks: Vec::new(),
        }
    });
    match detach::latest(&aws, &svc, codedeploy.as_ref()).await {
        Ok(Some((line, rolled_back))) => {
            run.done.rolled_back = rolled_back;
            run.reporter.progress(Stage::Deploy, format!("latest: {line}"));
        }
        Ok(None) => {}
        Err(e) => run.reporter.warn(format!("could not read the latest deployment: {e}")),
    }
    Ok(())
}

//! `pipeline release`: the whole chain. Plan (version, image, deploy half, diff), then publish the
//! image, register, run the before-deploy tasks, arm the guard, deploy, watch, mark verified.
//! `push` and `deploy` run one half of it each.

use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::config::Config;
use crate::deploy::cancel::Cancel;
use crate::deploy::plan::DeployPlan;
use crate::deploy::strategy::Strategy;
use crate::deploy::{diagnostics, schedules, stages};
use crate::image::plan::ImagePlan;
use crate::image::publish;
use crate::notify::{self, Target};
use crate::plan::ReleaseLabel;
use crate::report::{Event, ImageOutcome, Stage};
use crate::request::VersionRequest;

/// A planned release: what its execution needs besides the plan the run reports.
pub struct Planned {
    pub config: Config,
    pub aws: Aws,
    pub image: ImagePlan,
}

pub async fn plan(run: &mut Run<'_>, request: &VersionRequest) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let (aws, image) = planning::release(run, &config, request, true).await?;
    Ok(Planned { config, aws, image })
}

pub async fn execute(run: &mut Run<'_>, Planned { config, aws, image }: Planned) -> Result<(), Error> {
    let deploy = run.plan.deploy.clone();
    let label = run.plan.label.clone();
    if let Some(deploy) = &deploy {
        let env = &config.environments[&deploy.environment];
        let target = Target {
            name: &deploy.environment,
            env,
            version: label.as_ref().map(|l| l.version.clone()),
            commit: label.as_ref().map(|l| l.commit.clone()),
        };
        notify::attach(&config, run.ci, &target, run.reporter);
    }
    let image = publish_image(run, &aws, &config, &image).await?;
    if let (Some(deploy), Some(label)) = (&deploy, &label) {
        deploy_image(run, &aws, &config, deploy, &image, label).await?;
        // After a verified release: scheduled jobs run the revision it deployed.
        if let Some(planned) = run.plan.schedules.clone() {
            schedules::apply(&aws, &planned, run.done.task_definition_arn.as_deref(), run.reporter).await?;
        }
    }
    Ok(())
}

/// Creates the repository if planned, builds and pushes or reuses, adds tags. Returns the pinned image.
pub(super) async fn publish_image(
    run: &mut Run<'_>,
    aws: &Aws,
    config: &Config,
    image: &ImagePlan,
) -> Result<String, Error> {
    let result = publish::execute(image, aws, config, run.ci, run.reporter).await?;
    let pinned = result.repository.pinned(&result.digest);
    run.done.image_uri = Some(pinned.clone());
    run.done.image_digest = Some(result.digest.to_string());
    run.done.image = Some(if result.built { ImageOutcome::Built } else { ImageOutcome::Reused });
    run.done.tags_added = result.tags_added;
    Ok(pinned)
}

/// register -> before-deploy tasks -> guard -> deploy -> verified; on failure, the diagnostics of
/// this deployment.
pub(super) async fn deploy_image(
    run: &mut Run<'_>,
    aws: &Aws,
    config: &Config,
    plan: &DeployPlan,
    image: &str,
    label: &ReleaseLabel,
) -> Result<(), Error> {
    let reporter = &mut *run.reporter;
    let (arn, _registered) = stages::register(aws, plan, image, label, reporter).await?;
    run.done.task_definition_arn = Some(arn.clone());
    let mut cancel = Cancel::on_signals();
    stages::before_deploy(aws, plan, &config.tasks, &arn, &mut cancel, reporter).await?;
    stages::arm_guard(aws, plan, reporter).await?;
    match stages::deploy(aws, plan, &arn, label, cancel, reporter).await {
        Ok(deployment) => {
            run.done.deployment_id = deployment;
            stages::mark_verified(aws, &arn, label).await?;
            reporter.emit(Event::Released { environment: plan.environment.clone(), task_definition_arn: arn });
            Ok(())
        }
        Err(e) => {
            if let Error::RolledBack { reason, now_running } = &e {
                run.done.rolled_back = true;
                run.done.running_now = Some(now_running.clone());
                reporter.emit(Event::RolledBack { reason: reason.clone() });
            }
            let codedeploy = plan.codedeploy.as_ref().filter(|_| plan.strategy == Strategy::CodeDeploy);
            let diagnostics = diagnostics::gather(aws, &plan.service, codedeploy).await;
            if !diagnostics.is_empty() {
                reporter.emit(Event::Failed { stage: Stage::Deploy, diagnostics });
            }
            Err(e)
        }
    }
}

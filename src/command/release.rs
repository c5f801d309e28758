//! `pipeline release`: the whole chain. Plan (version, image, deploy half, diff), then publish the
//! image, register, run the before-deploy tasks, arm the guard, deploy, watch, mark verified.
//! `push` and `deploy` run one half of it each.

use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::config::Config;
use crate::deploy::plan::DeployPlan;
use crate::deploy::strategy::Strategy;
use crate::deploy::{diagnostics, schedules, stages};
use crate::image::plan::ImagePlan;
use crate::image::publish::{self, ImageResult};
use crate::notify::{self, Target};
use crate::plan::ReleaseLabel;
use crate::publish_release;
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
    let mut deploy = run.plan.deploy.clone();
    let mut services = run.plan.services.clone();
    let label = run.plan.label.clone();
    let environment = deploy.as_ref().map(|d| &d.environment).or(services.as_ref().map(|s| &s.environment));
    if let Some(name) = environment {
        let env = &config.environments[name];
        let target = Target {
            name,
            env,
            version: label.as_ref().map(|l| l.version.clone()),
            commit: label.as_ref().map(|l| l.commit.clone()),
        };
        notify::attach(&config, run.ci, &target, run.reporter);
    }
    let published = publish_image(run, &aws, &config, &image).await?;
    let pinned = published.repository.pinned(&published.digest);
    // The sidecars as published, by digest, beside the image.
    let pins = &run.done.sidecar_images;
    deploy
        .iter_mut()
        .chain(services.iter_mut().flat_map(|s| s.services.iter_mut().map(|s| &mut s.deploy)))
        .for_each(|d| d.sidecars = pins.clone());
    let Some(label) = &label else { return Ok(()) };
    if let Some(deploy) = &deploy {
        deploy_image(run, &aws, &config, deploy, &pinned, label).await?;
        if !deploy.watch.wait && run.done.deployment_id.is_some() {
            // Detached: not verified yet, so nothing that follows a verified release moves.
            return Ok(());
        }
    } else if let Some(services) = &services {
        super::services::deploy_all(run, &aws, &config, services, &pinned, label).await?;
    } else {
        return Ok(());
    }
    // Verified: now the moving tags follow it, and the git tag (and Release) say it.
    let moved = publish::move_tags(&aws, &image, &published.repository, &published.manifest, run.reporter).await?;
    run.done.tags_added.extend(moved);
    if let (Some(publication), Some(publisher)) =
        (run.plan.publication.clone(), notify::release_publisher(&config, run.ci))
    {
        publish_release::publish(publisher.as_ref(), &publication, run.reporter).await;
    }
    // Scheduled jobs run the revision this release deployed.
    if let (Some(planned), Some(_)) = (run.plan.schedules.clone(), &deploy) {
        schedules::apply(&aws, &planned, run.done.task_definition_arn.as_deref(), run.reporter).await?;
    }
    Ok(())
}

/// Creates the repository if planned, builds and pushes or reuses, adds tags.
pub(super) async fn publish_image(
    run: &mut Run<'_>,
    aws: &Aws,
    config: &Config,
    image: &ImagePlan,
) -> Result<ImageResult, Error> {
    let mut cancel = run.cancel.clone();
    // A cancel during the build or the push stops it there: nothing was deployed.
    let sidecars = run.plan.sidecars.clone();
    let (ci, reporter) = (run.ci, &mut *run.reporter);
    let work = async {
        let result = publish::execute(image, aws, config, ci, reporter).await?;
        let pins = crate::image::sidecars::publish(&sidecars, aws, config, ci, reporter).await?;
        Ok::<_, Error>((result, pins))
    };
    let (result, pins) = tokio::select! {
        result = work => result?,
        _ = cancel.cancelled() => {
            return Err(Error::Cancelled { what: "during the image build and push: nothing was deployed".into() });
        }
    };
    run.done.sidecar_images = pins;
    run.done.image_uri = Some(result.repository.pinned(&result.digest));
    run.done.image_digest = Some(result.digest.to_string());
    run.done.image = Some(if result.built { ImageOutcome::Built } else { ImageOutcome::Reused });
    run.done.tags_added = result.tags_added.clone();
    Ok(result)
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
    let mut cancel = run.cancel.clone();
    cancel.stop_here(|| format!("before registering: {image} was published, nothing was deployed"))?;
    let (arn, _registered) = stages::register(aws, plan, image, label, reporter).await?;
    run.done.task_definition_arn = Some(arn.clone());
    // A service that runs this revision already is not deployed: nothing runs before it, no guard watches it.
    if !plan.already_runs(&arn) {
        stages::before_deploy(aws, plan, &config.tasks, &arn, &mut cancel, reporter).await?;
        cancel.stop_here(|| format!("before arming the guard: {arn} was registered, nothing was deployed"))?;
        stages::arm_guard(aws, plan, reporter).await?;
    }
    let since = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    let mut started = None;
    let deployed = stages::deploy(aws, plan, &arn, label, &config.tasks, cancel, reporter, &mut started).await;
    // Set on every path: a failed deployment's id is what the user looks up.
    run.done.deployment_id = started;
    match deployed {
        Ok(_) => {
            if !plan.watch.wait && run.done.deployment_id.is_some() {
                // Not verified yet: AWS is still watching it; `pipeline status` tells how it ended.
                return Ok(());
            }
            // A re-run of what already runs verified changes nothing, not even a tag.
            if !plan.runs_verified(&arn, &label.version) {
                stages::mark_verified(aws, &arn, label).await?;
            }
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
            let diagnostics = diagnostics::gather(aws, &plan.service, codedeploy, since).await;
            if !diagnostics.is_empty() {
                reporter.emit(Event::Failed { stage: Stage::Deploy, diagnostics });
            }
            Err(e)
        }
    }
}

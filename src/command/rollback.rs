//! `pipeline rollback [--to RELEASE] [--force]`: return the service to the newest verified release
//! other than the running one, or to the release named. It is reported as a release of that version
//! (terminal, Slack, a GitHub Deployment of its commit) and takes the fastest safe path: for a rolling
//! service one UpdateService; for CodeDeploy a deployment with `CodeDeployDefault.ECSAllAtOnce` (the
//! target was verified before, so no canary), alarms and auto-rollback still attached.

use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::config::Config;
use crate::deploy::cancel::Cancel;
use crate::deploy::plan::{DeployPlan, short_arn};
use crate::deploy::rollback_target::{self, Refusal, Wanted};
use crate::deploy::stages;
use crate::deploy::verified::{self, RevisionInfo};
use crate::notify::{self, Target};
use crate::plan::ReleaseLabel;
use crate::report::{Event, Stage};

/// The CodeDeploy configuration a rollback uses: everything at once, to a release already verified.
pub const ROLLBACK_CODEDEPLOY_CONFIG: &str = "CodeDeployDefault.ECSAllAtOnce";

pub struct Planned {
    config: Config,
    aws: Aws,
    deploy: DeployPlan,
    target: RevisionInfo,
}

pub async fn plan(run: &mut Run<'_>, to: Option<&str>, force: bool) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let (name, env, aws) = planning::environment(run, &config, "rollback").await?;
    planning::one_service(name, env, "rollback")?;
    let mut deploy = planning::deploy(run, &aws, name, env).await?;
    let running = deploy.running.clone();
    let family = verified::family_of(&running).unwrap_or(deploy.template.family()).to_owned();
    let wanted = Wanted::parse(to, &family);
    let found = match &wanted {
        Wanted::NewestVerified => verified::newest_where(&aws.ecs, &family, |r| r.verified && r.arn != running).await?,
        Wanted::Version(version) => {
            // The newest verified revision of that release, else its newest revision at all.
            let verified = verified::newest_where(&aws.ecs, &family, |r| {
                r.verified && rollback_target::matches_version(r, version)
            })
            .await?;
            match verified {
                Some(found) => Some(found),
                None => {
                    verified::newest_where(&aws.ecs, &family, |r| rollback_target::matches_version(r, version)).await?
                }
            }
        }
        Wanted::Revision(reference) => verified::revision(&aws.ecs, reference).await?,
    };
    let target = rollback_target::accept(&wanted, found, &family, force).map_err(|refusal| match refusal {
        Refusal::NoneVerified => Error::NothingToRollBackTo {
            service: format!("{}/{}", deploy.service.cluster, deploy.service.name),
            current: running.clone(),
        },
        Refusal::NotFound => Error::RollbackTargetMissing { family: family.clone(), wanted: wanted.to_string() },
        Refusal::Unverified(info) => Error::RollbackTargetUnverified {
            target: short_arn(&info.arn).to_owned(),
            release: info.version.map_or_else(|| "no pipeline release".to_owned(), |v| format!("v{v}")),
        },
        Refusal::OtherFamily { found } => Error::RollbackTargetForeign { found, family: family.clone() },
    })?;
    if !target.verified {
        run.reporter.warn(format!(
            "{} was never verified healthy; rolling back to it because of --force",
            short_arn(&target.arn)
        ));
    }
    let label = label(&target);
    run.plan.label = Some(label.clone());
    deploy.rollback_to = target.arn.clone();
    // The fastest safe path: the target ran healthy before, so CodeDeploy shifts all at once.
    if let Some(codedeploy) = &mut deploy.codedeploy {
        codedeploy.config = Some(ROLLBACK_CODEDEPLOY_CONFIG.to_owned());
    }
    // Verified before: no checks, and a group that waits for the reroute gets it at once.
    deploy.verify.skip_checks = true;
    run.reporter.progress(
        Stage::Plan,
        format!("roll back to v{} ({}, commit {})", label.version, short_arn(&target.arn), short(&label.commit)),
    );
    run.plan.deploy = Some(deploy.clone());
    run.done.task_definition_arn = Some(target.arn.clone());
    Ok(Planned { config, aws, deploy, target })
}

pub async fn execute(run: &mut Run<'_>, Planned { config, aws, deploy, target }: Planned) -> Result<(), Error> {
    let env = &config.environments[&deploy.environment];
    let label = label(&target);
    // Reported as a release of that version, its Deployment on its own commit.
    let commit = target.commit.clone().filter(|c| c.len() == 40);
    notify::attach(
        &config,
        run.ci,
        &Target { name: &deploy.environment, env, version: Some(label.version.clone()), commit },
        run.reporter,
    );
    stages::arm_guard(&aws, &deploy, run.reporter).await?;
    run.reporter.started(
        Stage::Rollback,
        format!(
            "rolling back {}/{} to v{} ({})",
            deploy.service.cluster,
            deploy.service.name,
            label.version,
            short_arn(&target.arn)
        ),
    );
    let mut started = None;
    let deployed = stages::deploy(
        &aws,
        &deploy,
        &target.arn,
        &label,
        &config.tasks,
        Cancel::on_signals(),
        run.reporter,
        &mut started,
    )
    .await;
    run.done.deployment_id = started;
    deployed?;
    // It ran healthy again: it is (still) a verified release.
    if target.version.is_some() && target.commit.is_some() {
        stages::mark_verified(&aws, &target.arn, &label).await?;
    }
    run.reporter
        .finished(Stage::Rollback, format!("the service runs v{} ({}) again", label.version, short_arn(&target.arn)));
    run.reporter
        .emit(Event::Released { environment: deploy.environment.clone(), task_definition_arn: target.arn.clone() });
    run.done.running_now = Some(target.arn);
    Ok(())
}

/// The release a revision holds, from its tags.
fn label(target: &RevisionInfo) -> ReleaseLabel {
    ReleaseLabel {
        version: target.version.clone().map_or_else(|| "unknown".to_owned(), |v| v.trim_start_matches('v').to_owned()),
        commit: target.commit.clone().unwrap_or_else(|| "unknown".to_owned()),
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

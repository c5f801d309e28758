//! `pipeline deploy --image REF`: the deploy half of a release for an image that exists already
//! (promotion by digest). An image in another registry than the environment's ECR is copied there by
//! digest first (`image/promote.rs`), or run in place (`promote: in-place`).

use super::preflight::Scope;
use super::release::deploy_image;
use super::{Run, planning};
use crate::Error;
use crate::aws::Aws;
use crate::config::identity::Promote;
use crate::config::{Config, Environment};
use crate::deploy::plan::DeployPlan;
use crate::image::distribution::Registry;
use crate::image::ecr;
use crate::image::existing::{self, ExistingImage};
use crate::image::promote::{self, Promotion, Target};
use crate::notify::{self, Target as NotifyTarget};
use crate::plan::ImageStep;
use crate::report::Stage;

pub struct Planned {
    config: Config,
    aws: Aws,
    /// `None` for an environment with `services:` (its plan is `run.plan.services`).
    deploy: Option<DeployPlan>,
    image: ExistingImage,
    // Boxed: the copy's clients would make every other command's plan as large.
    promotion: Option<Box<PlannedCopy>>,
}

/// A planned copy between registries, with the clients that will make it.
struct PlannedCopy {
    promotion: Promotion,
    source: Registry,
    target: Registry,
}

pub async fn plan(run: &mut Run<'_>, image: &str) -> Result<Planned, Error> {
    let config = run.load_config()?;
    let (name, env) = config.environment(run.global.env.as_deref())?;
    let each = env.each_service();
    let mut scope = Scope::release(None);
    scope.image = false;
    scope.deploying(name, &each);
    planning::check_locally(run, &config, &scope)?;
    let (aws, found, promotion) = locate(run, &config, env, image).await?;
    let deploy =
        if env.has_services() { None } else { Some(planning::deploy_checked(run, &aws, &config, name, env).await?) };
    run.plan.label = Some(found.label.clone());
    run.plan.image = match &promotion {
        Some(copy) => {
            for line in copy.promotion.describe() {
                run.reporter.progress(Stage::Plan, line);
            }
            ImageStep::Promote(copy.promotion.clone())
        }
        None => ImageStep::Existing { pinned: found.pinned.clone(), digest: found.digest.clone() },
    };
    // Sidecars built for that release are the ones tagged with its commit.
    run.plan.sidecars = crate::image::sidecars::plan_existing(&aws, &config, &found.label).await?;
    if env.has_services() {
        super::services::plan(run, &aws, &config, name, env).await?;
    } else {
        planning::diff(run)?;
    }
    planning::sidecars_checked(run, &config, name, env)?;
    Ok(Planned { config, aws, deploy, image: found, promotion })
}

/// Finds the image and the clients for the environment. A bare repository name is looked up in the
/// environment's ECR; an image in another registry must be one the job's own credentials read (the
/// environment's `role-arn` is assumed with them) and is promoted.
async fn locate(
    run: &mut Run<'_>,
    config: &Config,
    env: &Environment,
    image: &str,
) -> Result<(Aws, ExistingImage, Option<Box<PlannedCopy>>), Error> {
    let Some(host) = registry_host(image) else {
        let aws = planning::connect(run, &planning::identity(env, &reference_label(image))).await?;
        let found = existing::find(&aws.ecr, image).await?;
        return Ok((aws, found, None));
    };
    let base = Aws::connect_as(&planning::identity(env, "").base()).await?;
    let base_registry = ecr::registry_auth(&base.ecr).await?;
    let source_found = if base_registry.server == host { Some(existing::find(&base.ecr, image).await?) } else { None };
    let aws = match &env.role_arn {
        Some(_) => {
            // The session names the release: the source's version when it was readable.
            let release =
                source_found.as_ref().map(|f| f.label.version.clone()).unwrap_or_else(|| reference_label(image));
            planning::connect(run, &planning::identity(env, &release)).await?
        }
        None => base,
    };
    let target_registry = ecr::registry_auth(&aws.ecr).await?;
    if target_registry.server == host {
        let found = existing::find(&aws.ecr, image).await?;
        if env.promote == Promote::InPlace || found.repository.name == config.image.repository {
            return Ok((aws, found, None));
        }
        // The environment's registry, another repository: copied into `image.repository` by cross-repository mounts.
        let source = Registry::new(target_registry)?;
        let target = Registry::new(ecr::registry_auth(&aws.ecr).await?)?;
        let promotion = promote::plan(env.promote, &found, &source, &target_of(&aws, &target, config)).await?;
        return Ok((aws, found, Some(Box::new(PlannedCopy { promotion, source, target }))));
    }
    let Some(found) = source_found else {
        return Err(Error::BadImageRef {
            image: format!(
                "{image}: its registry {host} is neither this environment's ECR ({}) nor the one the job's own \
                 credentials open ({})",
                target_registry.server, base_registry.server
            ),
        });
    };
    let source = Registry::new(base_registry)?;
    let target = Registry::new(target_registry)?;
    let promotion = promote::plan(env.promote, &found, &source, &target_of(&aws, &target, config)).await?;
    Ok((aws, found, Some(Box::new(PlannedCopy { promotion, source, target }))))
}

/// The environment's repository (`image.repository`) in its ECR, as a promotion's target.
fn target_of<'a>(aws: &'a Aws, registry: &'a Registry, config: &'a Config) -> Target<'a> {
    Target { ecr: &aws.ecr, registry, repository: &config.image.repository, create: config.image.create_repository }
}

/// The registry host of an image reference: a first path segment with a `.` or `:` (or `localhost`).
fn registry_host(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// What names a release before its image is read: the tag, or the digest's first 12 hex digits.
fn reference_label(image: &str) -> String {
    match image.split_once('@') {
        Some((_, digest)) => digest.trim_start_matches("sha256:").chars().take(12).collect(),
        None => image.rsplit_once(':').map(|(_, tag)| tag.trim_start_matches('v').to_owned()).unwrap_or_default(),
    }
}

pub async fn execute(
    run: &mut Run<'_>,
    Planned { config, aws, deploy, image, promotion }: Planned,
) -> Result<(), Error> {
    let pins = run.plan.planned_sidecars();
    let mut deploy = deploy;
    let mut services = run.plan.services.clone();
    for plan in deploy.iter_mut().chain(services.iter_mut().flat_map(|s| s.services.iter_mut().map(|s| &mut s.deploy)))
    {
        plan.sidecars = pins.clone();
    }
    let Some(name) = deploy.as_ref().map(|d| &d.environment).or(services.as_ref().map(|s| &s.environment)) else {
        return Ok(());
    };
    let env = &config.environments[name];
    // The Deployment names the image's commit (its OCI revision label), else the workflow's.
    let commit = Some(image.label.commit.clone()).filter(|c| c.len() == 40);
    let target = NotifyTarget { name, env, version: Some(image.label.version.clone()), commit };
    notify::attach(&config, run.ci, &target, run.reporter);
    let pinned = match promotion.as_deref() {
        Some(PlannedCopy { promotion, source, target }) => {
            let policy = crate::image::publish::lifecycle_policy(&config)?;
            promote::execute(promotion, source, &target_of(&aws, target, &config), policy.as_deref(), run.reporter)
                .await?;
            run.done.tags_added.extend(promotion.tags.iter().cloned());
            promotion.pinned.clone()
        }
        None => image.pinned.clone(),
    };
    match (&deploy, &services) {
        (Some(deploy), _) => deploy_image(run, &aws, &config, deploy, &pinned, &image.label).await,
        (None, Some(services)) => {
            super::services::deploy_all(run, &aws, &config, services, &pinned, &image.label).await
        }
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_host_is_a_first_segment_with_a_dot_or_port() {
        assert_eq!(
            registry_host("111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:ab"),
            Some("111122223333.dkr.ecr.eu-west-1.amazonaws.com")
        );
        assert_eq!(registry_host("127.0.0.1:4599/team/web:v1"), Some("127.0.0.1:4599"));
        assert_eq!(registry_host("team/web:v1"), None);
        assert_eq!(registry_host("web:v1"), None);
        assert_eq!(reference_label("web:v1.2.0"), "1.2.0");
        assert_eq!(reference_label(&format!("r.example/web@sha256:{}", "ab".repeat(32))), "abababababab");
    }
}

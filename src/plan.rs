//! The release plan: everything a run will do, computed read-only before the first change, as plain
//! serialisable data. `plan`, `check` and `--dry-run` show it and stop; `build`, `push`, `release`,
//! `deploy` and `rollback` execute it. It is filled stage by stage (version, image, deploy), so a
//! planning error still reports what was decided before it.

use serde::Serialize;

use crate::deploy::job::JobPlan;
use crate::deploy::plan::DeployPlan;
use crate::deploy::schedules::SchedulesPlan;
use crate::deploy::services::ServicesPlan;
use crate::image::plan::{ImageAction, ImagePlan, RepositoryState};
use crate::image::reference::Digest;
use crate::image::sidecars::SidecarPlan;
use crate::publish_release::Publication;
use crate::report::ImageOutcome;
use crate::task_definition::TaskDefinitionDiff;
pub use crate::version::ReleaseLabel;
use crate::version::ReleaseVersion;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReleasePlan {
    /// The version and commit being released; `None` for `rollback`.
    pub label: Option<ReleaseLabel>,
    /// Every tag the image will carry, the commit tag first.
    pub tags: Vec<String>,
    pub image: ImageStep,
    /// The sidecars (`image.sidecars`), pinned beside the image in the task definitions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<SidecarPlan>,
    pub deploy: Option<DeployPlan>,
    /// An environment with `services:`: each service's deploy plan (then `deploy` and `task_definition_diff` are
    /// `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<ServicesPlan>,
    /// What registering would change in the task definition; `None` when nothing would.
    pub task_definition_diff: Option<TaskDefinitionDiff>,
    /// The git tag (and GitHub Release) published once the release is verified.
    pub publication: Option<Publication>,
    /// `schedules:` reconciled with EventBridge Scheduler; `None` when the config has no `schedules:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedules: Option<SchedulesPlan>,
    /// `run-task`: the job and where it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobPlan>,
    /// Why AWS was not read (`check` without credentials): the plan is the offline one, and its
    /// task-definition diff is against the committed file's previous version, not what runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<String>,
}

/// Where the image the service will run comes from.
// One per run, matched by value in several places: boxing the image plan would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ImageStep {
    /// No image: `rollback` deploys a revision that is already registered.
    #[default]
    None,
    /// `build`: build on the local engine only, tagged with the release tags.
    Local { version: ReleaseVersion },
    /// `push`, `release`: build and push this commit's image, or reuse it from ECR.
    Publish(ImagePlan),
    /// `deploy --image`: an image already in ECR, pinned by digest.
    Existing { pinned: String, digest: Digest },
    /// `deploy --image` of an image in another registry: copied there by digest (or run in place).
    Promote(crate::image::promote::Promotion),
    /// `check` without AWS credentials: ECR was not asked whether it has this commit's image.
    Offline { repository: String, commit: String },
}

impl ReleasePlan {
    /// Whether executing the plan would change anything (`pipeline plan` exits 2 when it would).
    pub fn changes(&self) -> bool {
        let image = match &self.image {
            ImageStep::Publish(image) => image.changes(),
            ImageStep::Local { .. } | ImageStep::Offline { .. } => true,
            ImageStep::None | ImageStep::Existing { .. } => false,
            ImageStep::Promote(promotion) => promotion.changes(),
        };
        // The diff is against what runs: a change to deploy shows there, whatever the family's latest is.
        let undeployed = self.deploy.as_ref().is_some_and(|d| d.running_doc.is_none());
        let schedules = self.schedules.as_ref().is_some_and(SchedulesPlan::changes);
        let services = self.services.as_ref().is_some_and(ServicesPlan::changes);
        let sidecars = self.sidecars.iter().any(SidecarPlan::changes);
        image || self.task_definition_diff.is_some() || undeployed || schedules || services || sidecars
    }

    /// The image the task definition will pin: known for a reuse or an existing image, a
    /// placeholder until a build has a digest.
    pub fn planned_image(&self) -> Option<String> {
        match &self.image {
            ImageStep::Publish(plan) => Some(match (&plan.action, &plan.repository) {
                (ImageAction::Reuse { manifest, .. }, RepositoryState::Exists(repo)) => repo.pinned(&manifest.digest),
                (_, RepositoryState::Exists(repo)) => format!("{}@<digest of the new build>", repo.uri()),
                (_, RepositoryState::Create { name }) => format!("{name}@<digest of the new build>"),
            }),
            ImageStep::Existing { pinned, .. } => Some(pinned.clone()),
            ImageStep::Promote(promotion) => Some(promotion.pinned.clone()),
            ImageStep::Offline { repository, .. } => Some(format!("{repository}@<digest of the image>")),
            ImageStep::None | ImageStep::Local { .. } => None,
        }
    }

    /// The sidecars' images by container, as planned (placeholders until built).
    pub fn planned_sidecars(&self) -> std::collections::BTreeMap<String, String> {
        self.sidecars.iter().map(|s| (s.container.clone(), s.planned_image())).collect()
    }

    /// The digest known before execution (reuse, existing image).
    pub fn planned_digest(&self) -> Option<&Digest> {
        match &self.image {
            ImageStep::Publish(ImagePlan { action: ImageAction::Reuse { manifest, .. }, .. }) => Some(&manifest.digest),
            ImageStep::Existing { digest, .. } => Some(digest),
            ImageStep::Promote(promotion) => Some(&promotion.digest),
            _ => None,
        }
    }

    pub fn image_outcome(&self) -> Option<ImageOutcome> {
        match &self.image {
            ImageStep::Publish(ImagePlan { action: ImageAction::Build { .. }, .. }) | ImageStep::Local { .. } => {
                Some(ImageOutcome::PlannedBuild)
            }
            ImageStep::Publish(ImagePlan { action: ImageAction::Reuse { .. }, .. }) => Some(ImageOutcome::PlannedReuse),
            ImageStep::None | ImageStep::Existing { .. } | ImageStep::Offline { .. } | ImageStep::Promote(_) => None,
        }
    }
}

/// The deploy half's plan lines, in the order things will happen.
pub fn describe_deploy(plan: &DeployPlan) -> Vec<String> {
    let svc = &plan.service;
    let mut lines = vec![format!(
        "deploy to {}/{} ({} strategy), now running {}",
        svc.cluster, svc.name, plan.strategy, plan.running
    )];
    lines.extend(plan.latest_not_running());
    if !plan.alarms.is_empty() {
        lines.push(format!("guard: {}", plan.alarms.join(", ")));
    }
    lines.extend(plan.verify.describe());
    let why = if plan.rollback_to == plan.running { " (what runs now)" } else { "" };
    lines.push(format!("rollback target: {}{why}", plan.rollback_to));
    lines
}

/// The task-definition line(s) of a plan.
pub fn describe_diff(diff: Option<&TaskDefinitionDiff>) -> String {
    match diff {
        None => "task definition: unchanged (no new revision)".into(),
        Some(diff) => format!("task definition changes:\n{diff}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::reference::Repository;

    fn reuse_plan(missing: Vec<String>) -> ReleasePlan {
        let digest = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        let version = ReleaseVersion {
            version: semver::Version::new(1, 2, 0),
            commit: "0123456789ab".repeat(3) + "0123",
            dirty: false,
            timestamp: 0,
        };
        let manifest = crate::image::ecr::Manifest { digest, body: "{}".into(), media_type: None };
        ReleasePlan {
            label: Some(ReleaseLabel::from(&version)),
            tags: vec!["sha-0123456789ab".into(), "v1.2.0".into()],
            image: ImageStep::Publish(ImagePlan {
                version,
                repository: RepositoryState::Exists(Repository { name: "web".into(), registry: "r.example".into() }),
                tags: vec!["sha-0123456789ab".into(), "v1.2.0".into()],
                action: ImageAction::Reuse { manifest, missing },
                mutability: crate::image::tag_policy::Mutability::for_new_repository(&[]),
                moving: Vec::new(),
                overwritable: Vec::new(),
                cache: Default::default(),
                platform: None,
            }),
            sidecars: Vec::new(),
            deploy: None,
            services: None,
            task_definition_diff: None,
            publication: None,
            schedules: None,
            job: None,
            offline: None,
        }
    }

    #[test]
    fn a_reused_image_with_every_tag_is_no_change_and_pins_the_digest() {
        let plan = reuse_plan(Vec::new());
        assert!(!plan.changes());
        assert_eq!(plan.planned_image().unwrap(), format!("r.example/web@sha256:{}", "a".repeat(64)));
        assert_eq!(plan.image_outcome(), Some(ImageOutcome::PlannedReuse));
        assert!(reuse_plan(vec!["v1.2.0".into()]).changes(), "a missing tag is a change");
    }

    #[test]
    fn the_plan_is_serialisable_data() {
        let json = serde_json::to_value(reuse_plan(Vec::new())).unwrap();
        assert_eq!(json["image"]["kind"], "publish");
        assert_eq!(json["label"]["version"], "1.2.0");
        assert_eq!(json["image"]["action"]["Reuse"]["manifest"]["digest"], format!("sha256:{}", "a".repeat(64)));
    }
}

//! One file per command. Each command that changes something has two halves: `plan` (read-only,
//! fills [`Run::plan`]) and `execute` (the changes, recorded in [`Run::done`]); `run.rs` calls the
//! second only when the first succeeded and the run is not dry. The outcome every sink renders is
//! made once, from the plan and what was done ([`Run::outcome`]).

pub mod build;
pub mod check;
pub mod deploy;
pub mod init;
pub mod plan;
pub mod push;
pub mod release;
pub mod rollback;
pub mod run_task;
pub mod schedules;
pub mod schema;
pub mod status;

mod planning;
mod preflight;
mod services;

use crate::Error;
use crate::ci::Ci;
use crate::config::{self, Config};
use crate::deploy::cancel::Cancel;
use crate::plan::ReleasePlan;
use crate::report::{ImageOutcome, Outcome, Reporter, Status};
use crate::request::Global;

/// What every command works with: the request's options, the CI context, the reporter, and the
/// run's record (the plan, then what was done).
pub struct Run<'a> {
    pub global: &'a Global,
    pub ci: &'a Ci,
    pub reporter: &'a mut Reporter,
    pub plan: ReleasePlan,
    pub done: Done,
    /// SIGINT/SIGTERM, listened to once the changes begin (after the dry-run gate).
    pub cancel: Cancel,
}

/// What a run did or saw, beyond its plan: the facts the outcome reports.
#[derive(Debug, Clone, Default)]
pub struct Done {
    pub environment: Option<String>,
    /// A version that is not the plan's (`status`: what runs now).
    pub version: Option<String>,
    pub image_uri: Option<String>,
    pub image_digest: Option<String>,
    pub image: Option<ImageOutcome>,
    pub tags_added: Vec<String>,
    pub task_definition_arn: Option<String>,
    pub deployment_id: Option<String>,
    pub rolled_back: bool,
    pub running_now: Option<String>,
    /// `plan`: the release would change something (exit 2).
    pub changes: bool,
    /// The sidecars as published: pinned image by container.
    pub sidecar_images: std::collections::BTreeMap<String, String>,
    /// A release of several services: what became of each.
    pub services: Vec<crate::report::ServiceLine>,
    /// `run-task`, `status --task`: the job's task, its last status and exit code.
    pub task_arn: Option<String>,
    pub task_status: Option<String>,
    pub task_exit_code: Option<i32>,
    /// `run-task --at`: the one-time schedule.
    pub schedule_arn: Option<String>,
}

impl<'a> Run<'a> {
    pub fn new(global: &'a Global, ci: &'a Ci, reporter: &'a mut Reporter) -> Self {
        Self { global, ci, reporter, plan: ReleasePlan::default(), done: Done::default(), cancel: Cancel::never() }
    }

    pub fn load_config(&self) -> Result<Config, Error> {
        Ok(config::load(&self.global.config, &self.global.set)?)
    }

    /// The outcome of the run so far: the plan's decisions, overridden by what was done.
    pub fn outcome(&self, command: &str) -> Outcome {
        let plan = &self.plan;
        let done = &self.done;
        let diff = plan.task_definition_diff.as_ref();
        Outcome {
            command: command.into(),
            status: done.changes.then_some(Status::Changes),
            environment: done.environment.clone().or_else(|| plan.deploy.as_ref().map(|d| d.environment.clone())),
            version: done.version.clone().or_else(|| plan.label.as_ref().map(|l| l.version.clone())),
            tags: plan.tags.clone(),
            image_uri: done.image_uri.clone().or_else(|| plan.planned_digest().and(plan.planned_image())),
            image_digest: done.image_digest.clone().or_else(|| plan.planned_digest().map(ToString::to_string)),
            image_action: done.image.or_else(|| plan.image_outcome()),
            tags_added: done.tags_added.clone(),
            task_definition_arn: done.task_definition_arn.clone(),
            task_definition_diff: diff.map(ToString::to_string),
            task_definition_changes: diff.and_then(|d| serde_json::to_value(d).ok()),
            deployment_id: done.deployment_id.clone(),
            rolled_back: done.rolled_back,
            running_now: done.running_now.clone(),
            services: done.services.clone(),
            task_arn: done.task_arn.clone(),
            task_status: done.task_status.clone(),
            task_exit_code: done.task_exit_code,
            schedule_arn: done.schedule_arn.clone(),
            dry_run: self.global.dry_run.then_some(true),
            plan: (self.global.dry_run || matches!(command, "plan" | "check" | "schedules plan"))
                .then(|| serde_json::to_value(plan).ok())
                .flatten(),
            verify: Vec::new(),
            error: None,
        }
    }
}

//! The one-off task check: the named task from `tasks:` runs (RunTask, inside the VPC, so private endpoints work
//! too) against the release being verified; exit code 0 passes. It reuses the job planning and RunTask of
//! `pipeline run-task` and `before-deploy`.

use std::collections::BTreeMap;
use std::time::Instant;

use super::Jobs;
use crate::deploy::cancel::Cancel;
use crate::deploy::{job, run_task};
use crate::report::{CheckReport, Reporter, Stage};

/// `None`: cancelled (the task was stopped).
pub async fn run(name: &str, jobs: &Jobs<'_>, cancel: &mut Cancel, reporter: &mut Reporter) -> Option<CheckReport> {
    let check = format!("run-task {name}");
    let failed = |detail: String| CheckReport {
        name: check.clone(),
        passed: false,
        requests: 1,
        failures: 1,
        detail,
        ..CheckReport::default()
    };
    let Some(task) = jobs.tasks.get(name) else {
        return Some(failed("not defined under `tasks:` in the config".into()));
    };
    let planned = job::plan(jobs.ecs, name, task, &jobs.defaults, jobs.service, &BTreeMap::new(), true).await;
    let job = match planned {
        Ok(job) => job,
        Err(e) => return Some(failed(format!("could not be planned: {e}"))),
    };
    let arn = match job::ensure_registered(jobs.ecs, &job, Some(jobs.task_definition)).await {
        Ok(arn) => arn,
        Err(e) => return Some(failed(format!("could not be registered: {e}"))),
    };
    let request = job.request(&arn);
    let start = Instant::now();
    // Its own stage line would end the verify stage in the timeline: a progress line instead.
    let task_arn = match run_task::start(jobs.ecs, &request, &mut Reporter::default()).await {
        Ok(arn) => arn,
        Err(e) => return Some(failed(e.to_string())),
    };
    reporter.progress(Stage::Verify, format!("task `{name}` started: {task_arn}"));
    let end = match run_task::wait_stopped(jobs.ecs, &request, &task_arn, cancel).await {
        Ok(end) => end,
        Err(crate::Error::Cancelled { .. }) => return None,
        Err(e) => return Some(failed(e.to_string())),
    };
    let took = start.elapsed().as_millis() as u64;
    let verdict = end.verdict();
    Some(CheckReport {
        name: check,
        passed: verdict.is_ok(),
        requests: 1,
        failures: u32::from(verdict.is_err()),
        latency_p50_ms: Some(took),
        latency_max_ms: Some(took),
        detail: match verdict {
            Ok(()) => format!("{task_arn} exited 0"),
            Err(why) => format!("{task_arn} {why}"),
        },
    })
}

//! `pipeline check`: on a pull request, plan (read-only), then post the plan, or the error with its
//! annotations, as a check run on the PR head commit. The command fails when the plan does; a
//! reporting failure only warns.

use super::{Run, planning};
use crate::Error;
use crate::report::{
    Annotation, CheckConclusion, CheckPosted, ErrorReportExt, Event, GithubApi, GithubSettings, PlanRecorder, Stage,
    Status, check_summary,
};
use crate::request::VersionRequest;

pub async fn run(run: &mut Run<'_>, request: &VersionRequest) -> Result<(), Error> {
    let recorder = PlanRecorder::default();
    run.reporter.add_sink(Box::new(recorder.clone()));
    let planned = match run.load_config() {
        Ok(config) => planning::release(run, &config, request, true).await.map(drop),
        Err(e) => Err(e),
    };
    let mut view = run.outcome("check");
    view.status = Some(if planned.is_err() { Status::Failure } else { Status::Success });
    view.error = planned.as_ref().err().map(|e| e.report());
    let markdown = check_summary(&recorder.lines(), &view);
    let settings = GithubSettings {
        checks: true,
        token: run.ci.github_token(),
        api_url: run.ci.github_api_url(),
        repository: run.ci.repository().unwrap_or_default().to_owned(),
        commit_sha: run.ci.commit(),
        ..GithubSettings::default()
    };
    match GithubApi::from_settings(&settings) {
        None => run.reporter.emit(Event::Summary { markdown: markdown.clone() }),
        Some(api) => {
            let annotations: Vec<Annotation> = view.error.iter().filter_map(Annotation::for_error).collect();
            match api.post_check(&markdown, CheckConclusion::for_outcome(&view), &annotations).await {
                Ok(CheckPosted::CheckRun { html_url, .. }) => {
                    let link = html_url.map(|u| format!(": {u}")).unwrap_or_default();
                    run.reporter.progress(Stage::Plan, format!("check run posted{link}"));
                }
                Ok(_) => run.reporter.emit(Event::Summary { markdown: markdown.clone() }),
                Err(e) => run.reporter.warn(format!("{e}; the plan is in the log above")),
            }
        }
    }
    // A pending change is what a PR is for: `check` passes with it (unlike `plan`, which exits 2).
    planned
}

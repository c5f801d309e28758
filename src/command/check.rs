//! `pipeline check`: on a pull request, plan (read-only), then post the plan, or the error with its
//! annotations, as a check run on the PR head commit. The command fails when the plan does; a
//! reporting failure only warns.
//!
//! Without AWS credentials (a pull request from a fork gets no OIDC token) the plan is made offline:
//! every environment's files are validated, the version and tags computed, and the task definition
//! rendered and diffed against the committed file's previous version (the PR's base); the check run
//! says that the live diff was skipped and why, and passes when the config is valid.

use super::preflight::Scope;
use super::{Run, planning};
use crate::Error;
use crate::config::{Config, TaskDefinitionSource};
use crate::git;
use crate::plan::ImageStep;
use crate::report::{
    Annotation, CheckConclusion, CheckPosted, ErrorReportExt, Event, GithubApi, GithubSettings, PlanRecorder, Stage,
    Status, check_summary,
};
use crate::request::VersionRequest;
use crate::task_definition::{self, RenderInput, TaskDefinitionDoc};

pub async fn run(run: &mut Run<'_>, request: &VersionRequest) -> Result<(), Error> {
    let recorder = PlanRecorder::default();
    run.reporter.add_sink(Box::new(recorder.clone()));
    let planned = match run.load_config() {
        Ok(config) => plan(run, &config, request).await,
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

/// Every environment's files checked (each service's, with `services:`), then the release planned: live when AWS
/// answers, offline when there are no credentials (or no region) to ask it with.
async fn plan(run: &mut Run<'_>, config: &Config, request: &VersionRequest) -> Result<(), Error> {
    // Each environment as a release to it is checked: with `services:`, each service's own task definition.
    let each: Vec<(&str, Vec<_>)> =
        config.environments.iter().map(|(n, env)| (n.as_str(), env.each_service())).collect();
    let mut everything = Scope { image: true, ..Scope::default() };
    for (name, all) in &each {
        everything.deploying(name, all);
    }
    planning::check_locally(run, config, &everything)?;
    match planning::release(run, config, request, true).await {
        Err(Error::Credentials { reason }) => offline(run, config, request, &format!("no AWS credentials ({reason})")),
        Err(Error::NoRegion) => offline(run, config, request, "no AWS region (AWS_REGION, or `region` in the config)"),
        other => other.map(drop),
    }
}

/// The plan without AWS: the version (from git alone) and tags are known, the image and the live
/// task definition are not.
fn offline(run: &mut Run<'_>, config: &Config, request: &VersionRequest, reason: &str) -> Result<(), Error> {
    run.plan.offline = Some(reason.to_owned());
    if run.plan.label.is_none() {
        // The releases in ECR cannot be read: the git tags alone give the version.
        let tree = crate::version::precheck(&config.dir, request.explicit.as_deref(), request.allow_dirty)?;
        planning::version(run, config, &tree, request, &[], false)?;
    }
    run.reporter.progress(
        Stage::Plan,
        format!("live diff skipped: {reason}; ECR and ECS were not read, so what runs now is not compared"),
    );
    let Some(label) = run.plan.label.clone() else { return Ok(()) };
    let repository = config.image.repository.clone();
    run.reporter.progress(
        Stage::Plan,
        format!(
            "image: {repository} tagged {}, built unless ECR already has commit {}",
            run.plan.tags.join(", "),
            short(&label.commit)
        ),
    );
    run.plan.image = ImageStep::Offline { repository, commit: label.commit.clone() };
    let Ok((name, env)) = config.environment(run.global.env.as_deref()) else { return Ok(()) };
    run.done.environment = Some(name.to_owned());
    let TaskDefinitionSource::File(path) = &env.task_definition else {
        run.reporter.progress(Stage::Plan, "task definition: `from-service`, which needs AWS to read".to_owned());
        return Ok(());
    };
    let image = run.plan.planned_image().unwrap_or_default();
    let input = RenderInput { container: &env.container, image: &image, env: &env.env, secrets: &env.secrets };
    // Checked by the local checks already.
    let current = task_definition::render(&TaskDefinitionDoc::load(path)?.doc, &input)?;

    let base = run.ci.event().pull_request_base().unwrap_or_else(|| "HEAD~1".to_owned());
    let relative = path.strip_prefix(&config.dir).unwrap_or(path).display().to_string();
    let previous = git::Repo::open(&config.dir).and_then(|repo| repo.show(&base, &relative)).ok().flatten();
    let previous = previous
        .and_then(|text| TaskDefinitionDoc::parse(&text, &relative, format_of(path)).ok())
        .and_then(|loaded| task_definition::render(&loaded.doc, &input).ok());
    let against = match &previous {
        Some(_) => format!("{relative} at {}", short(&base)),
        None => format!("nothing ({relative} is new since {})", short(&base)),
    };
    let old = previous.map(|d| without_tags(d.to_register_json())).unwrap_or_else(|| serde_json::json!({}));
    let diff = task_definition::diff(&old, &without_tags(current.to_register_json()));
    run.reporter.progress(Stage::Plan, format!("task definition rendered for {name}; diffed against {against}"));
    run.plan.task_definition_diff = (!diff.is_empty()).then_some(diff);
    Ok(())
}

fn format_of(path: &std::path::Path) -> task_definition::Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml") => task_definition::Format::Yaml,
        _ => task_definition::Format::Json,
    }
}

fn without_tags(mut doc: serde_json::Value) -> serde_json::Value {
    if let Some(map) = doc.as_object_mut() {
        map.remove("tags");
    }
    doc
}

fn short(rev: &str) -> &str {
    if rev.len() == 40 { &rev[..12] } else { rev }
}

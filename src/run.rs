//! Runs one request: load the config, plan everything read-only, print the plan, and (unless dry)
//! execute it. Reporting of start and end, on every path, happens around this in `lib.rs::run`.

use crate::Error;
use crate::aws::Aws;
use crate::config::{self, Config, Environment};
use crate::deploy::cancel::Cancel;
use crate::deploy::execute::{self, ReleaseLabel};
use crate::deploy::plan::DeployPlan;
use crate::deploy::run_task::{self, RunTaskRequest};
use crate::deploy::strategy::Strategy;
use crate::deploy::{self, service, verified};
use crate::image::release;
use crate::plan::{self, ImageAction, ImagePlan};
use crate::report::{Outcome, Reporter, Stage, Status};
use crate::request::{Command, Global, Request, VersionRequest};
use crate::version::{self, GithubContext, ReleaseVersion};

pub async fn execute(request: &Request, reporter: &mut Reporter, outcome: &mut Outcome) -> Result<(), Error> {
    let global = &request.global;
    match &request.command {
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&config::schema()).unwrap_or_default());
            Ok(())
        }
        Command::Init { force } => init(global, *force),
        Command::Build(v) => {
            let config = load(global)?;
            let version = resolve_version(&config, v, reporter, outcome)?;
            if global.dry_run {
                outcome.image_action = Some("planned-build".into());
                return Ok(());
            }
            release::build_local(&config, &version, &outcome.tags, reporter).await?;
            outcome.image_action = Some("built".into());
            Ok(())
        }
        Command::Push(v) => {
            let release = prepare(global, load(global)?, v, false, reporter, outcome).await?;
            if !global.dry_run {
                image_half(&release, reporter, outcome).await?;
            }
            Ok(())
        }
        Command::Plan(v) => {
            let release = prepare(global, load(global)?, v, true, reporter, outcome).await?;
            if release.changes(outcome) {
                outcome.status = Some(Status::Changes);
            }
            Ok(())
        }
        Command::Release(v) => {
            let release = prepare(global, load(global)?, v, true, reporter, outcome).await?;
            if global.dry_run {
                return Ok(());
            }
            if let Some(plan) = &release.deploy {
                let env = &release.config.environments[&plan.environment];
                let commit = release.image.version.commit.clone();
                notify(&release.config, &plan.environment, env, &outcome.version, Some(commit), reporter);
            }
            let image = image_half(&release, reporter, outcome).await?;
            if let Some(plan) = &release.deploy {
                let label = ReleaseLabel {
                    version: release.image.version.version.to_string(),
                    commit: release.image.version.commit.clone(),
                };
                deploy_half(&release.aws, &release.config, plan, &image, &label, reporter, outcome).await?;
            }
            Ok(())
        }
        Command::Deploy { image } => {
            let config = load(global)?;
            let (name, env) = config.environment(global.env.as_deref())?;
            let aws = Aws::connect(env.region.as_deref()).await?;
            let plan = deploy_plan(&aws, name, env, outcome, reporter).await?;
            let (image, label) = resolve_image(&aws, image).await?;
            outcome.version = Some(label.version.clone());
            outcome.image_uri = Some(image.clone());
            plan_diff(&plan, &image, reporter, outcome)?;
            if global.dry_run {
                return Ok(());
            }
            notify(&config, name, env, &outcome.version, None, reporter);
            deploy_half(&aws, &config, &plan, &image, &label, reporter, outcome).await
        }
        Command::Check(v) => check(global, v, reporter, outcome).await,
        Command::Rollback => rollback(global, reporter, outcome).await,
        Command::Status => status(global, reporter, outcome).await,
        Command::RunTask { name, env } => run_one_task(global, name, env, reporter, outcome).await,
    }
}

/// Everything a release will do, planned before anything changes.
struct Release {
    config: Config,
    aws: Aws,
    image: ImagePlan,
    deploy: Option<DeployPlan>,
}

impl Release {
    fn changes(&self, outcome: &Outcome) -> bool {
        let undeployed = self
            .deploy
            .as_ref()
            .is_some_and(|d| d.latest.as_ref().is_none_or(|(arn, _)| *arn != d.service.task_definition));
        self.image.changes() || outcome.task_definition_diff.is_some() || undeployed
    }
}

fn load(global: &Global) -> Result<Config, Error> {
    Ok(config::load(&global.config, &global.set)?)
}

fn resolve_version(
    config: &Config,
    request: &VersionRequest,
    reporter: &mut Reporter,
    outcome: &mut Outcome,
) -> Result<ReleaseVersion, Error> {
    let github = GithubContext::from_env();
    let version = version::resolve(&config.dir, request.explicit.as_deref(), request.allow_dirty, &github)?;
    outcome.version = Some(version.version.to_string());
    outcome.tags = version.tags(&config.tags);
    reporter.finished(Stage::Version, format!("{} -> tags {}", version.version_tag(), outcome.tags.join(", ")));
    Ok(version)
}

/// Config, version, AWS, the image plan and (with `deploy`) the deploy plan of the chosen environment.
async fn prepare(
    global: &Global,
    config: Config,
    request: &VersionRequest,
    deploy: bool,
    reporter: &mut Reporter,
    outcome: &mut Outcome,
) -> Result<Release, Error> {
    let version = resolve_version(&config, request, reporter, outcome)?;
    // A release deploys to the chosen environment; the image half only needs one for its region.
    let wants_environment =
        (deploy && !config.environments.is_empty()) || global.env.is_some() || config.environments.len() == 1;
    let environment = if wants_environment { Some(config.environment(global.env.as_deref())?) } else { None };
    let aws = Aws::connect(environment.and_then(|(_, e)| e.region.as_deref())).await?;
    let image = plan::plan_image(&aws.ecr, &config.image.repository, version, outcome.tags.clone()).await?;
    for line in image.describe() {
        reporter.progress(Stage::Plan, line);
    }
    outcome.image_action = Some(
        match image.action {
            ImageAction::Build { .. } => "planned-build",
            ImageAction::Reuse { .. } => "planned-reuse",
        }
        .into(),
    );
    let planned_image = match (&image.action, &image.repository) {
        (ImageAction::Reuse { manifest, .. }, plan::RepositoryState::Exists(repo)) => {
            outcome.image_digest = Some(manifest.digest.to_string());
            repo.pinned(&manifest.digest)
        }
        (_, plan::RepositoryState::Exists(repo)) => format!("{}@<digest of the new build>", repo.uri()),
        (_, plan::RepositoryState::Create { name }) => format!("{name}@<digest of the new build>"),
    };
    let deploy = match (deploy, environment) {
        (true, Some((name, env))) => {
            let plan = deploy_plan(&aws, name, env, outcome, reporter).await?;
            plan_diff(&plan, &planned_image, reporter, outcome)?;
            Some(plan)
        }
        _ => None,
    };
    Ok(Release { config, aws, image, deploy })
}

async fn deploy_plan(
    aws: &Aws,
    name: &str,
    env: &Environment,
    outcome: &mut Outcome,
    reporter: &mut Reporter,
) -> Result<DeployPlan, Error> {
    outcome.environment = Some(name.to_owned());
    let plan = deploy::plan::plan(aws, name, env).await?;
    for warning in &plan.warnings {
        tracing::warn!("{warning}");
    }
    let svc = &plan.service;
    reporter.progress(
        Stage::Plan,
        format!(
            "deploy to {}/{} ({} strategy), now running {}",
            svc.cluster, svc.name, plan.strategy, svc.task_definition
        ),
    );
    if !plan.alarms.is_empty() {
        reporter.progress(Stage::Plan, format!("guard: {}", plan.alarms.join(", ")));
    }
    reporter.progress(Stage::Plan, format!("rollback target: {}", plan.rollback_to));
    Ok(plan)
}

fn plan_diff(plan: &DeployPlan, image: &str, reporter: &mut Reporter, outcome: &mut Outcome) -> Result<(), Error> {
    let diff = plan.diff(image)?;
    if diff.is_empty() {
        reporter.progress(Stage::Plan, "task definition: unchanged (no new revision)");
    } else {
        let text = diff.to_string();
        reporter.progress(Stage::Plan, format!("task definition changes:\n{text}"));
        outcome.task_definition_diff = Some(text);
        outcome.task_definition_changes = serde_json::to_value(&diff).ok();
    }
    Ok(())
}

/// Creates the repository if planned, builds and pushes or reuses, adds tags. Returns the pinned image.
async fn image_half(release: &Release, reporter: &mut Reporter, outcome: &mut Outcome) -> Result<String, Error> {
    let result = release::execute(&release.image, &release.aws, &release.config, reporter).await?;
    let pinned = result.repository.pinned(&result.digest);
    outcome.image_uri = Some(pinned.clone());
    outcome.image_digest = Some(result.digest.to_string());
    outcome.image_action = Some(if result.built { "built" } else { "reused" }.into());
    outcome.tags_added = result.tags_added;
    Ok(pinned)
}

/// register -> before-deploy tasks -> guard -> deploy -> verified.
async fn deploy_half(
    aws: &Aws,
    config: &Config,
    plan: &DeployPlan,
    image: &str,
    label: &ReleaseLabel,
    reporter: &mut Reporter,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    let (arn, _registered) = execute::register(aws, plan, image, label, reporter).await?;
    outcome.task_definition_arn = Some(arn.clone());
    let mut cancel = Cancel::on_signals();
    execute::before_deploy(aws, plan, &config.tasks, &arn, &mut cancel, reporter).await?;
    execute::arm_guard(aws, plan, reporter).await?;
    let result = execute::deploy(aws, plan, &arn, label, cancel, reporter).await;
    match result {
        Ok(deployment) => {
            outcome.deployment_id = deployment;
            execute::mark_verified(aws, &arn, label).await?;
            reporter.emit(crate::report::Event::Released {
                environment: plan.environment.clone(),
                task_definition_arn: arn,
            });
            Ok(())
        }
        Err(e) => {
            if let Error::RolledBack { reason, now_running } = &e {
                outcome.rolled_back = true;
                outcome.running_now = Some(now_running.clone());
                reporter.emit(crate::report::Event::RolledBack { reason: reason.clone() });
            }
            let codedeploy = plan.codedeploy.as_ref().filter(|_| plan.strategy == Strategy::CodeDeploy);
            let diagnostics = deploy::diagnostics::gather(aws, &plan.service, codedeploy).await;
            if !diagnostics.is_empty() {
                reporter.emit(crate::report::Event::Failed { stage: Stage::Deploy, diagnostics });
            }
            Err(e)
        }
    }
}

/// `pipeline deploy --image REF`: `repo@sha256:...` or `repo:tag`, looked up in ECR (it must be
/// there) and pinned by digest; the release label comes from the image's `v*` and `sha-*` tags.
async fn resolve_image(aws: &Aws, image: &str) -> Result<(String, ReleaseLabel), Error> {
    use aws_sdk_ecr::types::ImageIdentifier;
    let bad = |why: &str| Error::BadImageRef { image: format!("{image} ({why})") };
    let (reference, id) = match image.split_once('@') {
        Some((repo, digest)) => (repo, ImageIdentifier::builder().image_digest(digest).build()),
        None => {
            let (repo, tag) = image
                .rsplit_once(':')
                .filter(|(r, t)| !r.is_empty() && !t.contains('/'))
                .ok_or_else(|| bad("no tag or digest"))?;
            (repo, ImageIdentifier::builder().image_tag(tag).build())
        }
    };
    // Without the registry host (a first segment with `.` or `:`), the rest is the repository name.
    let name = match reference.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') => rest,
        _ => reference,
    };
    let repo = crate::image::ecr::find_repository(&aws.ecr, name)
        .await?
        .ok_or_else(|| Error::RepositoryMissing { repository: name.to_owned() })?;
    let described = aws.ecr.describe_images().repository_name(name).image_ids(id).send().await;
    let details = match described {
        Ok(out) => out.image_details().first().cloned().ok_or_else(|| bad("not in ECR"))?,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_image_not_found_exception()) => {
            return Err(bad("not in ECR"));
        }
        Err(e) => return Err(Error::aws("DescribeImages", name, e)),
    };
    let digest = details
        .image_digest()
        .and_then(crate::image::reference::Digest::parse)
        .ok_or_else(|| bad("ECR reports no digest"))?;
    let tags = details.image_tags();
    let version = tags
        .iter()
        .find_map(|t| t.strip_prefix('v').filter(|v| semver::Version::parse(v).is_ok()))
        .map(str::to_owned)
        .unwrap_or_else(|| digest.to_string().chars().take(19).collect());
    let commit = tags.iter().find_map(|t| t.strip_prefix("sha-")).unwrap_or("unknown").to_owned();
    Ok((repo.pinned(&digest), ReleaseLabel { version, commit }))
}

async fn rollback(global: &Global, reporter: &mut Reporter, outcome: &mut Outcome) -> Result<(), Error> {
    let config = load(global)?;
    let (name, env) = config.environment(global.env.as_deref())?;
    let aws = Aws::connect(env.region.as_deref()).await?;
    let plan = deploy_plan(&aws, name, env, outcome, reporter).await?;
    let current = &plan.service.task_definition;
    if &plan.rollback_to == current {
        return Err(Error::NothingToRollBackTo {
            service: format!("{}/{}", plan.service.cluster, plan.service.name),
            current: current.clone(),
        });
    }
    let target = plan.rollback_to.clone();
    outcome.task_definition_arn = Some(target.clone());
    if global.dry_run {
        return Ok(());
    }
    notify(&config, name, env, &None, None, reporter);
    let label = ReleaseLabel { version: "rollback".into(), commit: "rollback".into() };
    execute::arm_guard(&aws, &plan, reporter).await?;
    outcome.deployment_id = execute::deploy(&aws, &plan, &target, &label, Cancel::on_signals(), reporter).await?;
    outcome.running_now = Some(target);
    Ok(())
}

async fn status(global: &Global, reporter: &mut Reporter, outcome: &mut Outcome) -> Result<(), Error> {
    let config = load(global)?;
    let (name, env) = config.environment(global.env.as_deref())?;
    outcome.environment = Some(name.to_owned());
    let aws = Aws::connect(env.region.as_deref()).await?;
    let svc = service::describe(&aws.ecs, &env.cluster, &env.service).await?;
    let (_, running) = deploy::plan::describe(&aws.ecs, &svc.task_definition).await?;
    let tags = running.tags();
    let release = tags.get(verified::VERSION).map(|v| format!("v{v}")).unwrap_or_else(|| "no pipeline release".into());
    let verified_at = tags.get(verified::VERIFIED_AT).map(|t| format!(", verified {t}")).unwrap_or_default();
    outcome.task_definition_arn = Some(svc.task_definition.clone());
    outcome.version = tags.get(verified::VERSION).cloned();
    outcome.running_now = Some(format!("{} ({release}{verified_at})", svc.task_definition));
    reporter.progress(
        Stage::Plan,
        format!(
            "{}/{}: {} of {} tasks running {} ({release}{verified_at})",
            svc.cluster, svc.name, svc.running_count, svc.desired_count, svc.task_definition
        ),
    );
    for d in &svc.deployments {
        let state = d.rollout_state.as_deref().unwrap_or("-");
        reporter.progress(
            Stage::Deploy,
            format!("{} {} {} {state} {}/{} running", d.id, d.status, d.task_definition, d.running, d.desired),
        );
        if d.status == "PRIMARY" && state == "IN_PROGRESS" {
            outcome.deployment_id = Some(d.id.clone());
        }
    }
    Ok(())
}

async fn run_one_task(
    global: &Global,
    name: &str,
    overrides: &[(String, String)],
    reporter: &mut Reporter,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    let config = load(global)?;
    let (env_name, env) = config.environment(global.env.as_deref())?;
    outcome.environment = Some(env_name.to_owned());
    let task = config.task(name)?;
    let aws = Aws::connect(env.region.as_deref()).await?;
    let svc = service::describe(&aws.ecs, &env.cluster, &env.service).await?;
    let mut values = task.env.clone();
    values.extend(overrides.iter().cloned());
    let request = RunTaskRequest {
        name: name.to_owned(),
        cluster: env.cluster.clone(),
        task_definition: svc.task_definition.clone(),
        container: task.container(env).to_owned(),
        command: task.command.clone(),
        env: values,
        network: svc.network.clone(),
        poll: env.guard.poll_interval,
        timeout: env.timeout,
    };
    outcome.task_definition_arn = Some(svc.task_definition.clone());
    if global.dry_run {
        return Ok(());
    }
    run_task::run(&aws.ecs, &request, &mut Cancel::on_signals(), reporter).await
}

/// `pipeline check`: plan (read-only), then post the plan, or the error with its annotations, on
/// the PR head commit. The command fails when the plan does; a reporting failure only warns.
async fn check(
    global: &Global,
    request: &VersionRequest,
    reporter: &mut Reporter,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    use crate::report::{
        Annotation, CheckConclusion, CheckPosted, ErrorReportExt, Event, GithubApi, GithubSettings, PlanRecorder,
        check_summary,
    };
    use secrecy::SecretString;
    let recorder = PlanRecorder::default();
    reporter.add_sink(Box::new(recorder.clone()));
    let planned = match load(global) {
        Ok(config) => {
            prepare(global, config, request, true, reporter, outcome).await.map(|release| release.changes(outcome))
        }
        Err(e) => Err(e),
    };
    let mut view = outcome.clone();
    view.status = Some(if planned.is_err() { Status::Failure } else { Status::Success });
    view.error = planned.as_ref().err().map(|e| e.report());
    let markdown = check_summary(&recorder.lines(), &view);
    let github = GithubContext::from_env();
    let head = github.pull_request_head().ok().flatten().or_else(|| std::env::var("GITHUB_SHA").ok());
    let settings = GithubSettings {
        checks: true,
        token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()).map(SecretString::from),
        api_url: std::env::var("GITHUB_API_URL").unwrap_or_else(|_| crate::report::GITHUB_API_URL.into()),
        repository: std::env::var("GITHUB_REPOSITORY").unwrap_or_default(),
        commit_sha: head,
        ..GithubSettings::default()
    };
    match GithubApi::from_settings(&settings) {
        None => reporter.emit(Event::Summary { markdown: markdown.clone() }),
        Some(api) => {
            let annotations: Vec<Annotation> = view.error.iter().filter_map(Annotation::for_error).collect();
            match api.post_check(&markdown, CheckConclusion::for_outcome(&view), &annotations).await {
                Ok(CheckPosted::CheckRun { html_url, .. }) => {
                    reporter.progress(
                        Stage::Plan,
                        format!("check run posted{}", html_url.map(|u| format!(": {u}")).unwrap_or_default()),
                    );
                }
                Ok(_) => reporter.emit(Event::Summary { markdown: markdown.clone() }),
                Err(e) => eprintln!("warning: {e}; the plan is in the log above"),
            }
        }
    }
    // A pending change is what a PR is for: `check` passes with it (unlike `plan`, which exits 2).
    planned.map(|_changes| ())
}

/// Adds the sinks `notify:` configures (Slack, GitHub Deployments), masking their secrets first.
fn notify(
    config: &Config,
    env_name: &str,
    env: &Environment,
    version: &Option<String>,
    commit: Option<String>,
    reporter: &mut Reporter,
) {
    use crate::report::{GithubSettings, NotifySettings, ReleaseContext, SlackSettings, sinks_for_release};
    use secrecy::{ExposeSecret, SecretString};
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty()).map(SecretString::from);
    let slack = config.notify.slack.as_ref().map(|s| {
        let (token, webhook) = match s.auth() {
            config::SlackAuth::BotTokenEnv(name) => (var(name), None),
            config::SlackAuth::WebhookEnv(name) => (None, var(name)),
        };
        let mut settings = SlackSettings {
            channel: Some(s.channel.clone()),
            token,
            webhook,
            required: s.required,
            ..SlackSettings::default()
        };
        // A proxy or the sandbox's capture can stand in for Slack's API.
        if let Ok(url) = std::env::var("SLACK_API_URL") {
            settings.api_url = url;
        }
        settings
    });
    let github_settings = &config.notify.github;
    let github = std::env::var("GITHUB_REPOSITORY").ok().map(|repository| GithubSettings {
        deployments: github_settings.deployments,
        checks: github_settings.checks,
        required: github_settings.required,
        token: var("GITHUB_TOKEN"),
        api_url: std::env::var("GITHUB_API_URL").unwrap_or_else(|_| crate::report::GITHUB_API_URL.into()),
        repository,
        run_url: ReleaseContext::from_env().run_url,
        environment: Some(env_name.to_owned()),
        environment_url: env.url.clone(),
        commit_sha: commit.clone().or_else(|| std::env::var("GITHUB_SHA").ok()),
        production_environment: None,
    });
    for secret in [&slack.as_ref().and_then(|s| s.token.clone()), &slack.as_ref().and_then(|s| s.webhook.clone())]
        .into_iter()
        .flatten()
    {
        reporter.mask(secret.expose_secret());
    }
    let context = ReleaseContext {
        service: Some(format!("{}/{}", env.cluster, env.service)),
        environment: Some(env_name.to_owned()),
        version: version.clone(),
        commit_sha: commit.or_else(|| ReleaseContext::from_env().commit_sha),
        ..ReleaseContext::from_env()
    };
    for sink in sinks_for_release(&NotifySettings { slack, github }, &context) {
        reporter.add_sink(sink);
    }
}

fn init(global: &Global, force: bool) -> Result<(), Error> {
    let path = &global.config;
    if path.exists() && !force {
        return Err(Error::InitExists { path: path.display().to_string() });
    }
    std::fs::write(path, config::INIT_TEMPLATE)
        .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    eprintln!("wrote {}: edit image.repository and the environments, then run `pipeline plan`", path.display());
    Ok(())
}

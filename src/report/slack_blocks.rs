//! The Slack deployment card (Block Kit) and its thread replies, as pure functions of the run
//! record, so they are snapshot-tested.

use serde_json::{Value, json};

use super::record::{RunRecord, StepState, format_duration};
use super::{ReleaseContext, Stage, Status};

/// Header text is plain_text, at most 150 characters; section text at most 3000.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 2900;

/// The card: `(fallback text, blocks)`.
pub fn card(record: &RunRecord, ctx: &ReleaseContext) -> (String, Value) {
    let service = ctx.service.clone().unwrap_or_else(|| "service".into());
    let env = environment(record, ctx).unwrap_or_else(|| "-".into());
    let version = version(record, ctx);
    let status = status_line(record);
    let title = match &version {
        Some(v) => format!("{service} {v} → {env}"),
        None => format!("{service} → {env}"),
    };
    let version = version.map_or_else(|| "-".to_owned(), |v| format!("`{v}`"));
    let commit = match (&ctx.commit_sha, &ctx.repository_url) {
        (Some(sha), Some(repo)) => format!("<{repo}/commit/{sha}|`{}`>", short(sha)),
        (Some(sha), None) => format!("`{}`", short(sha)),
        _ => "-".into(),
    };
    let field = |name: &str, value: &str| json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")});
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, HEADER_MAX), "emoji": true}}),
        json!({"type": "section", "fields": [
            field("Service", &service),
            field("Environment", &env),
            field("Version", &version),
            field("Status", &status),
            field("Commit", &commit),
            field("Actor", ctx.actor.as_deref().unwrap_or("-")),
        ]}),
    ];
    if let Some(now) = now_line(record) {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&now, SECTION_MAX)}}));
    }
    let mut context = Vec::new();
    if let Some(run) = &ctx.run_url {
        context.push(json!({"type": "mrkdwn", "text": format!("<{run}|GitHub Actions run>")}));
    }
    context.push(
        json!({"type": "mrkdwn", "text": format!("pipeline {} · {}", record.command, format_duration(record.elapsed))}),
    );
    blocks.push(json!({"type": "context", "elements": context}));
    (format!("{title}: {}", plain_status(record)), Value::Array(blocks))
}

/// The thread reply with the details: on failure the error, help, diagnostics and what runs now;
/// on success the tags, digest and task-definition diff. `None` when there is nothing to add.
pub fn details(record: &RunRecord) -> Option<(String, Value)> {
    let outcome = record.outcome.as_ref()?;
    let mut sections = Vec::new();
    if let Some(error) = &outcome.error {
        let mut text = format!("*Error*\n```{}```", error.message.replace("```", "'''"));
        if let Some(help) = &error.help {
            text.push_str(&format!("\n*Help:* {help}"));
        }
        sections.push(text);
        if let Some(reason) = &record.rollback_reason {
            sections.push(format!("*Rolled back:* {reason}"));
        }
        if let Some(checks) = checks_section(record) {
            sections.push(checks);
        }
        if !record.diagnostics.is_empty() {
            sections.push(format!(
                "*Diagnostics*\n{}",
                record.diagnostics.iter().map(|d| format!("• {d}")).collect::<Vec<_>>().join("\n")
            ));
        }
        if let Some(now) = &outcome.running_now {
            sections.push(format!("*Running now:* {now}"));
        }
    } else {
        if !outcome.tags.is_empty() {
            sections.push(format!(
                "*Tags:* {}",
                outcome.tags.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        if let Some(digest) = &outcome.image_digest {
            sections.push(format!("*Digest:* `{digest}`"));
        }
        if let Some(arn) = &outcome.task_definition_arn {
            sections.push(format!("*Task definition:* `{arn}`"));
        }
        if let Some(diff) = &outcome.task_definition_diff {
            sections.push(format!("*Task definition changes*\n```{}```", diff.trim_end().replace("```", "'''")));
        }
        if let Some(checks) = checks_section(record) {
            sections.push(checks);
        }
    }
    if !outcome.services.is_empty() {
        let lines: Vec<String> = outcome.services.iter().map(|s| format!("• {}", s.describe())).collect();
        sections.push(format!("*Services*\n{}", lines.join("\n")));
    }
    if sections.is_empty() {
        return None;
    }
    let fallback = if outcome.error.is_some() { "Why it failed" } else { "Release details" };
    let blocks = sections
        .into_iter()
        .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, SECTION_MAX)}}))
        .collect();
    Some((fallback.to_owned(), Value::Array(blocks)))
}

/// The `verify:` results, one line each.
fn checks_section(record: &RunRecord) -> Option<String> {
    if record.checks.is_empty() {
        return None;
    }
    let lines: Vec<String> = record
        .checks
        .iter()
        .map(|c| format!("{} {}", if c.passed { ":white_check_mark:" } else { ":x:" }, c.line()))
        .collect();
    Some(format!("*Verify (test traffic)*\n{}", lines.join("\n")))
}

fn environment(record: &RunRecord, ctx: &ReleaseContext) -> Option<String> {
    ctx.environment
        .clone()
        .or_else(|| record.outcome.as_ref().and_then(|o| o.environment.clone()))
        .or_else(|| record.released.as_ref().map(|(env, _)| env.clone()))
}

/// The version: from the context, the outcome, or the version stage ("v1.2.0 -> tags ...").
fn version(record: &RunRecord, ctx: &ReleaseContext) -> Option<String> {
    ctx.version.clone().or_else(|| record.outcome.as_ref().and_then(|o| o.version.clone())).or_else(|| {
        let step = record.steps.iter().find(|s| s.stage == Stage::Version && s.state == StepState::Done)?;
        step.detail.split_whitespace().next().map(str::to_owned)
    })
}

fn status_line(record: &RunRecord) -> String {
    let Some(outcome) = &record.outcome else {
        return match record.current() {
            Some(step) => format!(":large_blue_circle: {}", verb(step.stage, record.traffic_percent)),
            None => ":large_blue_circle: Starting".into(),
        };
    };
    match (outcome.status, outcome.rolled_back || record.rollback_reason.is_some()) {
        (_, true) => ":leftwards_arrow_with_hook: Rolled back".into(),
        (Some(Status::Failure), _) => ":x: Failed".into(),
        (Some(Status::Changes), _) => ":memo: Changes planned".into(),
        _ if outcome.command == "release" || outcome.command == "deploy" => ":white_check_mark: Deployed".into(),
        _ => ":white_check_mark: Succeeded".into(),
    }
}

fn plain_status(record: &RunRecord) -> String {
    status_line(record).split_once(' ').map(|(_, s)| s.to_owned()).unwrap_or_default()
}

fn verb(stage: Stage, traffic: Option<f64>) -> String {
    match stage {
        Stage::Version => "Resolving the version".into(),
        Stage::Repository => "Preparing the repository".into(),
        Stage::Build => "Building".into(),
        Stage::Push => "Pushing".into(),
        Stage::Tag => "Tagging".into(),
        Stage::Plan => "Planning".into(),
        Stage::Task => "Running a one-off task".into(),
        Stage::Guard => "Checking the guard alarms".into(),
        Stage::Register => "Registering the task definition".into(),
        Stage::Deploy => "Deploying".into(),
        Stage::Traffic => match traffic {
            Some(p) => format!("Shifting traffic ({p:.0}%)"),
            None => "Shifting traffic".into(),
        },
        Stage::Bake => "Baking".into(),
        Stage::Verify => "Verifying on test traffic".into(),
        Stage::Rollback => "Rolling back".into(),
        Stage::Schedule => "Scheduling jobs".into(),
    }
}

/// The line under the fields: the running stage, or how the run ended.
fn now_line(record: &RunRecord) -> Option<String> {
    if let Some(outcome) = &record.outcome {
        if let Some(error) = &outcome.error {
            let first = error.message.lines().next().unwrap_or_default();
            return Some(match &record.rollback_reason {
                Some(reason) => format!("*Rolled back:* {reason} — details in the thread"),
                None => format!("*{first}* — details in the thread"),
            });
        }
        return outcome.task_definition_arn.as_ref().map(|arn| format!("Running `{arn}`"));
    }
    let step = record.current()?;
    let mut line = format!("*{}* {}", step.stage.name(), step.detail);
    if let Some(progress) = &record.last_progress {
        line.push_str(&format!("\n_{progress}_"));
    }
    Some(line)
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

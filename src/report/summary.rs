//! Markdown for GitHub: the job summary ($GITHUB_STEP_SUMMARY) and the PR check-run summary.
//! Pure functions of the run record, so they are snapshot-tested.

use std::fmt::Write as _;

use super::record::{RunRecord, StepState, format_duration};
use super::{ErrorReport, Outcome, Status};

/// GitHub rejects check-run summaries over 65535 characters; we stay under it in bytes.
pub const CHECK_SUMMARY_LIMIT: usize = 65_535;

/// The job summary: what was released where, the task-definition diff, the timeline, and on
/// failure the error, its help, the diagnostics and what runs now.
pub fn job_summary(record: &RunRecord) -> String {
    let outcome = record.outcome.clone().unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(md, "## {}\n", headline(record, &outcome));

    let rows = released_rows(&outcome);
    if !rows.is_empty() {
        md.push_str("| | |\n| --- | --- |\n");
        for (k, v) in rows {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        md.push('\n');
    }
    if !outcome.services.is_empty() {
        md.push_str("| Service | Result |\n| --- | --- |\n");
        for line in &outcome.services {
            let _ = writeln!(md, "| `{}` | {} |", line.name, escape_cell(&line.describe()));
        }
        md.push('\n');
    }
    if let Some(diff) = &outcome.task_definition_diff {
        diff_block(&mut md, "Task definition changes", diff);
    }
    if !record.checks.is_empty() {
        md.push_str("### Verify (test traffic)\n\n| Check | Result | Requests | Failed | p50 | max | Detail |\n");
        md.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
        for c in &record.checks {
            let ms = |v: Option<u64>| v.map(|v| format!("{v}ms")).unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                escape_cell(&c.name),
                if c.passed { "✅ passed" } else { "❌ failed" },
                c.requests,
                c.failures,
                ms(c.latency_p50_ms),
                ms(c.latency_max_ms),
                escape_cell(&c.detail)
            );
        }
        md.push('\n');
    }
    if let Some(reason) = &record.rollback_reason {
        let _ = writeln!(md, "**Rolled back:** {}\n", escape_inline(reason));
    }
    if let Some(error) = &outcome.error {
        error_section(&mut md, error, &record.diagnostics, outcome.running_now.as_deref());
    } else if !record.diagnostics.is_empty() {
        diagnostics(&mut md, &record.diagnostics);
    }

    for extra in &record.extra_markdown {
        md.push_str(extra.trim_end());
        md.push_str("\n\n");
    }
    if !record.steps.is_empty() {
        md.push_str("### Timeline\n\n| Stage | Result | Duration | Detail |\n| --- | --- | --- | --- |\n");
        for step in &record.steps {
            let result = match step.state {
                StepState::Done => "✅ done",
                StepState::Failed => "❌ failed",
                StepState::Running => "⏳ running",
            };
            let duration = step.duration.map(format_duration).unwrap_or_default();
            let _ = writeln!(md, "| {} | {result} | {duration} | {} |", step.stage.name(), escape_cell(&step.detail));
        }
        let _ = writeln!(md, "\nTotal: {}", format_duration(record.elapsed));
    }
    md
}

/// The check-run summary for `pipeline check`: the plan as the caller describes it (one line per
/// item), the task-definition diff, and the error when the config does not load.
pub fn check_summary(plan: &[String], outcome: &Outcome) -> String {
    let mut md = String::new();
    match (&outcome.error, &outcome.version) {
        (Some(_), _) => md.push_str("## ❌ pipeline plan failed\n\n"),
        (None, Some(v)) => {
            let _ = writeln!(md, "## Plan for `{v}`\n");
        }
        (None, None) => md.push_str("## Plan\n\n"),
    }
    if let Some(env) = &outcome.environment {
        let _ = writeln!(md, "Environment: `{env}`\n");
    }
    if !plan.is_empty() {
        for line in plan {
            let _ = writeln!(md, "- {}", escape_inline(line));
        }
        md.push('\n');
    }
    if !outcome.tags.is_empty() {
        let _ = writeln!(md, "Tags: {}\n", code_list(&outcome.tags));
    }
    match (&outcome.task_definition_diff, outcome.status) {
        (Some(diff), _) => diff_block(&mut md, "Task definition changes", diff),
        (None, Some(Status::Success)) => md.push_str("No change to the task definition.\n\n"),
        _ => {}
    }
    if let Some(error) = &outcome.error {
        error_section(&mut md, error, &[], None);
    }
    truncate(md, CHECK_SUMMARY_LIMIT)
}

fn headline(record: &RunRecord, outcome: &Outcome) -> String {
    let what = match (&outcome.version, &outcome.environment) {
        (Some(v), Some(e)) => format!("`{v}` to `{e}`"),
        (Some(v), None) => format!("`{v}`"),
        (None, Some(e)) => format!("`{e}`"),
        (None, None) => String::new(),
    };
    let command = if record.command.is_empty() { &outcome.command } else { &record.command };
    let verb = match (outcome.status, outcome.rolled_back) {
        _ if !record.finished() => "⏳ running",
        (_, true) => "↩️ rolled back",
        (Some(Status::Failure), _) => "❌ failed",
        (Some(Status::Changes), _) => "📝 changes planned",
        _ => "✅ succeeded",
    };
    format!("pipeline {command} {what} {verb}").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn released_rows(o: &Outcome) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    let mut push = |k, v: &Option<String>| {
        if let Some(v) = v {
            rows.push((k, format!("`{}`", v.replace('`', "'"))));
        }
    };
    push("Environment", &o.environment);
    push("Version", &o.version);
    push("Image", &o.image_uri);
    push("Digest", &o.image_digest);
    push("Image action", &o.image_action.map(|a| a.name().to_owned()));
    push("Task definition", &o.task_definition_arn);
    push("Deployment", &o.deployment_id);
    if !o.tags.is_empty() {
        rows.push(("Tags", code_list(&o.tags)));
    }
    if !o.tags_added.is_empty() {
        rows.push(("Tags added", code_list(&o.tags_added)));
    }
    rows
}

fn error_section(md: &mut String, error: &ErrorReport, diags: &[String], running_now: Option<&str>) {
    md.push_str("### Error\n\n");
    if let Some((file, line, col)) = &error.location {
        let _ = writeln!(md, "`{file}:{line}:{col}`\n");
    }
    let _ = writeln!(md, "```text\n{}\n```\n", error.message.replace("```", "'''"));
    if let Some(code) = &error.code {
        let _ = writeln!(md, "Code: `{code}`\n");
    }
    if let Some(help) = &error.help {
        let _ = writeln!(md, "> **Help:** {}\n", escape_inline(help));
    }
    diagnostics(md, diags);
    if let Some(now) = running_now {
        let _ = writeln!(md, "**Running now:** {}\n", escape_inline(now));
    }
}

fn diagnostics(md: &mut String, diags: &[String]) {
    if diags.is_empty() {
        return;
    }
    md.push_str("#### Diagnostics\n\n");
    for d in diags {
        let _ = writeln!(md, "- {}", escape_inline(d));
    }
    md.push('\n');
}

fn diff_block(md: &mut String, title: &str, diff: &str) {
    let _ = writeln!(
        md,
        "<details open><summary>{title}</summary>\n\n```diff\n{}\n```\n\n</details>\n",
        diff.trim_end().replace("```", "'''")
    );
}

fn code_list(items: &[String]) -> String {
    items.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
}

/// Keeps one line of text from breaking the Markdown around it.
fn escape_inline(s: &str) -> String {
    s.replace('\n', " ").replace('<', "&lt;")
}

fn escape_cell(s: &str) -> String {
    escape_inline(s).replace('|', "\\|")
}

/// Cuts at a char boundary under `limit` bytes, saying that it did.
pub fn truncate(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    const NOTE: &str = "\n\n… (truncated: see the job summary for the full plan)\n";
    let mut cut = limit - NOTE.len();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(NOTE);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_a_char_boundary() {
        let text = "é".repeat(40_000);
        let cut = truncate(text, CHECK_SUMMARY_LIMIT);
        assert!(cut.len() <= CHECK_SUMMARY_LIMIT);
        assert!(cut.ends_with("full plan)\n"));
    }
}

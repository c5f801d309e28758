//! The GitHub Actions runtime sink: workflow commands (masks, groups, error annotations) on
//! stderr, step outputs appended to $GITHUB_OUTPUT and the job summary to $GITHUB_STEP_SUMMARY.
//!
//! Commands go to stderr rather than stdout: the runner reads commands from both streams, and
//! stdout stays one clean JSON document under `--output json`.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use super::{Console, Event, Outcome, Redactor, RunRecord, Sink, summary};
use crate::ci::ActionsFiles;

pub struct GithubActionsSink {
    env: ActionsFiles,
    console: Console,
    redactor: Redactor,
    record: RunRecord,
    start: Instant,
    group_open: bool,
    warned: bool,
}

impl GithubActionsSink {
    /// Prints `::add-mask::` for every known secret at once, before anything else can print it.
    pub fn new(env: ActionsFiles, known_secrets: &[String], console: Console) -> Self {
        let mut sink = Self {
            env,
            console,
            redactor: Redactor::default(),
            record: RunRecord::default(),
            start: Instant::now(),
            group_open: false,
            warned: false,
        };
        for secret in known_secrets {
            sink.mask(secret);
        }
        sink
    }

    fn command(&self, line: &str) {
        self.console.line(&self.redactor.redact(line));
    }

    fn end_group(&mut self) {
        if std::mem::take(&mut self.group_open) {
            self.command("::endgroup::");
        }
    }

    fn finish(&mut self, outcome: &Outcome) {
        self.end_group();
        if let Some(error) = &outcome.error {
            let mut props = Vec::new();
            if let Some((file, line, col)) = &error.location {
                props.push(format!("file={}", escape_property(file)));
                props.push(format!("line={line}"));
                props.push(format!("col={col}"));
            }
            let title = error.code.as_deref().unwrap_or("pipeline");
            props.push(format!("title={}", escape_property(title)));
            let mut message = error.message.clone();
            if let Some(help) = &error.help {
                message.push_str("\n\n");
                message.push_str(help);
            }
            self.command(&format!("::error {}::{}", props.join(","), escape_data(&message)));
        }
        if let Some(path) = self.env.output_path.clone() {
            let text = self.redactor.redact(&outputs(outcome));
            self.append(&path, &text, "GITHUB_OUTPUT");
        }
        if let Some(path) = self.env.summary_path.clone() {
            let text = self.redactor.redact(&summary::job_summary(&self.record));
            self.append(&path, &text, "GITHUB_STEP_SUMMARY");
        }
    }

    fn append(&mut self, path: &PathBuf, text: &str, what: &str) {
        let result = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = result
            && !std::mem::replace(&mut self.warned, true)
        {
            self.console.line(&format!("warning: github actions: cannot append to ${what}: {e}"));
        }
    }
}

impl Sink for GithubActionsSink {
    fn emit(&mut self, event: &Event) {
        self.record.apply(event, self.start.elapsed());
        match event {
            Event::StageStarted { stage, .. } => {
                // Groups cannot nest: a stage starting closes the previous one.
                self.end_group();
                self.command(&format!("::group::{}", stage.name()));
                self.group_open = true;
            }
            Event::StageFinished { .. } | Event::Failed { .. } => self.end_group(),
            Event::Warning { message } => {
                self.command(&format!("::warning::{}", escape_data(message)));
            }
            Event::RunFinished { outcome } => self.finish(outcome),
            _ => {}
        }
    }

    fn mask(&mut self, secret: &str) {
        if self.redactor.add(secret) {
            // Printed raw: this is the one line where the value belongs.
            self.console.line(&format!("::add-mask::{}", escape_data(secret.trim())));
        }
    }

    fn goes_first(&self) -> bool {
        true
    }
}

/// The step outputs, each in the heredoc form with its own random delimiter (multiline-safe).
pub fn outputs(o: &Outcome) -> String {
    let status = o.status.map(|s| s.name()).unwrap_or("failure");
    let values = [
        ("version", o.version.clone().unwrap_or_default()),
        ("tags", o.tags.join(",")),
        ("image-uri", o.image_uri.clone().unwrap_or_default()),
        ("image-digest", o.image_digest.clone().unwrap_or_default()),
        ("task-definition-arn", o.task_definition_arn.clone().unwrap_or_default()),
        ("deployment-id", o.deployment_id.clone().unwrap_or_default()),
        ("status", status.to_owned()),
        ("rolled-back", o.rolled_back.to_string()),
    ];
    let mut text = String::new();
    for (name, value) in values {
        let mut delimiter = format!("ghadelimiter_{}", random_uuid());
        while value.contains(&delimiter) {
            delimiter = format!("ghadelimiter_{}", random_uuid());
        }
        let _ = write!(text, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    text
}

/// A v4-shaped UUID from the std hasher's per-process random keys: unpredictable enough for a
/// delimiter, without a dependency.
fn random_uuid() -> String {
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(Instant::now().elapsed().as_nanos());
        h.finish()
    };
    let (a, b) = (word(), word());
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Workflow command message data: `%`, CR and LF are escaped (actions/toolkit `command.ts`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Workflow command property values: data escaping plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ErrorReport, Stage, Status};

    #[test]
    fn escapes_like_the_toolkit() {
        assert_eq!(escape_data("50%\r\nx: y, z"), "50%25%0D%0Ax: y, z");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn outputs_use_fresh_random_delimiters() {
        let o = Outcome {
            version: Some("1.2.0".into()),
            tags: vec!["v1.2.0".into(), "sha-0123456789ab".into()],
            status: Some(Status::Success),
            task_definition_arn: Some("line1\nline2".into()),
            ..Outcome::default()
        };
        let text = outputs(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("version<<ghadelimiter_"));
        let delim = lines[0].split("<<").nth(1).unwrap();
        assert_eq!(delim.len(), "ghadelimiter_".len() + 36);
        assert_eq!(lines[1], "1.2.0");
        assert_eq!(lines[2], delim);
        assert!(text.contains("\nv1.2.0,sha-0123456789ab\n"));
        assert!(text.contains("\nline1\nline2\n"));
        assert!(text.contains("rolled-back<<"));
        assert!(text.contains("\nfalse\n"));
        let delims: std::collections::HashSet<_> = text.lines().filter(|l| l.contains("<<")).collect();
        assert_eq!(delims.len(), 8);
    }

    #[test]
    fn masks_first_groups_stages_and_annotates_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let env = ActionsFiles {
            output_path: Some(dir.path().join("out")),
            summary_path: Some(dir.path().join("summary.md")),
        };
        let (console, captured) = Console::capture();
        let mut sink = GithubActionsSink::new(env, &["ghs_canarytoken".into()], console);
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Build, detail: "ghs_canarytoken".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Push, detail: "p".into() });
        sink.emit(&Event::StageFinished { stage: Stage::Push, detail: "sha256:ab".into() });
        sink.emit(&Event::Summary { markdown: "## Plan for `v1.2.0`\n\n- build".into() });
        let outcome = Outcome {
            command: "release".into(),
            status: Some(Status::Failure),
            error: Some(ErrorReport {
                message: "unknown field `tagz`, expected one of: tags\nsee docs".into(),
                code: Some("pipeline::config::unknown_field".into()),
                help: Some("did you mean `tags`?".into()),
                exit_code: 3,
                location: Some((".pipeline.yml".into(), 4, 3)),
            }),
            ..Outcome::default()
        };
        sink.emit(&Event::RunFinished { outcome });
        assert_eq!(
            captured.text(),
            "::add-mask::ghs_canarytoken\n::group::build\n::endgroup::\n::group::push\n::endgroup::\n\
             ::error file=.pipeline.yml,line=4,col=3,title=pipeline%3A%3Aconfig%3A%3Aunknown_field::\
             unknown field `tagz`, expected one of: tags%0Asee docs%0A%0Adid you mean `tags`?\n"
        );
        let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert!(out.contains("\nfailure\n"));
        let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert!(summary.contains("`.pipeline.yml:4:3`"));
        assert!(summary.contains("## Plan for `v1.2.0`\n\n- build\n\n### Timeline"), "{summary}");
    }
}

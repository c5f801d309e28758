//! Snapshots of what the sinks generate (job summary, check-run summary, Slack card and thread
//! reply) for a success, a rollback and a config error. The runs are replayed on a fixed clock,
//! so durations are stable; the Slack footer is redacted all the same.

use std::time::Duration;

use serde_json::json;

use super::record::RunRecord;
use super::{ErrorReport, Event, Outcome, ReleaseContext, Stage, Status, check_summary, job_summary, slack_blocks};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const TD_NEW: &str = "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:42";
const DIFF: &str = "--- web:41\n+++ web:42\n   \"image\": \n-    \"111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:0000\"\n+    \"111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:1111\"\n";

pub(super) fn context() -> ReleaseContext {
    ReleaseContext {
        service: Some("web".into()),
        environment: Some("production".into()),
        version: None,
        commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
        repository_url: Some("https://github.com/acme/web".into()),
        actor: Some("octocat".into()),
        run_url: Some("https://github.com/acme/web/actions/runs/42".into()),
    }
}

fn released_outcome() -> Outcome {
    Outcome {
        command: "release".into(),
        status: Some(Status::Success),
        environment: Some("production".into()),
        version: Some("v1.4.0".into()),
        tags: vec!["v1.4.0".into(), "sha-0123456789ab".into()],
        image_uri: Some(format!("111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@{DIGEST}")),
        image_digest: Some(DIGEST.into()),
        image_action: Some(super::ImageOutcome::Built),
        tags_added: vec!["v1.4.0".into(), "sha-0123456789ab".into()],
        task_definition_arn: Some(TD_NEW.into()),
        task_definition_diff: Some(DIFF.into()),
        deployment_id: Some("d-ABCDEF123".into()),
        ..Outcome::default()
    }
}

/// The deploy half of a release, up to `traffic_until` percent.
fn deploy_events(traffic_until: u32) -> Vec<(u64, Event)> {
    let mut events = vec![
        (0, Event::RunStarted { command: "release".into() }),
        (200, Event::StageFinished { stage: Stage::Version, detail: "v1.4.0 -> tags v1.4.0, sha-0123456789ab".into() }),
        (300, Event::StageStarted { stage: Stage::Build, detail: "building web:v1.4.0".into() }),
        (41_300, Event::StageFinished { stage: Stage::Build, detail: "sha256:5a5a".into() }),
        (41_400, Event::StageStarted { stage: Stage::Push, detail: "pushing web:v1.4.0".into() }),
        (49_400, Event::StageFinished { stage: Stage::Push, detail: DIGEST.into() }),
        (49_500, Event::StageStarted { stage: Stage::Register, detail: "web".into() }),
        (49_600, Event::StageFinished { stage: Stage::Register, detail: TD_NEW.into() }),
        (49_700, Event::StageStarted { stage: Stage::Deploy, detail: "CodeDeploy blue/green".into() }),
        (50_000, Event::StageFinished { stage: Stage::Deploy, detail: "deployment d-ABCDEF123 created".into() }),
        (50_100, Event::StageStarted { stage: Stage::Traffic, detail: "ECSCanary10Percent5Minutes".into() }),
    ];
    for (i, p) in [10, 40, 100].into_iter().filter(|p| *p <= traffic_until).enumerate() {
        events.push((60_000 + i as u64 * 60_000, Event::Traffic { percent: f64::from(p) }));
    }
    events
}

fn success() -> RunRecord {
    let mut events = deploy_events(100);
    events.extend([
        (200_000, Event::StageFinished { stage: Stage::Traffic, detail: "100% on web:42".into() }),
        (200_100, Event::StageStarted { stage: Stage::Bake, detail: "watching web-5xx for 300s".into() }),
        (500_100, Event::StageFinished { stage: Stage::Bake, detail: "no alarm fired".into() }),
        (500_200, Event::Released { environment: "production".into(), task_definition_arn: TD_NEW.into() }),
        (500_300, Event::RunFinished { outcome: released_outcome() }),
    ]);
    replay(events)
}

fn rollback() -> RunRecord {
    let mut events = deploy_events(40);
    let outcome = Outcome {
        status: Some(Status::Failure),
        rolled_back: true,
        running_now: Some("web:41 (v1.3.0), the last verified release".into()),
        error: Some(ErrorReport {
            message: "deployment d-ABCDEF123 failed: the alarm web-5xx fired at 40% traffic; rolled back".into(),
            code: Some("pipeline::deploy::rolled_back".into()),
            help: Some("look at the new release's logs; nothing serves the new version now".into()),
            exit_code: 4,
            location: None,
        }),
        ..released_outcome()
    };
    events.extend([
        (
            130_000,
            Event::Failed {
                stage: Stage::Traffic,
                diagnostics: vec![
                    "alarm web-5xx: Threshold Crossed: 2 datapoints [7.0, 9.0] were greater than the threshold (5.0)"
                        .into(),
                    "task 3f2a stopped: Essential container in task exited (exit code 1)".into(),
                ],
            },
        ),
        (130_100, Event::StageStarted { stage: Stage::Rollback, detail: "stopping d-ABCDEF123 with rollback".into() }),
        (131_000, Event::RolledBack { reason: "the 5xx alarm web-5xx fired at 40% traffic".into() }),
        (150_000, Event::StageFinished { stage: Stage::Rollback, detail: "the service runs web:41 again".into() }),
        (150_100, Event::RunFinished { outcome }),
    ]);
    replay(events)
}

fn config_error() -> RunRecord {
    let outcome = Outcome {
        command: "release".into(),
        status: Some(Status::Failure),
        error: Some(ErrorReport {
            message: "unknown field `stratgy` in `environments.production`".into(),
            code: Some("pipeline::config::unknown_field".into()),
            help: Some("did you mean `strategy`?".into()),
            exit_code: 3,
            location: Some((".pipeline.yml".into(), 12, 5)),
        }),
        ..Outcome::default()
    };
    replay(vec![(0, Event::RunStarted { command: "release".into() }), (40, Event::RunFinished { outcome })])
}

fn replay(events: Vec<(u64, Event)>) -> RunRecord {
    let mut record = RunRecord::default();
    for (ms, event) in events {
        record.apply(&event, Duration::from_millis(ms));
    }
    record
}

fn plan_lines() -> Vec<String> {
    vec![
        "version v1.4.0 (feat: since v1.3.0)".into(),
        "image: build and push web:v1.4.0 (sha-0123456789ab not in ECR)".into(),
        "task definition: new revision of web (1 change)".into(),
        "strategy: CodeDeploy blue/green, ECSCanary10Percent5Minutes".into(),
        "guard: web-5xx (5 errors in 60s, 2 periods), bake 5m".into(),
    ]
}

fn slack(record: &RunRecord) -> serde_json::Value {
    let (text, blocks) = slack_blocks::card(record, &context());
    let thread = slack_blocks::details(record).map(|(text, blocks)| json!({"text": text, "blocks": blocks}));
    json!({"card": {"text": text, "blocks": blocks}, "thread": thread})
}

macro_rules! slack_snapshot {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, { ".card.blocks[].elements[].text" => "[footer: run link, duration]" })
    };
}

#[test]
fn success_snapshots() {
    let record = success();
    insta::assert_snapshot!("job_summary_success", job_summary(&record));
    insta::assert_snapshot!("check_summary_success", check_summary(&plan_lines(), record.outcome.as_ref().unwrap()));
    slack_snapshot!("slack_success", slack(&record));
}

#[test]
fn rollback_snapshots() {
    let record = rollback();
    insta::assert_snapshot!("job_summary_rollback", job_summary(&record));
    insta::assert_snapshot!("check_summary_rollback", check_summary(&plan_lines(), record.outcome.as_ref().unwrap()));
    slack_snapshot!("slack_rollback", slack(&record));
}

#[test]
fn config_error_snapshots() {
    let record = config_error();
    insta::assert_snapshot!("job_summary_config_error", job_summary(&record));
    insta::assert_snapshot!("check_summary_config_error", check_summary(&[], record.outcome.as_ref().unwrap()));
    slack_snapshot!("slack_config_error", slack(&record));
}

#[test]
fn the_running_card_shows_the_stage_and_traffic() {
    let mut events = deploy_events(40);
    events.push((
        125_000,
        Event::Progress { stage: Stage::Traffic, message: "40% of traffic on the new revision".into() },
    ));
    let record = replay(events);
    let (text, blocks) = slack_blocks::card(&record, &context());
    assert_eq!(text, "web v1.4.0 → production: Shifting traffic (40%)");
    assert_eq!(blocks[2]["text"]["text"], "*traffic* ECSCanary10Percent5Minutes\n_40% of traffic on the new revision_");
}

//! A whole synthetic run through every sink with canary secret values that leak into events on
//! purpose: none may appear in the captured stderr, the Actions commands (except `::add-mask::`),
//! the outputs file, the job summary, or any request wiremock received (except the
//! Authorization header and the webhook URL itself, where they belong).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const GITHUB_TOKEN: &str = "ghs_CANARYgithubToken0001";
const SLACK_TOKEN: &str = "xoxb-CANARY-slack-token-0002";
const WEBHOOK_SECRET: &str = "CANARYwebhookSecret0003";
const REGISTRY_PASSWORD: &str = "CANARY-registry-password-0004";

/// Records the events the reporter hands to sinks, as the JSON document would see them.
struct Probe(Arc<Mutex<Vec<String>>>);

impl Sink for Probe {
    fn emit(&mut self, event: &Event) {
        let text = match event {
            Event::RunFinished { outcome } => serde_json::to_string(outcome).unwrap(),
            other => format!("{other:?}"),
        };
        self.0.lock().unwrap().push(text);
    }
}

async fn mock_everything(server: &MockServer) {
    let ok = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body);
    let slack_ok = json!({"ok": true, "channel": "C0123ID", "ts": "1700000000.000100"});
    Mock::given(method("POST"))
        .and(path("/slack/chat.postMessage"))
        .respond_with(ok(slack_ok.clone()))
        .mount(server)
        .await;
    Mock::given(method("POST")).and(path("/slack/chat.update")).respond_with(ok(slack_ok)).mount(server).await;
    Mock::given(method("POST"))
        .and(path(format!("/services/T000/B000/{WEBHOOK_SECRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/web/deployments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 9})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/acme/web/deployments/\d+/statuses$"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/deployments"))
        .respond_with(ok(json!([{"id": 9}, {"id": 8}])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/deployments/8/statuses"))
        .respond_with(ok(json!([{"state": "success"}])))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/web/check-runs"))
        // GitHub's shape: octocrab reads the check run typed.
        .respond_with(ResponseTemplate::new(201).set_body_json(super::github::test_support::check_run(1, None)))
        .mount(server)
        .await;
}

fn assert_clean(what: &str, text: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(!text.contains(canary), "{what} leaks {canary}:\n{text}");
    }
}

#[tokio::test]
async fn canary_secrets_stay_where_they_belong() {
    let server = MockServer::start().await;
    mock_everything(&server).await;
    let webhook_url = format!("{}/services/T000/B000/{WEBHOOK_SECRET}", server.uri());
    let all = [GITHUB_TOKEN, SLACK_TOKEN, WEBHOOK_SECRET, REGISTRY_PASSWORD];

    let dir = tempfile::tempdir().unwrap();
    let env = crate::ci::ActionsFiles {
        output_path: Some(dir.path().join("output")),
        summary_path: Some(dir.path().join("summary.md")),
    };
    let (stderr, stderr_text) = Console::capture();
    let (commands, commands_text) = Console::capture();
    let probed = Arc::new(Mutex::new(Vec::new()));
    let known = [GITHUB_TOKEN.to_owned(), SLACK_TOKEN.to_owned(), webhook_url.clone()];
    let mut reporter = Reporter::new(vec![
        Box::new(TerminalSink::with_console(true, false, false, stderr.clone())),
        Box::new(GithubActionsSink::new(env, &known, commands)),
        Box::new(Probe(probed.clone())),
    ]);
    // As lib.rs wires it: the known secrets masked on the reporter too (the Actions sink prints
    // each `::add-mask::` once), then the start, then secrets learned later.
    for secret in &known {
        reporter.mask(secret);
    }
    reporter.emit(Event::RunStarted { command: "release".into() });
    reporter.mask(REGISTRY_PASSWORD);

    // Notification sinks join once the config is loaded, as in a real run.
    let notify = NotifySettings {
        slack: Some(SlackSettings {
            channel: Some("C0123".into()),
            token: Some(SLACK_TOKEN.into()),
            api_url: format!("{}/slack", server.uri()),
            min_update_interval: Duration::from_millis(50),
            ..SlackSettings::default()
        }),
        github: Some(GithubSettings {
            deployments: true,
            token: Some(GITHUB_TOKEN.into()),
            api_url: server.uri(),
            repository: "acme/web".into(),
            environment: Some("production".into()),
            commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
            ..GithubSettings::default()
        }),
    };
    let context = super::snapshot_tests::context();
    let sinks = sinks_for_release_to(&notify, &context, stderr.clone());
    assert_eq!(sinks.len(), 2);
    for sink in sinks {
        reporter.add_sink(sink);
    }
    let webhook = SlackSettings { webhook: Some(webhook_url.clone().into()), ..SlackSettings::default() };
    reporter.add_sink(Box::new(SlackSink::new(webhook, context, stderr.clone()).unwrap()));

    // Leaks, on purpose, in every kind of event.
    reporter.started(Stage::Build, format!("building with token {GITHUB_TOKEN}"));
    reporter.progress(Stage::Build, format!("docker login -u AWS -p {REGISTRY_PASSWORD} registry"));
    reporter.finished(Stage::Build, "sha256:aa");
    reporter.started(Stage::Deploy, "deploying");
    tokio::time::sleep(Duration::from_millis(120)).await; // let a Slack update go out
    reporter
        .emit(Event::Failed { stage: Stage::Deploy, diagnostics: vec![format!("env SLACK_BOT_TOKEN={SLACK_TOKEN}")] });
    reporter.emit(Event::RolledBack { reason: format!("hook {webhook_url} said no") });
    let outcome = Outcome {
        command: "release".into(),
        status: Some(Status::Failure),
        version: Some("v1.4.0".into()),
        rolled_back: true,
        task_definition_diff: Some(format!("+ \"DB_PASSWORD\": \"{REGISTRY_PASSWORD}\"")),
        error: Some(ErrorReport {
            message: format!("deployment failed; webhook {webhook_url}"),
            help: Some(format!("token {GITHUB_TOKEN} / {SLACK_TOKEN}")),
            exit_code: 4,
            ..ErrorReport::default()
        }),
        ..Outcome::default()
    };
    reporter.emit(Event::RunFinished { outcome });
    reporter.close().await.unwrap();

    // The PR check, posted directly, with a leaky plan.
    let mut api = GithubApi::from_settings(notify.github.as_ref().unwrap()).unwrap();
    api.mask(REGISTRY_PASSWORD);
    api.post_check(&format!("plan {REGISTRY_PASSWORD} {GITHUB_TOKEN}"), CheckConclusion::Success, &[]).await.unwrap();

    assert_clean("stderr", &stderr_text.text(), &all);
    let commands = commands_text.text();
    let (masks, rest): (Vec<&str>, Vec<&str>) = commands.lines().partition(|l| l.starts_with("::add-mask::"));
    assert_eq!(masks.len(), 4, "{commands}");
    assert!(commands.starts_with("::add-mask::"));
    assert_clean("workflow commands", &rest.join("\n"), &all);
    assert!(rest.iter().any(|l| l.starts_with("::error ")));
    for file in ["output", "summary.md"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert_clean(file, &text, &all);
    }
    assert!(std::fs::read_to_string(dir.path().join("summary.md")).unwrap().contains("***"));
    assert_clean("reporter events", &probed.lock().unwrap().join("\n"), &all);

    let requests = server.received_requests().await.unwrap();
    let kinds = |prefix: &str| requests.iter().filter(|r| r.url.path().starts_with(prefix)).count();
    assert!(kinds("/slack/") >= 3, "post, update(s), thread reply");
    assert_eq!(kinds("/services/"), 2);
    assert_eq!(kinds("/repos/"), 4, "deployment, in_progress, failure, check run");
    for r in &requests {
        let body = String::from_utf8_lossy(&r.body);
        assert_clean(&format!("body of {}", r.url.path()), &body, &all);
        let url = r.url.as_str();
        // The webhook URL is the secret's home; nothing else may be in any URL.
        let allowed_in_url: &[&str] = if r.url.path().starts_with("/services/") { &[WEBHOOK_SECRET] } else { &[] };
        let others: Vec<&str> = all.iter().copied().filter(|c| !allowed_in_url.contains(c)).collect();
        assert_clean(&format!("url {url}"), url, &others);
        for (name, value) in r.headers.iter() {
            if name.as_str() != "authorization" {
                assert_clean(&format!("header {name}"), value.to_str().unwrap_or_default(), &all);
            }
        }
        let auth = r.headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
        let expected = match r.url.path() {
            p if p.starts_with("/slack/") => Some(format!("Bearer {SLACK_TOKEN}")),
            p if p.starts_with("/repos/") => Some(format!("Bearer {GITHUB_TOKEN}")),
            _ => None,
        };
        assert_eq!(auth, expected, "{}", r.url.path());
    }
}

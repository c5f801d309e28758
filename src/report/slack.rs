//! The Slack sink. With a bot token: one message per release (chat.postMessage at the start,
//! chat.update at each phase, at most one update per interval and always the final state), the
//! details as a thread reply. With only an incoming webhook: a start and an end message. Every
//! call is retried on 429, 5xx and network errors, within bounds (`http.rs`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::http::Http;
use super::worker::{Events, SharedRedactor, Worker};
use super::{Console, Event, ReleaseContext, ReportError, RunRecord, Sink, SlackSettings, slack_blocks};

pub struct SlackSink {
    worker: Worker,
}

impl std::fmt::Debug for SlackSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackSink { .. }")
    }
}

impl SlackSink {
    /// Fails (and the caller warns) when neither a token with a channel nor a webhook is set.
    pub fn new(settings: SlackSettings, context: ReleaseContext, console: Console) -> Result<Self, String> {
        let mode = match (&settings.token, &settings.channel, &settings.webhook) {
            (Some(token), Some(channel), _) => Mode::Api { token: token.clone(), channel: channel.clone() },
            (Some(_), None, None) => return Err("a bot token needs `channel` (the channel ID)".into()),
            (_, _, Some(webhook)) => Mode::Webhook(webhook.clone()),
            (None, _, None) => return Err("neither a bot token nor a webhook URL is set".into()),
        };
        // The sink's own secrets are masked from the start, whatever the caller remembers to mask.
        let own: Vec<String> = match &mode {
            Mode::Api { token, .. } => vec![token.expose_secret().to_owned()],
            Mode::Webhook(url) => {
                let url = url.expose_secret();
                let path = url.split_once("//").and_then(|(_, rest)| rest.split_once('/')).map(|(_, p)| p.to_owned());
                std::iter::once(url.to_owned()).chain(path).collect()
            }
        };
        let client = Client { http: Http::new(), api_url: settings.api_url.trim_end_matches('/').to_owned(), mode };
        let interval = settings.min_update_interval;
        let worker = Worker::spawn("slack", settings.required, console, move |events, redactor| {
            run(events, redactor, client, context, interval)
        });
        for secret in own {
            worker.mask(&secret);
        }
        Ok(Self { worker })
    }
}

impl Sink for SlackSink {
    fn emit(&mut self, event: &Event) {
        self.worker.send(event);
    }

    fn mask(&mut self, secret: &str) {
        self.worker.mask(secret);
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), ReportError>> {
        self.worker.close()
    }
}

enum Mode {
    Api { token: SecretString, channel: String },
    Webhook(SecretString),
}

struct Client {
    http: Http,
    api_url: String,
    mode: Mode,
}

/// Where the card lives once posted: the channel ID Slack returned (chat.update needs the ID,
/// not a name) and the message timestamp.
struct Posted {
    channel: String,
    ts: String,
}

async fn run(
    mut events: Events,
    redactor: SharedRedactor,
    client: Client,
    context: ReleaseContext,
    interval: Duration,
) -> Result<(), String> {
    let start = std::time::Instant::now();
    let mut record = RunRecord::default();
    let mut posted: Option<Posted> = None;
    let mut last_write = Instant::now();
    let mut dirty = false;
    loop {
        // While a change waits, wake up when the next update is allowed; events already queued
        // are taken first (biased), so a burst becomes one update with the latest state.
        let next = if dirty && posted.is_some() {
            tokio::select! {
                biased;
                event = events.recv() => event,
                _ = tokio::time::sleep_until(last_write + interval) => {
                    update(&client, &redactor, posted.as_ref(), &record, &context).await?;
                    last_write = Instant::now();
                    dirty = false;
                    continue;
                }
            }
        } else {
            events.recv().await
        };
        let Some(event) = next else { break };
        record.apply(&event, start.elapsed());
        match event {
            Event::RunStarted { .. } => {
                posted = client.start(&redactor, &record, &context).await?;
                last_write = Instant::now();
            }
            Event::RunFinished { .. } => {
                tokio::time::sleep_until(last_write + interval).await;
                client.finish(&redactor, posted.as_ref(), &record, &context).await?;
                last_write = Instant::now();
                dirty = false;
            }
            _ => dirty = true,
        }
    }
    // The run ended without RunFinished (a crash path): still show the last state.
    if dirty && posted.is_some() {
        tokio::time::sleep_until(last_write + interval).await;
        update(&client, &redactor, posted.as_ref(), &record, &context).await?;
    }
    Ok(())
}

async fn update(
    client: &Client,
    redactor: &SharedRedactor,
    posted: Option<&Posted>,
    record: &RunRecord,
    context: &ReleaseContext,
) -> Result<(), String> {
    let Some(posted) = posted else { return Ok(()) };
    let (text, blocks) = slack_blocks::card(record, context);
    let body = json!({"channel": posted.channel, "ts": posted.ts, "text": text, "blocks": blocks});
    client.api(redactor, "chat.update", body).await.map(drop)
}

impl Client {
    /// The first message; `Some` with the card's place in API mode.
    async fn start(
        &self,
        redactor: &SharedRedactor,
        record: &RunRecord,
        ctx: &ReleaseContext,
    ) -> Result<Option<Posted>, String> {
        let (text, blocks) = slack_blocks::card(record, ctx);
        match &self.mode {
            Mode::Api { channel, .. } => {
                let body = json!({"channel": channel, "text": text, "blocks": blocks, "unfurl_links": false});
                let reply = self.api(redactor, "chat.postMessage", body).await?;
                let field = |name: &str| reply.get(name).and_then(Value::as_str).map(str::to_owned);
                match (field("channel"), field("ts")) {
                    (Some(channel), Some(ts)) => Ok(Some(Posted { channel, ts })),
                    _ => Err("chat.postMessage answered without channel and ts".into()),
                }
            }
            Mode::Webhook(_) => self.webhook(redactor, json!({"text": text, "blocks": blocks})).await.map(|()| None),
        }
    }

    /// The final state, then the details as a thread reply (API) or in the end message (webhook).
    async fn finish(
        &self,
        redactor: &SharedRedactor,
        posted: Option<&Posted>,
        record: &RunRecord,
        ctx: &ReleaseContext,
    ) -> Result<(), String> {
        let (text, blocks) = slack_blocks::card(record, ctx);
        let details = slack_blocks::details(record);
        match &self.mode {
            Mode::Api { .. } => {
                update(self, redactor, posted, record, ctx).await?;
                if let (Some(posted), Some((text, blocks))) = (posted, details) {
                    let body =
                        json!({"channel": posted.channel, "thread_ts": posted.ts, "text": text, "blocks": blocks});
                    self.api(redactor, "chat.postMessage", body).await?;
                }
                Ok(())
            }
            Mode::Webhook(_) => {
                let mut all = blocks.as_array().cloned().unwrap_or_default();
                if let Some((_, extra)) = details {
                    all.extend(extra.as_array().cloned().unwrap_or_default());
                }
                self.webhook(redactor, json!({"text": text, "blocks": all})).await
            }
        }
    }

    /// A Web API call. Slack answers HTTP 200 with `{"ok": false, "error": "<name>"}` on errors.
    async fn api(&self, redactor: &SharedRedactor, method: &str, mut body: Value) -> Result<Value, String> {
        let Mode::Api { token, .. } = &self.mode else { return Err(format!("{method} needs a bot token")) };
        redact(redactor, &mut body);
        let url = format!("{}/{method}", self.api_url);
        let reply = self
            .http
            .send(|c| c.post(&url).bearer_auth(token.expose_secret()).json(&body))
            .await
            .map_err(|e| format!("{method} failed: {e}"))?;
        let json = reply.json();
        if json.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(json);
        }
        let error = json
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {}", reply.status));
        Err(format!("{method} failed: {error}"))
    }

    /// Incoming webhooks answer `ok`, or a plain-text error name with a 4xx/5xx status.
    async fn webhook(&self, redactor: &SharedRedactor, mut body: Value) -> Result<(), String> {
        let Mode::Webhook(url) = &self.mode else { return Ok(()) };
        redact(redactor, &mut body);
        let reply = self
            .http
            .send(|c| c.post(url.expose_secret()).json(&body))
            .await
            .map_err(|e| format!("webhook failed: {e}"))?;
        if reply.is_success() {
            return Ok(());
        }
        let name: String = reply.body.trim().chars().take(100).collect();
        let name = redactor.lock().map(|r| r.redact(&name)).unwrap_or_default();
        Err(format!("webhook failed: HTTP {} {name}", reply.status))
    }
}

fn redact(redactor: &SharedRedactor, body: &mut Value) {
    if let Ok(r) = redactor.lock() {
        r.redact_json(body);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;
    use crate::report::{Captured, ErrorReport, Outcome, Stage, Status};

    const TOKEN: &str = "xoxb-test-token-1234";

    fn api_settings(server: &MockServer, interval_ms: u64) -> SlackSettings {
        SlackSettings {
            channel: Some("#deploys".into()),
            token: Some(TOKEN.into()),
            api_url: server.uri(),
            min_update_interval: Duration::from_millis(interval_ms),
            ..SlackSettings::default()
        }
    }

    fn context() -> ReleaseContext {
        ReleaseContext {
            service: Some("web".into()),
            environment: Some("production".into()),
            version: Some("v1.4.0".into()),
            commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
            repository_url: Some("https://github.com/acme/web".into()),
            actor: Some("octocat".into()),
            run_url: Some("https://github.com/acme/web/actions/runs/42".into()),
        }
    }

    fn sink(settings: SlackSettings) -> (SlackSink, Captured) {
        let (console, captured) = Console::capture();
        (SlackSink::new(settings, context(), console).unwrap(), captured)
    }

    async fn ok_api(server: &MockServer) {
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": true, "channel": "C0123ID", "ts": "1700000000.000100"})),
            )
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat.update"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": true, "channel": "C0123ID", "ts": "1700000000.000100"})),
            )
            .mount(server)
            .await;
    }

    fn body(r: &Request) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    /// Every Web API call carries the bearer token and a JSON body.
    fn assert_api_headers(requests: &[Request]) {
        for r in requests {
            assert_eq!(r.method.as_str(), "POST");
            assert_eq!(r.headers.get("authorization").unwrap(), &format!("Bearer {TOKEN}"));
            assert!(r.headers.get("content-type").unwrap().to_str().unwrap().starts_with("application/json"));
            assert!(r.headers.get("user-agent").unwrap().to_str().unwrap().starts_with("pipeline/"));
        }
    }

    fn failed(message: &str) -> Outcome {
        Outcome {
            command: "release".into(),
            status: Some(Status::Failure),
            rolled_back: true,
            running_now: Some("web:41 (v1.3.0)".into()),
            error: Some(ErrorReport { message: message.into(), exit_code: 4, ..ErrorReport::default() }),
            ..Outcome::default()
        }
    }

    #[tokio::test]
    async fn bursts_become_one_update_with_the_final_state_and_details_go_to_the_thread() {
        let server = MockServer::start().await;
        ok_api(&server).await;
        let (mut sink, captured) = sink(api_settings(&server, 1000));
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Build, detail: "building".into() });
        sink.emit(&Event::StageFinished { stage: Stage::Build, detail: "sha256:aa".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Deploy, detail: "deploying web:42".into() });
        sink.emit(&Event::Traffic { percent: 40.0 });
        sink.emit(&Event::Failed { stage: Stage::Deploy, diagnostics: vec!["alarm web-5xx fired".into()] });
        sink.emit(&Event::RolledBack { reason: "the 5xx alarm fired at 40% traffic".into() });
        sink.emit(&Event::RunFinished { outcome: failed("deployment failed: the 5xx alarm fired") });
        sink.close().await.unwrap();

        let requests = server.received_requests().await.unwrap();
        assert_api_headers(&requests);
        let paths: Vec<&str> = requests.iter().map(|r| r.url.path()).collect();
        assert_eq!(paths, ["/chat.postMessage", "/chat.update", "/chat.postMessage"]);

        let start = body(&requests[0]);
        assert_eq!(start["channel"], "#deploys");
        assert!(start.get("thread_ts").is_none());
        assert_eq!(start["blocks"][0]["type"], "header");
        assert_eq!(start["blocks"][0]["text"]["text"], "web v1.4.0 → production");
        assert_eq!(start["blocks"][1]["fields"][3]["text"], "*Status*\n:large_blue_circle: Starting");

        // The update goes to the channel ID Slack returned, with the latest state only.
        let update = body(&requests[1]);
        assert_eq!(update["channel"], "C0123ID");
        assert_eq!(update["ts"], "1700000000.000100");
        assert_eq!(update["blocks"][1]["fields"][3]["text"], "*Status*\n:leftwards_arrow_with_hook: Rolled back");
        assert_eq!(update["text"], "web v1.4.0 → production: Rolled back");

        let reply = body(&requests[2]);
        assert_eq!(reply["channel"], "C0123ID");
        assert_eq!(reply["thread_ts"], "1700000000.000100");
        let reply_text = reply["blocks"].to_string();
        assert!(reply_text.contains("the 5xx alarm fired"), "{reply_text}");
        assert!(reply_text.contains("alarm web-5xx fired"));
        assert!(reply_text.contains("web:41 (v1.3.0)"));
        assert_eq!(captured.text(), "");
    }

    #[tokio::test]
    async fn slow_phases_each_get_an_update_at_least_the_interval_apart() {
        let server = MockServer::start().await;
        ok_api(&server).await;
        let (mut sink, _) = sink(api_settings(&server, 200));
        let started = std::time::Instant::now();
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Build, detail: "building".into() });
        tokio::time::sleep(Duration::from_millis(500)).await;
        sink.emit(&Event::StageStarted { stage: Stage::Deploy, detail: "deploying".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Traffic, detail: "shifting".into() });
        sink.emit(&Event::Traffic { percent: 10.0 });
        sink.emit(&Event::RunFinished {
            outcome: Outcome { command: "release".into(), status: Some(Status::Success), ..Outcome::default() },
        });
        sink.close().await.unwrap();
        let requests = server.received_requests().await.unwrap();
        let paths: Vec<&str> = requests.iter().map(|r| r.url.path()).collect();
        // No details to tell on this success: no thread reply.
        assert_eq!(paths, ["/chat.postMessage", "/chat.update", "/chat.update"]);
        assert_eq!(body(&requests[1])["blocks"][1]["fields"][3]["text"], "*Status*\n:large_blue_circle: Building");
        assert_eq!(body(&requests[2])["blocks"][1]["fields"][3]["text"], "*Status*\n:white_check_mark: Deployed");
        // Never two writes within the interval: post, update at >= 200 ms, final at >= 400 ms.
        assert!(started.elapsed() >= Duration::from_millis(400));
    }

    #[tokio::test]
    async fn rate_limited_calls_wait_for_retry_after_then_retry() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        ok_api(&server).await;
        let (mut sink, captured) = sink(api_settings(&server, 10));
        let started = std::time::Instant::now();
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.close().await.unwrap();
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(body(&requests[0]), body(&requests[1]));
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(captured.text(), "");
    }

    #[tokio::test]
    async fn server_errors_are_retried_with_backoff() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        ok_api(&server).await;
        let (mut sink, captured) = sink(api_settings(&server, 10));
        let started = std::time::Instant::now();
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.close().await.unwrap();
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 3);
        assert_eq!(body(&requests[0]), body(&requests[2]));
        // 200 ms then 400 ms of backoff, at least.
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert_eq!(captured.text(), "");
    }

    #[tokio::test]
    async fn a_webhook_that_cannot_be_reached_is_retried_and_its_url_stays_secret() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/services/T000/B000/hooksecret", closed.local_addr().unwrap());
        drop(closed);
        let settings = SlackSettings { webhook: Some(url.into()), ..SlackSettings::default() };
        let (mut sink, captured) = sink(settings);
        let started = std::time::Instant::now();
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.close().await.unwrap();
        // Four attempts: three backoffs of at least 200, 400 and 800 ms.
        assert!(started.elapsed() >= Duration::from_millis(1400));
        let text = captured.text();
        assert!(text.starts_with("warning: slack: webhook failed: "), "{text}");
        assert!(!text.contains("hooksecret") && !text.contains("/services/"), "{text}");
    }

    #[tokio::test]
    async fn ok_false_is_reported_by_name_once_and_reporting_stops() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chat.update"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "cant_update_message"})),
            )
            .with_priority(1)
            .mount(&server)
            .await;
        ok_api(&server).await;
        let (mut sink, captured) = sink(api_settings(&server, 10));
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Build, detail: "building".into() });
        tokio::time::sleep(Duration::from_millis(100)).await;
        sink.emit(&Event::StageStarted { stage: Stage::Push, detail: "pushing".into() });
        sink.emit(&Event::RunFinished { outcome: failed("boom") });
        assert!(sink.close().await.is_ok());
        assert_eq!(
            captured.text(),
            "warning: slack: chat.update failed: cant_update_message — the release goes on without it\n"
        );
        let paths: Vec<String> =
            server.received_requests().await.unwrap().iter().map(|r| r.url.path().to_owned()).collect();
        assert_eq!(paths, ["/chat.postMessage", "/chat.update"]);
    }

    #[tokio::test]
    async fn a_required_slack_fails_the_close_instead_of_warning() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "invalid_auth"})))
            .mount(&server)
            .await;
        let (mut sink, captured) = sink(SlackSettings { required: true, ..api_settings(&server, 10) });
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::RunFinished { outcome: failed("boom") });
        let err = sink.close().await.unwrap_err();
        assert_eq!(err.to_string(), "slack: chat.postMessage failed: invalid_auth");
        assert_eq!(captured.text(), "");
    }

    #[tokio::test]
    async fn webhook_sends_a_start_and_an_end_message() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/services/T000/B000/hooksecret"))
            .and(header("content-type", "application/json"))
            .and(body_partial_json(json!({"blocks": [{"type": "header"}]})))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(2)
            .mount(&server)
            .await;
        let settings = SlackSettings {
            webhook: Some(format!("{}/services/T000/B000/hooksecret", server.uri()).into()),
            min_update_interval: Duration::from_millis(10),
            ..SlackSettings::default()
        };
        let (mut sink, captured) = sink(settings);
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::StageStarted { stage: Stage::Deploy, detail: "deploying".into() });
        let outcome = Outcome {
            command: "release".into(),
            status: Some(Status::Success),
            tags: vec!["v1.4.0".into()],
            ..Outcome::default()
        };
        sink.emit(&Event::RunFinished { outcome });
        sink.close().await.unwrap();
        let requests = server.received_requests().await.unwrap();
        assert!(requests.iter().all(|r| r.headers.get("authorization").is_none()));
        assert_eq!(body(&requests[0])["text"], "web v1.4.0 → production: Starting");
        let end = body(&requests[1]);
        assert_eq!(end["text"], "web v1.4.0 → production: Deployed");
        assert!(end["blocks"].to_string().contains("*Tags:* `v1.4.0`"));
        assert_eq!(captured.text(), "");
    }

    #[tokio::test]
    async fn webhook_errors_are_plain_text_names_and_the_url_stays_secret() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
            .mount(&server)
            .await;
        let url = format!("{}/services/T000/B000/hooksecret", server.uri());
        let settings = SlackSettings { webhook: Some(url.clone().into()), ..SlackSettings::default() };
        assert!(!format!("{settings:?}").contains("hooksecret"));
        let (mut sink, captured) = sink(settings);
        assert!(!format!("{sink:?}").contains("hooksecret"));
        sink.emit(&Event::RunStarted { command: "release".into() });
        sink.emit(&Event::RunFinished { outcome: failed("boom") });
        sink.close().await.unwrap();
        assert_eq!(
            captured.text(),
            "warning: slack: webhook failed: HTTP 404 no_service — the release goes on without it\n"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_token_without_channel_or_anything_is_refused() {
        let (console, _) = Console::capture();
        let no_channel = SlackSettings { token: Some(TOKEN.into()), ..SlackSettings::default() };
        assert!(SlackSink::new(no_channel, context(), console.clone()).is_err());
        assert!(SlackSink::new(SlackSettings::default(), context(), console).is_err());
    }
}

//! The reporter: fans events out to sinks, spreads secrets to mask, and waits for async sinks.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Event, Redactor, Stage};

/// How long `close` waits for sinks with requests in flight: a slow Slack must not hold a
/// finished release for minutes.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A destination for events. A sink that fails warns once and carries on: reporting never fails
/// a release, unless the sink was configured `required` (then `close` says so).
pub trait Sink: Send {
    fn emit(&mut self, event: &Event);

    /// A value that must never appear in what this sink renders or sends.
    fn mask(&mut self, _secret: &str) {}

    /// Finishes in-flight work. Only a required sink returns an error.
    fn close(&mut self) -> BoxFuture<'_, Result<(), ReportError>> {
        Box::pin(async { Ok(()) })
    }

    /// Sinks that write workflow commands go first, so `::group::` precedes the stage's lines.
    fn goes_first(&self) -> bool {
        false
    }
}

/// A required sink could not report.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum ReportError {
    #[error("{sink}: {reason}")]
    #[diagnostic(
        code(pipeline::report::required),
        help("this notification is configured `required: true`; fix it, or set `required: false` to only warn")
    )]
    Required { sink: &'static str, reason: String },

    /// A direct call (e.g. posting the PR check) failed.
    #[error("{sink}: {reason}")]
    #[diagnostic(code(pipeline::report::api))]
    Api { sink: &'static str, reason: String },
}

/// Fans every event out to every sink, in order.
#[derive(Default)]
pub struct Reporter {
    sinks: Vec<Box<dyn Sink>>,
    /// Replayed to sinks added after the start, so every sink sees start and end.
    started: Option<Event>,
    secrets: Vec<String>,
    /// Events are redacted here once, so sinks that keep no state (the JSON document) are safe too.
    redactor: Redactor,
    /// The `verify:` results so far, for the outcome.
    checks: Vec<super::CheckReport>,
}

impl Reporter {
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        let mut reporter = Self::default();
        for sink in sinks {
            reporter.add_sink(sink);
        }
        reporter
    }

    /// Adds a sink mid-run (e.g. Slack, once the config is loaded): it learns the secrets masked
    /// so far and sees the `RunStarted` event.
    pub fn add_sink(&mut self, mut sink: Box<dyn Sink>) {
        for secret in &self.secrets {
            sink.mask(secret);
        }
        if let Some(started) = &self.started {
            sink.emit(started);
        }
        if sink.goes_first() {
            let at = self.sinks.iter().take_while(|s| s.goes_first()).count();
            self.sinks.insert(at, sink);
        } else {
            self.sinks.push(sink);
        }
    }

    /// Tells every sink, present and future, that `secret` must not be shown.
    pub fn mask(&mut self, secret: &str) {
        if secret.trim().len() < 4 || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.to_owned());
        self.redactor.add(secret);
        for sink in &mut self.sinks {
            sink.mask(secret);
        }
    }

    pub fn emit(&mut self, event: Event) {
        let mut event = self.redactor.redact_event(&event);
        // The outcome carries the checks' results: the commands that build it need not collect them.
        match &mut event {
            Event::Check { report } => self.checks.push(report.clone()),
            Event::RunFinished { outcome } if outcome.verify.is_empty() => outcome.verify = self.checks.clone(),
            _ => {}
        }
        if matches!(event, Event::RunStarted { .. }) {
            self.started = Some(event.clone());
        }
        for sink in &mut self.sinks {
            sink.emit(&event);
        }
    }

    pub fn started(&mut self, stage: Stage, detail: impl Into<String>) {
        self.emit(Event::StageStarted { stage, detail: detail.into() });
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.emit(Event::Warning { message: message.into() });
    }

    pub fn progress(&mut self, stage: Stage, message: impl Into<String>) {
        self.emit(Event::Progress { stage, message: message.into() });
    }

    pub fn finished(&mut self, stage: Stage, detail: impl Into<String>) {
        self.emit(Event::StageFinished { stage, detail: detail.into() });
    }

    /// Waits (at most 10 s in all) for every sink to finish its requests. Call after
    /// `RunFinished`. Returns the first error of a required sink.
    pub async fn close(&mut self) -> Result<(), ReportError> {
        self.close_within(CLOSE_TIMEOUT).await
    }

    pub async fn close_within(&mut self, limit: Duration) -> Result<(), ReportError> {
        let closing = futures_util::future::join_all(self.sinks.iter_mut().map(|s| s.close()));
        match tokio::time::timeout(limit, closing).await {
            Ok(results) => results.into_iter().find(Result::is_err).unwrap_or(Ok(())),
            // Each async sink bounds itself too; this is the backstop.
            Err(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    struct Probe(Seen, bool);

    impl Sink for Probe {
        fn emit(&mut self, event: &Event) {
            let name = match event {
                Event::RunStarted { .. } => "start".to_owned(),
                Event::StageStarted { stage, .. } => format!("stage:{}", stage.name()),
                other => format!("{other:?}").split_whitespace().next().unwrap_or_default().to_owned(),
            };
            self.0.0.lock().unwrap().push(format!("{}{name}", if self.1 { "first:" } else { "" }));
        }
        fn mask(&mut self, secret: &str) {
            self.0.0.lock().unwrap().push(format!("mask:{secret}"));
        }
        fn goes_first(&self) -> bool {
            self.1
        }
    }

    #[tokio::test]
    async fn late_sinks_get_masks_and_the_start_and_ordering_holds() {
        let seen = Seen::default();
        let mut reporter = Reporter::new(vec![Box::new(Probe(seen.clone(), false))]);
        reporter.mask("hunter22");
        reporter.emit(Event::RunStarted { command: "release".into() });
        reporter.add_sink(Box::new(Probe(seen.clone(), true)));
        reporter.started(Stage::Build, "b");
        assert!(reporter.close().await.is_ok());
        let seen = seen.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            ["mask:hunter22", "start", "mask:hunter22", "first:start", "first:stage:build", "stage:build"]
        );
    }
}

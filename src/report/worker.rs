//! Async sinks (GitHub API, Slack) run as a task fed by a channel: `emit` stays synchronous and
//! never waits on the network; `close` waits for the task, bounded.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Console, Event, Redactor, ReportError};

/// Slightly under the reporter's 10 s, so a slow sink is reported by name.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(9_500);

pub type Events = mpsc::UnboundedReceiver<Event>;
pub type SharedRedactor = Arc<Mutex<Redactor>>;

pub struct Worker {
    name: &'static str,
    required: bool,
    console: Console,
    redactor: SharedRedactor,
    tx: Option<mpsc::UnboundedSender<Event>>,
    task: Option<JoinHandle<Result<(), String>>>,
}

impl Worker {
    /// Starts `run` on the current tokio runtime. It gets the events and returns the first failure;
    /// a failing non-required sink warns once on `console` and stops.
    pub fn spawn<F, Fut>(name: &'static str, required: bool, console: Console, run: F) -> Self
    where
        F: FnOnce(Events, SharedRedactor) -> Fut,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let redactor = SharedRedactor::default();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut worker = Self { name, required, console, redactor: redactor.clone(), tx: None, task: None };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let fut = run(rx, redactor.clone());
                let (console, name) = (worker.console.clone(), name);
                worker.task = Some(handle.spawn(async move {
                    let result = fut.await;
                    if let Err(reason) = &result
                        && !required
                    {
                        let reason = redactor.lock().map(|r| r.redact(reason)).unwrap_or_default();
                        console.line(&format!("warning: {name}: {reason} — the release goes on without it"));
                    }
                    result
                }));
                worker.tx = Some(tx);
            }
            Err(_) => worker.console.line(&format!("warning: {name}: no async runtime; not reporting there")),
        }
        worker
    }

    pub fn send(&self, event: &Event) {
        if let Some(tx) = &self.tx {
            // A closed channel means the task already failed and warned.
            let _ = tx.send(event.clone());
        }
    }

    pub fn mask(&self, secret: &str) {
        if let Ok(mut r) = self.redactor.lock() {
            r.add(secret);
        }
    }

    pub fn close(&mut self) -> BoxFuture<'_, Result<(), ReportError>> {
        self.tx = None; // ends the task's event stream
        Box::pin(async move {
            let Some(task) = self.task.take() else { return Ok(()) };
            let reason = match tokio::time::timeout(CLOSE_TIMEOUT, task).await {
                Ok(Ok(Ok(()))) => return Ok(()),
                // Already warned by the task when not required.
                Ok(Ok(Err(reason))) if self.required => reason,
                Ok(Ok(Err(_))) => return Ok(()),
                Ok(Err(join)) => format!("reporting task failed: {join}"),
                Err(_) => format!("did not finish within {} s", CLOSE_TIMEOUT.as_secs()),
            };
            let reason = self.redactor.lock().map(|r| r.redact(&reason)).unwrap_or_default();
            if self.required {
                Err(ReportError::Required { sink: self.name, reason })
            } else {
                self.console.line(&format!("warning: {}: {reason} — the release goes on without it", self.name));
                Ok(())
            }
        })
    }
}

//! Cancellation: SIGINT/SIGTERM (a cancelled workflow sends SIGINT, then SIGTERM) become a flag the
//! wait loops select on, so a deployment is never left running without a decision.

use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct Cancel {
    rx: watch::Receiver<bool>,
}

impl Cancel {
    /// Listens for SIGINT and SIGTERM from now on: the handlers are installed before this returns,
    /// so from here a signal is never the default "terminate at once".
    pub fn on_signals() -> Self {
        let (tx, rx) = watch::channel(false);
        let signals = Signals::install();
        tokio::spawn(async move {
            signals.wait().await;
            let _ = tx.send(true);
        });
        Self { rx }
    }

    /// At a step boundary: after a cancel nothing new starts. `done` says what the run did and undid.
    pub fn stop_here(&self, done: impl FnOnce() -> String) -> Result<(), crate::Error> {
        if self.is_cancelled() { Err(crate::Error::Cancelled { what: done() }) } else { Ok(()) }
    }

    /// A token that never fires (tests, and commands that change nothing).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Self { rx }
    }

    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when cancellation is requested.
    pub async fn cancelled(&mut self) {
        while !*self.rx.borrow() {
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(unix)]
struct Signals(Option<[tokio::signal::unix::Signal; 3]>);

#[cfg(unix)]
impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        // SIGHUP too: runners have been seen sending it when a job is cancelled (actions/runner#1309).
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup())) {
            (Ok(term), Ok(int), Ok(hup)) => Self(Some([term, int, hup])),
            _ => Self(None),
        }
    }

    async fn wait(self) {
        let Some([mut term, mut int, mut hup]) = self.0 else { return std::future::pending().await };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Self {
        Self
    }

    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

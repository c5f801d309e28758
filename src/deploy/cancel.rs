//! Cancellation: SIGINT/SIGTERM (a cancelled workflow sends SIGINT, then SIGTERM) become a flag the
//! wait loops select on, so a deployment is never left running without a decision. A stage of several
//! services gives each of them a token of its own ([`Stage::token`]) that also fires when another
//! service of the stage fails, so a failed release stops moving traffic at once.

use std::sync::Arc;

use tokio::sync::watch;

use super::watcher::Interrupt;

#[derive(Debug, Clone)]
pub struct Cancel {
    rx: watch::Receiver<bool>,
    /// Set for a service of a stage: how its stage learns of a failure and tells the others.
    stage: Option<Sibling>,
}

/// A service's share of its stage's token.
#[derive(Debug, Clone)]
struct Sibling {
    /// This service's name under `services:`.
    name: String,
    /// The first service of the stage that failed, once one has.
    failed: Arc<watch::Sender<Option<String>>>,
    rx: watch::Receiver<Option<String>>,
}

/// The services of one stage, deploying at once: the first of them to fail stops the others.
pub struct Stage {
    run: watch::Receiver<bool>,
    failed: Arc<watch::Sender<Option<String>>>,
}

impl Stage {
    /// The token of service `name`: it fires on the run's cancel, or when another service of the stage fails.
    pub fn token(&self, name: &str) -> Cancel {
        let sibling = Sibling { name: name.to_owned(), failed: self.failed.clone(), rx: self.failed.subscribe() };
        Cancel { rx: self.run.clone(), stage: Some(sibling) }
    }
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
        Self { rx, stage: None }
    }

    /// A token that never fires (tests, and commands that change nothing).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Self { rx, stage: None }
    }

    /// A stage of services deploying at once, under this run's cancel.
    pub fn stage(&self) -> Stage {
        Stage { run: self.rx.clone(), failed: Arc::new(watch::channel(None).0) }
    }

    /// At a step boundary: after a cancel (or a sibling's failure) nothing new starts. `done` says what the run did
    /// and undid.
    pub fn stop_here(&self, done: impl FnOnce() -> String) -> Result<(), crate::Error> {
        match self.why() {
            None => Ok(()),
            Some(Interrupt::SiblingFailed { service }) => {
                Err(crate::Error::Stopped { failed: service, now_running: None })
            }
            Some(_) => Err(crate::Error::Cancelled { what: done() }),
        }
    }

    /// Why this token fired, if it has: the run's cancel first (it keeps its meaning when both happened), then the
    /// failure of another service of the stage.
    pub fn why(&self) -> Option<Interrupt> {
        if *self.rx.borrow() {
            return Some(Interrupt::Cancelled);
        }
        let sibling = self.stage.as_ref()?;
        let first = sibling.rx.borrow().clone()?;
        (first != sibling.name).then_some(Interrupt::SiblingFailed { service: first })
    }

    /// This service failed: the others of its stage stop now (no-op outside a stage, or when one failed first).
    pub fn failed(&self) {
        let Some(sibling) = &self.stage else { return };
        sibling.failed.send_if_modified(|first| {
            let unset = first.is_none();
            if unset {
                *first = Some(sibling.name.clone());
            }
            unset
        });
    }

    /// Resolves when the token fires ([`Cancel::why`] says why).
    pub async fn cancelled(&mut self) {
        let run = wait_for(&mut self.rx, |c| *c);
        match &mut self.stage {
            None => run.await,
            Some(sibling) => {
                let name = sibling.name.clone();
                let other = wait_for(&mut sibling.rx, move |first| first.as_ref().is_some_and(|f| *f != name));
                tokio::select! {
                    _ = run => {}
                    _ = other => {}
                }
            }
        }
    }
}

/// Resolves when `rx` holds a value `fired` accepts; never when its sender is gone first.
async fn wait_for<T>(rx: &mut watch::Receiver<T>, fired: impl FnMut(&T) -> bool) {
    if rx.wait_for(fired).await.is_err() {
        std::future::pending::<()>().await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_of_a_stage_stops_the_others_not_itself() {
        let stage = Cancel::never().stage();
        let (web, worker, api) = (stage.token("web"), stage.token("worker"), stage.token("api"));
        assert_eq!(worker.why(), None);
        web.failed();
        worker.failed();
        let stopped = Some(Interrupt::SiblingFailed { service: "web".into() });
        assert_eq!(web.why(), None, "its own failure is not a reason to stop it");
        assert_eq!((worker.why(), api.why()), (stopped.clone(), stopped), "the first failure names the cause");
        assert!(
            matches!(api.stop_here(String::new), Err(crate::Error::Stopped { failed, now_running: None }) if failed == "web")
        );
    }

    #[test]
    fn the_runs_cancel_keeps_its_meaning_in_a_stage() {
        let (tx, rx) = watch::channel(false);
        let run = Cancel { rx, stage: None };
        let stage = run.stage();
        let (web, worker) = (stage.token("web"), stage.token("worker"));
        web.failed();
        tx.send(true).unwrap();
        assert_eq!(worker.why(), Some(Interrupt::Cancelled), "a cancelled run is a cancel, whatever else failed");
        assert_eq!(web.why(), Some(Interrupt::Cancelled));
        assert!(matches!(worker.stop_here(|| "x".into()), Err(crate::Error::Cancelled { .. })));
    }

    #[tokio::test]
    async fn a_siblings_failure_wakes_a_waiting_token() {
        let stage = Cancel::never().stage();
        let mut worker = stage.token("worker");
        let web = stage.token("web");
        let waiting = tokio::spawn(async move {
            worker.cancelled().await;
            worker.why()
        });
        web.failed();
        let why = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert_eq!(why, Some(Interrupt::SiblingFailed { service: "web".into() }));
    }
}

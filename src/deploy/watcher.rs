//! What every strategy's wait loop shares: the settings, the poll cadence, and the reasons to stop
//! watching early (an alarm, a cancel, the timeout).

use std::time::Duration;

use tokio::time::Instant;

use super::cancel::Cancel;
use crate::Error;
use crate::guard::state::{fired, states};
use crate::report::{Reporter, Stage};

/// What a cancel or a timeout does to the deployment in flight: the environment's `on-cancel`.
pub use crate::config::OnCancel;

#[derive(Debug, Clone, serde::Serialize)]
pub struct WatchSettings {
    pub poll: Duration,
    pub timeout: Duration,
    /// Keep watching the alarms this long after all traffic is on the new revision.
    pub bake: Duration,
    pub alarms: Vec<String>,
    pub on_cancel: OnCancel,
}

/// Why a wait loop stopped before the deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupt {
    Alarm { name: String, reason: String },
    Cancelled,
    TimedOut,
}

impl Interrupt {
    pub fn describe(&self) -> String {
        match self {
            Interrupt::Alarm { name, reason } => format!("guard alarm `{name}` fired: {reason}"),
            Interrupt::Cancelled => "the run was cancelled".into(),
            Interrupt::TimedOut => "the deployment timed out".into(),
        }
    }
}

/// A rollback caused by a cancel is reported as the cancel it is (exit code "cancelled").
pub fn cancel_wins(interrupt: &Interrupt, result: Result<(), Error>) -> Result<(), Error> {
    match (interrupt, result) {
        (Interrupt::Cancelled, Err(Error::RolledBack { now_running, .. })) => {
            Err(Error::Cancelled { what: format!("rolled back; the service runs {now_running}") })
        }
        (_, other) => other,
    }
}

/// One watcher per deployment: a deadline, the cancel token, the alarms.
pub struct Watcher<'a> {
    pub cw: &'a aws_sdk_cloudwatch::Client,
    pub settings: &'a WatchSettings,
    pub cancel: Cancel,
    pub deadline: Instant,
}

impl<'a> Watcher<'a> {
    pub fn new(cw: &'a aws_sdk_cloudwatch::Client, settings: &'a WatchSettings, cancel: Cancel) -> Self {
        Self { cw, settings, cancel, deadline: Instant::now() + settings.timeout }
    }

    /// Sleeps one poll interval (cut short by a cancel), then checks the alarms, the cancel and the deadline.
    pub async fn tick(&mut self) -> Result<Option<Interrupt>, Error> {
        tokio::select! {
            _ = tokio::time::sleep(self.settings.poll) => {}
            _ = self.cancel.cancelled() => {}
        }
        self.check().await
    }

    /// Checks without sleeping: alarms first, since an alarm is the most urgent reason.
    pub async fn check(&mut self) -> Result<Option<Interrupt>, Error> {
        let current = states(self.cw, &self.settings.alarms).await?;
        if let Some((name, reason)) = fired(&current) {
            return Ok(Some(Interrupt::Alarm { name, reason }));
        }
        if self.cancel.is_cancelled() {
            return Ok(Some(Interrupt::Cancelled));
        }
        if Instant::now() >= self.deadline {
            return Ok(Some(Interrupt::TimedOut));
        }
        Ok(None)
    }

    /// Keeps watching the alarms through the bake window after all traffic is on the new revision;
    /// returns the first interrupt, if any.
    pub async fn bake(&mut self, reporter: &mut Reporter) -> Result<Option<Interrupt>, Error> {
        let bake = self.settings.bake;
        if bake.is_zero() {
            return Ok(None);
        }
        reporter.started(Stage::Bake, format!("watching the alarms for {}s", bake.as_secs()));
        let end = Instant::now() + bake;
        while Instant::now() < end {
            if let Some(interrupt) = self.tick().await? {
                return Ok(Some(interrupt));
            }
        }
        reporter.finished(Stage::Bake, "no alarm fired");
        Ok(None)
    }

    /// Whether an interrupt should roll back (alarms and timeouts always; a cancel per `on-cancel`).
    pub fn rolls_back(&self, interrupt: &Interrupt) -> bool {
        !matches!(interrupt, Interrupt::Cancelled) || self.settings.on_cancel == OnCancel::Rollback
    }
}

//! What every strategy's wait loop shares: the settings, the poll cadence, and the reasons to stop
//! watching early (an alarm, a cancel, another service of the stage failing, the timeout, AWS failing for
//! longer than the transient window).
//! Every read made while a deployment is in flight goes through [`Watcher::read`], so transient
//! faults are retried in one place and a fault that does not end becomes an [`Interrupt`], never an
//! error that abandons the deployment.

use std::future::Future;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::time::Instant;

use super::cancel::Cancel;
use super::transient::Transient;
use crate::Error;
use crate::guard::state::{fired, fired_since, states};
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
    /// How long AWS may keep failing before the tool stops watching (`guard.transient-window`).
    pub transient_window: Duration,
    /// Start the deployment and leave it to AWS's own alarms (`wait: false`).
    pub wait: bool,
}

/// Why a wait loop stopped before the deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupt {
    Alarm {
        name: String,
        reason: String,
    },
    Cancelled,
    TimedOut,
    /// AWS could not be read for the whole transient window (or refused the read outright).
    Unreadable {
        what: String,
    },
    /// A `verify:` check failed on test traffic, before any production traffic moved.
    VerifyFailed {
        reason: String,
    },
    /// Another service of the same `services:` stage failed: the release has failed, this one goes back now.
    SiblingFailed {
        service: String,
    },
}

impl Interrupt {
    pub fn describe(&self) -> String {
        match self {
            Interrupt::Alarm { name, reason } => format!("guard alarm `{name}` fired: {reason}"),
            Interrupt::Cancelled => "the run was cancelled".into(),
            Interrupt::TimedOut => "the deployment timed out".into(),
            Interrupt::Unreadable { what } => format!("the deployment could no longer be watched: {what}"),
            Interrupt::VerifyFailed { reason } => reason.clone(),
            Interrupt::SiblingFailed { service } => format!("another service of this release failed: `{service}`"),
        }
    }

    /// Whether this interrupt rolls the deployment back: alarms, timeouts, failed checks and a sibling's failure
    /// always (the release has failed, whatever `on-cancel` says); a cancel, and AWS failing for longer than the
    /// window, per `on-cancel`.
    pub fn rolls_back(&self, on_cancel: OnCancel) -> bool {
        match self {
            Interrupt::Cancelled | Interrupt::Unreadable { .. } => on_cancel == OnCancel::Rollback,
            Interrupt::Alarm { .. }
            | Interrupt::TimedOut
            | Interrupt::VerifyFailed { .. }
            | Interrupt::SiblingFailed { .. } => true,
        }
    }
}

/// A rollback is reported as what caused it: a cancel's as the cancel it is (exit code "cancelled"), a sibling's
/// failure's as a stop naming that sibling; any other as it ended.
pub fn caused_by(interrupt: &Interrupt, result: Result<(), Error>) -> Result<(), Error> {
    match (interrupt, result) {
        (Interrupt::Cancelled, Err(Error::RolledBack { now_running, .. })) => {
            Err(Error::Cancelled { what: format!("rolled back; the service runs {now_running}") })
        }
        (Interrupt::SiblingFailed { service }, Err(Error::RolledBack { now_running, .. })) => {
            Err(Error::Stopped { failed: service.clone(), now_running: Some(now_running) })
        }
        (_, other) => other,
    }
}

/// One watcher per deployment: a deadline, the cancel token, the alarms, the transient window.
pub struct Watcher<'a> {
    pub cw: &'a aws_sdk_cloudwatch::Client,
    pub settings: &'a WatchSettings,
    pub cancel: Cancel,
    pub deadline: Instant,
    pub transient: Transient,
    /// Alarm transitions from this moment on count (the deployment's start).
    pub since: SystemTime,
    /// The pauses between polls: see [`cadence`].
    pauses: ExponentialBackoff,
    /// When the alarms were last read: they are read once per poll interval, however fast the deployment is polled.
    alarms_read: Option<Instant>,
}

/// The first pause of a wait loop: a rollout the service finishes at once is seen at once.
pub const FIRST_POLL: Duration = Duration::from_millis(100);

/// Pauses between polls of the deployment: [`FIRST_POLL`], then growing by half up to the configured interval
/// and staying there (100, 250, 475, 812 ms after the start at 1s). A fixed interval made every deployment wait
/// at least one whole interval, and doubling saw a 0.4 s rollout 0.3 s late; short rollouts are common (a
/// sandbox, a service of one task). A long one is soon polled at the configured pace: quicker polls all through
/// would multiply the reads of a release of several services against the account's API rate.
pub fn cadence(interval: Duration) -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(FIRST_POLL.min(interval))
        .with_max_delay(interval)
        .with_factor(1.5)
        .without_max_times()
        .build()
}

impl<'a> Watcher<'a> {
    pub fn new(cw: &'a aws_sdk_cloudwatch::Client, settings: &'a WatchSettings, cancel: Cancel) -> Self {
        Self {
            cw,
            settings,
            cancel,
            deadline: Instant::now() + settings.timeout,
            transient: Transient::new(settings.transient_window),
            // A second of slack for clocks: the guard was checked OK just before.
            since: SystemTime::now() - Duration::from_secs(1),
            pauses: cadence(settings.poll),
            alarms_read: None,
        }
    }

    /// Sleeps the next pause of the [`cadence`] (cut short by a cancel), then checks the alarms, the cancel
    /// and the deadline.
    pub async fn tick(&mut self) -> Option<Interrupt> {
        let pause = self.pauses.next().unwrap_or(self.settings.poll);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = self.cancel.cancelled() => {}
        }
        self.check().await
    }

    /// One read of the deployment in flight, retried through transient faults; a cancel cuts the
    /// retries short. When the window runs out the read becomes an interrupt, handled like a cancel.
    pub async fn read<T, F, Fut>(&mut self, call: F) -> Result<T, Interrupt>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let transient = self.transient;
        tokio::select! {
            out = transient.read(call) => out.map_err(|e| self.unreadable(&e)),
            _ = self.cancel.cancelled() => Err(self.cancel.why().unwrap_or(Interrupt::Cancelled)),
        }
    }

    fn unreadable(&self, e: &Error) -> Interrupt {
        Interrupt::Unreadable { what: format!("{e} (retried for {}s)", self.settings.transient_window.as_secs()) }
    }

    /// Checks without sleeping: alarms first (when a poll interval has passed since they were last read), since
    /// an alarm is the most urgent reason; then the cancel (or a sibling's failure) and the deadline.
    pub async fn check(&mut self) -> Option<Interrupt> {
        let due = self.alarms_read.is_none_or(|at| at.elapsed() >= self.settings.poll);
        if due && let Some(interrupt) = self.alarms().await {
            return Some(interrupt);
        }
        if let Some(interrupt) = self.cancel.why() {
            return Some(interrupt);
        }
        if Instant::now() >= self.deadline {
            return Some(Interrupt::TimedOut);
        }
        None
    }

    /// Reads the alarms now. Their state and their history since the deployment started are both read, so an
    /// ALARM shorter than one poll interval still counts.
    pub async fn alarms(&mut self) -> Option<Interrupt> {
        let (cw, settings, since) = (self.cw, self.settings, self.since);
        let names = &settings.alarms;
        if names.is_empty() {
            return None;
        }
        self.alarms_read = Some(Instant::now());
        match self.read(|| states(cw, names)).await {
            Ok(current) => {
                if let Some((name, reason)) = fired(&current) {
                    return Some(Interrupt::Alarm { name, reason });
                }
            }
            Err(interrupt) => return Some(interrupt),
        }
        match self.read(|| fired_since(cw, names, since)).await {
            Ok(Some((name, reason))) => Some(Interrupt::Alarm { name, reason }),
            Ok(None) => None,
            Err(interrupt) => Some(interrupt),
        }
    }

    /// Keeps watching the alarms through the bake window after all traffic is on the new revision;
    /// returns the first interrupt, if any. The alarms are read once more at the end, bake or not, so a
    /// release is never called good on alarms read up to a poll interval before.
    pub async fn bake(&mut self, reporter: &mut Reporter) -> Option<Interrupt> {
        let bake = self.settings.bake;
        if !bake.is_zero() {
            reporter.started(Stage::Bake, format!("watching the alarms for {}s", bake.as_secs()));
            let end = Instant::now() + bake;
            while Instant::now() < end {
                if let Some(interrupt) = self.tick().await {
                    return Some(interrupt);
                }
            }
        }
        if let Some(interrupt) = self.alarms().await {
            return Some(interrupt);
        }
        if !bake.is_zero() {
            reporter.finished(Stage::Bake, "no alarm fired");
        }
        None
    }

    /// Whether an interrupt should roll back ([`Interrupt::rolls_back`], with the environment's `on-cancel`).
    pub fn rolls_back(&self, interrupt: &Interrupt) -> bool {
        interrupt.rolls_back(self.settings.on_cancel)
    }

    /// The deployment goes back: the other services of its stage stop now, not when this rollback ends.
    pub fn rolling_back(&self, reporter: &mut Reporter, detail: String) {
        self.cancel.failed();
        reporter.started(Stage::Rollback, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_start_fast_and_back_off_to_the_configured_interval() {
        let pauses: Vec<u64> = cadence(Duration::from_secs(1)).take(8).map(|d| d.as_millis() as u64).collect();
        assert_eq!(pauses, [100, 150, 225, 337, 506, 759, 1000, 1000]);
    }

    #[test]
    fn a_siblings_failure_rolls_back_whatever_on_cancel_says_and_a_cancel_follows_it() {
        let sibling = Interrupt::SiblingFailed { service: "web".into() };
        assert!(sibling.rolls_back(OnCancel::Leave));
        assert!(sibling.rolls_back(OnCancel::Rollback));
        assert!(!Interrupt::Cancelled.rolls_back(OnCancel::Leave));
        assert!(Interrupt::Cancelled.rolls_back(OnCancel::Rollback));
        assert_eq!(sibling.describe(), "another service of this release failed: `web`");
    }

    #[test]
    fn a_rollback_is_reported_as_what_caused_it() {
        let rolled_back = || Err(Error::RolledBack { reason: "r".into(), now_running: "web:1".into() });
        let stopped = caused_by(&Interrupt::SiblingFailed { service: "worker".into() }, rolled_back());
        assert!(
            matches!(&stopped, Err(Error::Stopped { failed, now_running: Some(r) }) if failed == "worker" && r == "web:1"),
            "{stopped:?}"
        );
        assert!(matches!(caused_by(&Interrupt::Cancelled, rolled_back()), Err(Error::Cancelled { .. })));
        assert!(matches!(caused_by(&Interrupt::TimedOut, rolled_back()), Err(Error::RolledBack { .. })));
        let not_back = || Err(Error::DeployFailed { reason: "r".into(), help: String::new() });
        let sibling = Interrupt::SiblingFailed { service: "worker".into() };
        assert!(matches!(caused_by(&sibling, not_back()), Err(Error::DeployFailed { .. })), "NOT rolled back stays so");
    }

    #[test]
    fn an_interval_shorter_than_the_first_poll_is_kept() {
        let pauses: Vec<Duration> = cadence(Duration::from_millis(20)).take(3).collect();
        assert_eq!(pauses, [Duration::from_millis(20); 3]);
    }
}

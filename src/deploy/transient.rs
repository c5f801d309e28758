//! Transient AWS faults while a deployment is in flight (throttling, 5xx, a dropped connection):
//! the one retry policy every poll and every undo call goes through. The SDK's own retries (a few
//! attempts) stay as they are; on top of them a read is retried with exponential backoff and jitter
//! for a bounded window (`guard.transient-window`), so a bad minute at AWS never abandons a live
//! deployment, and a fault that does not end is still noticed in bounded time.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::Error;

/// The retry window and its backoff.
#[derive(Debug, Clone, Copy)]
pub struct Transient {
    pub window: Duration,
}

/// First and largest pause between two tries (plus jitter).
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const LARGEST_PAUSE: Duration = Duration::from_secs(10);

impl Transient {
    pub fn new(window: Duration) -> Self {
        Self { window }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(FIRST_PAUSE.min(self.window))
            .with_max_delay(LARGEST_PAUSE)
            .without_max_times()
            .with_total_delay(Some(self.window))
    }

    /// A read (or an idempotent undo such as StopDeployment): retried on every transient fault.
    pub async fn read<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        // The window counts the calls too (each may take the SDK's own retries), not only the pauses.
        let end = tokio::time::Instant::now() + self.window;
        let within = move |e: &Error| is_transient(e) && tokio::time::Instant::now() < end;
        call.retry(self.backoff()).sleep(tokio::time::sleep).when(within).notify(note).await
    }

    /// A write that starts something (CreateDeployment, UpdateService, RegisterTaskDefinition): retried
    /// only when AWS refused it unexecuted (throttling), never after a 5xx that may have done it.
    pub async fn write<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let end = tokio::time::Instant::now() + self.window;
        let within = move |e: &Error| is_throttling(e) && tokio::time::Instant::now() < end;
        call.retry(self.backoff()).sleep(tokio::time::sleep).when(within).notify(note).await
    }
}

fn note(e: &Error, pause: Duration) {
    tracing::debug!(error = %e, pause_ms = pause.as_millis() as u64, "transient AWS fault; retrying");
}

/// Throttling: the request was refused before it did anything.
pub fn is_throttling(e: &Error) -> bool {
    matches!(e, Error::Aws { code, .. } if matches!(code.as_str(),
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded"
        | "ThrottledException" | "RequestThrottled" | "SlowDown" | "PriorRequestNotComplete"))
}

/// Throttling, AWS's own 5xx faults, and the network failing: all worth another try.
pub fn is_transient(e: &Error) -> bool {
    is_throttling(e)
        || matches!(e, Error::Aws { code, .. } if matches!(code.as_str(),
            "InternalFailure" | "InternalError" | "InternalServerError" | "InternalServerException"
            | "InternalException" | "ServerException" | "ServiceUnavailable" | "ServiceUnavailableException"
            | "RequestTimeout" | "RequestTimeoutException" | "DispatchFailure" | "Timeout" | "RequestFailed"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn aws(code: &str) -> Error {
        Error::Aws {
            operation: "GetDeployment",
            resource: "d-1".into(),
            code: code.into(),
            message: String::new(),
            help: String::new(),
        }
    }

    #[test]
    fn throttling_and_server_faults_are_transient_but_a_refusal_is_not() {
        assert!(is_transient(&aws("ThrottlingException")) && is_throttling(&aws("Throttling")));
        assert!(is_transient(&aws("InternalFailure")) && !is_throttling(&aws("InternalFailure")));
        assert!(is_transient(&aws("DispatchFailure")));
        assert!(!is_transient(&aws("AccessDeniedException")));
        assert!(!is_transient(&Error::NoRegion));
    }

    #[tokio::test]
    async fn a_burst_that_ends_is_ridden_out_and_one_that_does_not_ends_within_the_window() {
        let policy = Transient::new(Duration::from_secs(4));
        let calls = AtomicU32::new(0);
        let out = policy
            .read(|| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 { Err(aws("ThrottlingException")) } else { Ok(7) }
            })
            .await;
        assert_eq!(out.unwrap(), 7);

        let start = tokio::time::Instant::now();
        let out: Result<(), Error> = policy.read(|| async { Err(aws("InternalFailure")) }).await;
        assert!(out.is_err());
        assert!(start.elapsed() < Duration::from_secs(12), "bounded: {:?}", start.elapsed());

        // A write is not repeated after a 5xx (it may have been done), only after throttling.
        let writes = AtomicU32::new(0);
        let out: Result<(), Error> = policy
            .write(|| async {
                writes.fetch_add(1, Ordering::SeqCst);
                Err(aws("InternalFailure"))
            })
            .await;
        assert!(out.is_err());
        assert_eq!(writes.load(Ordering::SeqCst), 1);
    }
}

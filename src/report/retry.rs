//! When a GitHub or Slack call (and a registry request of an image copy, `image/distribution.rs`) is sent
//! again: on 429, on 5xx, on GitHub's rate-limit 403 and on network errors, after `Retry-After` when the
//! server names a wait and otherwise after an exponential backoff with jitter (backon). Bounded, so
//! reporting ends within the reporter's 10 s close budget.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use http::{HeaderMap, StatusCode};

/// Retries after the first attempt.
const RETRIES: usize = 3;
/// The longest wait we accept from `Retry-After`: a longer one cannot fit the close budget, and
/// retrying sooner than the server asked would only be refused again, so the answer stands.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// The retry state of one request (fresh per request; cloning starts over).
#[derive(Debug, Clone, Default)]
pub struct Retries {
    done: usize,
}

impl Retries {
    /// The wait before sending again after this answer, or `None` when it is final.
    pub fn after_response(&mut self, status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
        let asked = retry_after(headers);
        let transient = status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
            // GitHub's rate limits also answer 403, with one of these headers; a bare 403 is a
            // missing permission and final.
            || (status == StatusCode::FORBIDDEN && (asked.is_some() || rate_limit_exhausted(headers)));
        if !transient {
            return None;
        }
        let backoff = self.next_backoff()?;
        match asked {
            Some(wait) if wait > MAX_WAIT => None,
            Some(wait) => Some(wait),
            None if status == StatusCode::FORBIDDEN => None, // exhausted until a reset we cannot wait for
            None => Some(backoff),
        }
    }

    /// The wait before sending again after a network error (no answer), or `None` when spent.
    pub fn after_error(&mut self) -> Option<Duration> {
        self.next_backoff()
    }

    fn next_backoff(&mut self) -> Option<Duration> {
        let wait = backoff().build().nth(self.done)?;
        self.done += 1;
        Some(wait)
    }
}

/// 200 ms, 400 ms, 800 ms (each with up to as much again of jitter), then give up.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(RETRIES)
        .with_jitter()
}

/// `Retry-After` in seconds (the form GitHub and Slack send).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn rate_limit_exhausted(headers: &HeaderMap) -> bool {
    headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()) == Some("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    #[test]
    fn server_errors_back_off_exponentially_then_give_up() {
        let mut retries = Retries::default();
        let waits: Vec<Duration> =
            std::iter::from_fn(|| retries.after_response(StatusCode::BAD_GATEWAY, &HeaderMap::new())).collect();
        assert_eq!(waits.len(), 3);
        for (wait, base) in waits.iter().zip([200, 400, 800]) {
            let base = Duration::from_millis(base);
            assert!(*wait >= base && *wait <= base * 2, "{wait:?} for a base of {base:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_budget() {
        let mut retries = Retries::default();
        let slow_down = headers(&[("retry-after", "2")]);
        assert_eq!(retries.after_response(StatusCode::TOO_MANY_REQUESTS, &slow_down), Some(Duration::from_secs(2)));
        assert_eq!(retries.after_response(StatusCode::SERVICE_UNAVAILABLE, &slow_down), Some(Duration::from_secs(2)));
        let too_long = headers(&[("retry-after", "60")]);
        assert_eq!(Retries::default().after_response(StatusCode::TOO_MANY_REQUESTS, &too_long), None);
    }

    #[test]
    fn a_bare_403_is_final_and_a_rate_limited_one_waits() {
        assert_eq!(Retries::default().after_response(StatusCode::FORBIDDEN, &HeaderMap::new()), None);
        let secondary = headers(&[("retry-after", "1")]);
        assert_eq!(Retries::default().after_response(StatusCode::FORBIDDEN, &secondary), Some(Duration::from_secs(1)));
        let exhausted = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000000")]);
        assert_eq!(Retries::default().after_response(StatusCode::FORBIDDEN, &exhausted), None);
    }

    #[test]
    fn client_errors_and_successes_are_final() {
        for status in [StatusCode::OK, StatusCode::CREATED, StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY] {
            assert_eq!(Retries::default().after_response(status, &HeaderMap::new()), None, "{status}");
        }
    }

    #[test]
    fn network_errors_are_retried_three_times() {
        let mut retries = Retries::default();
        assert_eq!(std::iter::from_fn(|| retries.after_error()).count(), 3);
        // A clone of a fresh state is a fresh state: tower clones the policy per request.
        assert!(Retries::default().clone().after_error().is_some());
    }
}

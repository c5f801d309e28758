//! The HTTP probe: GET the path on the test listener (or `url:`) a number of times or for a while, each answer
//! judged against the expected status and body; the check passes while the failed share stays within
//! `max-error-rate`. The client honours `HTTP(S)_PROXY`/`NO_PROXY` like curl, so a runner behind a proxy (or the
//! sandbox, which serves the load balancers' names) reaches the listener as it would any other URL.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::HttpCheck;
use crate::report::CheckReport;

/// What one request saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A status, and whether the body matched (always true without `body:`).
    Status { status: u16, body_ok: bool },
    /// No HTTP answer (refused, reset, timed out): the text says which.
    NoAnswer(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub answer: Answer,
    pub latency: Duration,
}

/// The URL a check requests: `url:` (or the test listener's base URL) joined with the path.
pub fn url_of(check: &HttpCheck, test_url: Option<&str>) -> Option<String> {
    let base = check.url.as_deref().or(test_url)?;
    Some(format!("{}{}", base.trim_end_matches('/'), check.path))
}

/// Runs the probe; never fails as a call: a check that cannot even start is a failed check saying why.
pub async fn run(check: &HttpCheck, test_url: Option<&str>) -> CheckReport {
    let Some(url) = url_of(check, test_url) else {
        return CheckReport {
            name: format!("http GET {}", check.path),
            passed: false,
            detail: "no URL to probe: the deployment has no test listener and the check gives no `url:`".into(),
            ..CheckReport::default()
        };
    };
    let name = format!("http GET {url}");
    let client = match reqwest::Client::builder().timeout(check.timeout).build() {
        Ok(c) => c,
        Err(e) => return CheckReport { name, detail: format!("no HTTP client: {e}"), ..CheckReport::default() },
    };
    let mut samples = Vec::new();
    let deadline = check.duration.map(|d| Instant::now() + d);
    // A count-based probe stops as soon as the tolerated failures are exceeded: the verdict cannot change.
    let tolerated = (f64::from(check.requests) * check.max_error_rate).floor() as usize;
    loop {
        let done = match deadline {
            Some(end) => Instant::now() >= end && !samples.is_empty(),
            None => samples.len() >= check.requests as usize,
        };
        let failed = samples.iter().filter(|s| !ok(s, check)).count();
        if done || (deadline.is_none() && failed > tolerated) {
            break;
        }
        if !samples.is_empty() {
            tokio::time::sleep(check.interval).await;
        }
        samples.push(probe(&client, &url, check).await);
    }
    judge(name, check, &samples)
}

async fn probe(client: &reqwest::Client, url: &str, check: &HttpCheck) -> Sample {
    let start = Instant::now();
    let answer = match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body_ok = match &check.body {
                Some(want) => response.text().await.is_ok_and(|text| text.contains(want.as_str())),
                None => true,
            };
            Answer::Status { status, body_ok }
        }
        Err(e) if e.is_timeout() => Answer::NoAnswer(format!("no answer within {}s", check.timeout.as_secs_f64())),
        Err(e) if e.is_connect() => Answer::NoAnswer("connection refused or unreachable".into()),
        Err(e) => Answer::NoAnswer(format!("request failed: {}", without_url(&e))),
    };
    Sample { answer, latency: start.elapsed() }
}

/// reqwest's error text repeats the URL, which the check's name already says.
fn without_url(e: &reqwest::Error) -> String {
    let text = e.to_string();
    match e.url() {
        Some(url) => text.replace(&format!(" ({url})"), "").replace(url.as_str(), "the URL"),
        None => text,
    }
}

fn ok(sample: &Sample, check: &HttpCheck) -> bool {
    matches!(sample.answer, Answer::Status { status, body_ok: true } if status == check.expect)
}

/// The verdict over the samples (pure): failures, the failed share against `max-error-rate`, latency p50 and max,
/// and what the failures were.
pub fn judge(name: String, check: &HttpCheck, samples: &[Sample]) -> CheckReport {
    let requests = samples.len() as u32;
    let failures = samples.iter().filter(|s| !ok(s, check)).count() as u32;
    let rate = if requests == 0 { 1.0 } else { f64::from(failures) / f64::from(requests) };
    let passed = requests > 0 && rate <= check.max_error_rate;
    let mut latencies: Vec<u64> = samples.iter().map(|s| s.latency.as_millis() as u64).collect();
    latencies.sort_unstable();
    let p50 = latencies.get(latencies.len().saturating_sub(1) / 2).copied();
    let max = latencies.last().copied();
    let body = check.body.as_ref().map(|b| format!(" with a body containing {b:?}")).unwrap_or_default();
    let detail = if failures == 0 {
        format!("{requests} of {requests} answered {}{body}", check.expect)
    } else {
        // What the failures were, most frequent first: `500 x18, connection refused x2`.
        let mut kinds: BTreeMap<String, u32> = BTreeMap::new();
        for s in samples.iter().filter(|s| !ok(s, check)) {
            let kind = match &s.answer {
                Answer::Status { status, body_ok: false } if *status == check.expect => {
                    format!("{status} without the body")
                }
                Answer::Status { status, .. } => status.to_string(),
                Answer::NoAnswer(why) => why.clone(),
            };
            *kinds.entry(kind).or_default() += 1;
        }
        let mut kinds: Vec<(String, u32)> = kinds.into_iter().collect();
        kinds.sort_by_key(|b| std::cmp::Reverse(b.1));
        let seen: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
        format!(
            "{failures} of {requests} failed ({}; expected {}{body}, at most {:.0}% failures)",
            seen.join(", "),
            check.expect,
            check.max_error_rate * 100.0
        )
    };
    CheckReport { name, passed, requests, failures, latency_p50_ms: p50, latency_max_ms: max, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> HttpCheck {
        serde_norway::from_str(yaml).expect("a check")
    }

    fn sample(answer: Answer, ms: u64) -> Sample {
        Sample { answer, latency: Duration::from_millis(ms) }
    }

    fn status(code: u16) -> Answer {
        Answer::Status { status: code, body_ok: true }
    }

    #[test]
    fn every_answer_must_match_by_default() {
        let c = check("path: /smoke");
        let good: Vec<Sample> = (1..=4).map(|i| sample(status(200), i * 10)).collect();
        let r = judge("h".into(), &c, &good);
        assert!(r.passed, "{r:?}");
        assert_eq!((r.requests, r.failures, r.latency_p50_ms, r.latency_max_ms), (4, 0, Some(20), Some(40)));
        assert_eq!(r.detail, "4 of 4 answered 200");

        let mut bad = good.clone();
        bad.push(sample(status(500), 5));
        bad.push(sample(Answer::NoAnswer("connection refused or unreachable".into()), 1));
        bad.push(sample(status(500), 5));
        let r = judge("h".into(), &c, &bad);
        assert!(!r.passed);
        assert_eq!(r.failures, 3);
        assert!(
            r.detail.starts_with("3 of 7 failed (500 x2, connection refused or unreachable x1; expected 200"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn the_error_rate_tolerates_its_share_and_the_body_counts() {
        let c = check("{path: /, max-error-rate: 0.25, body: ok}");
        let samples = vec![
            sample(status(200), 1),
            sample(status(200), 1),
            sample(status(200), 1),
            sample(Answer::Status { status: 200, body_ok: false }, 1),
        ];
        let r = judge("h".into(), &c, &samples);
        assert!(r.passed && r.failures == 1, "{r:?}");
        assert!(r.detail.contains("200 without the body x1"), "{}", r.detail);
        assert!(!judge("h".into(), &c, &samples[2..]).passed, "1 of 2 is over 25%");
        assert!(!judge("h".into(), &c, &[]).passed, "no request is no evidence");
    }

    #[test]
    fn the_url_joins_base_and_path() {
        let c = check("{path: /smoke}");
        assert_eq!(url_of(&c, Some("http://lb:8080/")).as_deref(), Some("http://lb:8080/smoke"));
        assert_eq!(url_of(&c, None), None);
        let c = check("{path: /smoke, url: 'https://test.example.com'}");
        assert_eq!(url_of(&c, Some("http://lb:8080")).as_deref(), Some("https://test.example.com/smoke"));
    }
}

//! The HTTP client shared by the GitHub and Slack sinks: bounded timeouts, `Retry-After` on 429,
//! and errors that never carry the URL (a Slack webhook URL is a secret).

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Attempts per request when the server says "slow down" (HTTP 429 with Retry-After).
const ATTEMPTS: u32 = 3;
/// Longest wait we honour: reporting must finish within the reporter's 10 s close budget.
const MAX_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

/// A response read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Http {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("pipeline/", env!("CARGO_PKG_VERSION"), " (+https://github.com/features/actions)"))
            .timeout(Duration::from_secs(8))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        Self { client }
    }

    /// Sends the request `build` makes, again after `Retry-After` while the server answers 429.
    pub async fn send(&self, build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder) -> Result<Reply, String> {
        let mut attempt = 1;
        loop {
            let response = build(&self.client).send().await.map_err(describe)?;
            let status = response.status().as_u16();
            if status == 429 && attempt < ATTEMPTS {
                tokio::time::sleep(retry_after(response.headers())).await;
                attempt += 1;
                continue;
            }
            let body = response.text().await.map_err(describe)?;
            if status == 429 {
                return Err(format!("rate limited (HTTP 429) after {ATTEMPTS} attempts"));
            }
            return Ok(Reply { status, body });
        }
    }
}

/// `Retry-After` in seconds (the form Slack and GitHub send), capped; 1 s when absent.
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(1))
        .min(MAX_WAIT)
}

/// The error and its causes, without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

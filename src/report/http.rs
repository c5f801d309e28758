//! The Slack sink's HTTP client: bounded timeouts, retries on 429, 5xx and network errors (see
//! [`super::retry`]), and errors that never carry the URL (a Slack webhook URL is a secret).
//! GitHub goes through octocrab (`report/github/`), on a client built by [`client`].

use std::time::Duration;

use super::retry::Retries;

/// The reqwest client both Slack and octocrab's transport use: one TLS stack (rustls).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(Duration::from_secs(8))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default()
}

pub const USER_AGENT: &str = concat!("pipeline/", env!("CARGO_PKG_VERSION"), " (+https://github.com/features/actions)");

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
        Self { client: client() }
    }

    /// Sends the request `build` makes, again while the answer is transient (429, 5xx, a network
    /// error), after `Retry-After` or a backoff, a few times at most.
    pub async fn send(&self, build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder) -> Result<Reply, String> {
        let mut retries = Retries::default();
        loop {
            let response = match build(&self.client).send().await {
                Ok(response) => response,
                Err(e) => match retries.after_error() {
                    Some(wait) => {
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    None => return Err(describe(e)),
                },
            };
            let status = response.status();
            if let Some(wait) = retries.after_response(status, response.headers()) {
                tokio::time::sleep(wait).await;
                continue;
            }
            let body = response.text().await.map_err(describe)?;
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err("rate limited (HTTP 429)".into());
            }
            return Ok(Reply { status: status.as_u16(), body });
        }
    }
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

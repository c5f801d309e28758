//! The octocrab client: octocrab's own middleware (base URI, auth header, extra headers) over the
//! reqwest client Slack uses too, with our retry layer in place of octocrab's (which neither
//! backs off nor bounds `Retry-After`). Built by hand rather than with `build_with_reqwest` so the
//! User-Agent is ours alone (octocrab's builder adds `octocrab` before any extra header).

use std::sync::Arc;

use http::header::{ACCEPT, HeaderName, HeaderValue};
use octocrab::service::middleware::auth_header::AuthHeaderLayer;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
use octocrab::service::middleware::reqwest_connector::ReqwestConnector;
use octocrab::{AuthState, OctoBody, Octocrab, OctocrabBuilder};
use secrecy::{ExposeSecret, SecretString};
use tower::retry::{Policy, RetryLayer};

use crate::report::retry::Retries;

/// An octocrab for `api_url` (`https://api.github.com`, a GHES `https://host/api/v3`, or the
/// sandbox's `http://host:port/github`) with `token` as the bearer. Needs a tokio runtime (octocrab
/// spawns its request buffer).
pub fn octocrab(api_url: &str, token: &SecretString) -> Result<Octocrab, String> {
    let base: http::Uri = api_url.parse().map_err(|e| format!("bad GitHub API URL {api_url:?}: {e}"))?;
    let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| "the GitHub token is not a valid header value".to_owned())?;
    bearer.set_sensitive(true);
    // octocrab adds `X-GitHub-Api-Version: 2022-11-28` itself; the media type GitHub asks for is ours to add.
    let headers: Vec<(HeaderName, HeaderValue)> =
        vec![(ACCEPT, HeaderValue::from_static("application/vnd.github+json"))];
    let crab = OctocrabBuilder::new_empty()
        .with_service(ReqwestConnector::new(crate::report::http::client()))
        .with_layer(&RetryLayer::new(RetryPolicy::default()))
        .with_layer(&ExtraHeadersLayer::new(Arc::new(headers)))
        .with_layer(&BaseUriLayer::new(base.clone()))
        .with_layer(&AuthHeaderLayer::new(Some(bearer), base.clone(), base))
        .with_auth(AuthState::None)
        .build();
    match crab {
        Ok(crab) => Ok(crab),
        Err(never) => match never {},
    }
}

/// Sends a request again on 429, 5xx, a rate-limit 403 or a network error ([`Retries`]). tower
/// clones the policy for each request, so each starts with a fresh count.
#[derive(Debug, Clone, Default)]
struct RetryPolicy(Retries);

impl<B, E> Policy<http::Request<OctoBody>, http::Response<B>, E> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _request: &mut http::Request<OctoBody>,
        result: &mut Result<http::Response<B>, E>,
    ) -> Option<Self::Future> {
        let wait = match result {
            Ok(response) => self.0.after_response(response.status(), response.headers()),
            Err(_) => self.0.after_error(),
        }?;
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, request: &http::Request<OctoBody>) -> Option<http::Request<OctoBody>> {
        // octocrab's bodies are buffered JSON, so they clone; an empty one (a GET) may say it cannot.
        let body = request.body().try_clone().unwrap_or_else(OctoBody::empty);
        let mut copy = http::Request::new(body);
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.version_mut() = request.version();
        *copy.headers_mut() = request.headers().clone();
        Some(copy)
    }
}

//! `/_sandbox/github/deny`: make chosen GitHub routes answer an error, as GitHub does for a token
//! without the permission (403 "Resource not accessible by integration" for GITHUB_TOKEN, 404 for
//! a fine-grained token without access), or a 5xx to exercise retries. Same style as
//! `/_sandbox/faults`: POST a rule, GET the rules, DELETE them all; a rule with `count` is spent
//! after that many calls.
//!
//! ```sh
//! curl -X POST localhost:4599/_sandbox/github/deny -d '{"route":"POST /repos/{owner}/{repo}/git/refs"}'
//! ```

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Capture;

pub const CONTROL_PREFIX: &str = "/_sandbox/github/deny";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    /// `METHOD /path` as GitHub's REST docs write routes; a `{name}` segment matches any one
    /// segment, e.g. `POST /repos/{owner}/{repo}/git/refs`.
    pub route: String,
    /// 403 unless told otherwise (any 4xx or 5xx).
    #[serde(default = "forbidden")]
    pub status: u16,
    /// GitHub's `message`; by default the one GitHub sends with that status.
    #[serde(default)]
    pub message: Option<String>,
    /// Answer at most this many calls, then the rule is spent.
    #[serde(default)]
    pub count: Option<u32>,
}

fn forbidden() -> u16 {
    403
}

pub fn control(capture: &mut Capture, method: &Method, body: &[u8]) -> Response {
    match *method {
        Method::GET => axum::Json(json!({ "rules": capture.denials })).into_response(),
        Method::DELETE => {
            capture.denials.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        Method::POST => match serde_json::from_slice::<DenyRule>(body).map_err(|e| e.to_string()).and_then(validate) {
            Ok(rule) => {
                capture.denials.push(rule);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, format!("bad deny rule: {e}")).into_response(),
        },
        _ => (StatusCode::METHOD_NOT_ALLOWED, "GET, POST or DELETE").into_response(),
    }
}

fn validate(rule: DenyRule) -> Result<DenyRule, String> {
    let Some((method, path)) = rule.route.split_once(' ') else {
        return Err("`route` is `METHOD /path`".into());
    };
    if method.parse::<Method>().is_err() || !path.starts_with('/') {
        return Err("`route` is `METHOD /path`".into());
    }
    if !(400..600).contains(&rule.status) {
        return Err("`status` must be a 4xx or 5xx".into());
    }
    Ok(rule)
}

/// The error answer for this call, when a rule matches it (the first unspent one decides).
pub fn check(capture: &mut Capture, method: &Method, path: &str) -> Option<Response> {
    let rule = capture.denials.iter_mut().find(|r| r.count != Some(0) && matches(&r.route, method, path))?;
    if let Some(count) = rule.count.as_mut() {
        *count -= 1;
    }
    let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::FORBIDDEN);
    let message = rule.message.clone().unwrap_or_else(|| default_message(status).to_owned());
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    Some((status, axum::Json(body)).into_response())
}

fn matches(route: &str, method: &Method, path: &str) -> bool {
    let Some((want_method, pattern)) = route.split_once(' ') else { return false };
    if !want_method.eq_ignore_ascii_case(method.as_str()) {
        return false;
    }
    let want: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| (w.starts_with('{') && w.ends_with('}')) || w == g)
}

/// What GitHub answers with these statuses.
fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => "Resource not accessible by integration",
        404 => "Not Found",
        401 => "Bad credentials",
        s if s >= 500 => "Server Error",
        _ => "Validation Failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_segment_by_segment_with_placeholders() {
        let route = "POST /repos/{owner}/{repo}/git/refs";
        assert!(matches(route, &Method::POST, "/repos/acme/web/git/refs"));
        assert!(!matches(route, &Method::GET, "/repos/acme/web/git/refs"));
        assert!(!matches(route, &Method::POST, "/repos/acme/web/git/refs/extra"));
        assert!(!matches(route, &Method::POST, "/repos/acme/web/releases"));
        assert!(matches("POST /repos/acme/web/releases", &Method::POST, "/repos/acme/web/releases"));
        assert!(!matches("POST /repos/acme/other/releases", &Method::POST, "/repos/acme/web/releases"));
    }

    #[test]
    fn a_counted_rule_is_spent() {
        let mut capture = Capture::default();
        let rule = br#"{"route": "POST /repos/{o}/{r}/git/refs", "count": 1}"#;
        assert_eq!(control(&mut capture, &Method::POST, rule).status(), StatusCode::NO_CONTENT);
        let denied = check(&mut capture, &Method::POST, "/repos/acme/web/git/refs").expect("denied once");
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert!(check(&mut capture, &Method::POST, "/repos/acme/web/git/refs").is_none());
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut capture = Capture::default();
        for bad in [
            &br#"{"route": "/repos/a/b/git/refs"}"#[..],
            br#"{"route": "POST /repos/a/b/git/refs", "status": 200}"#,
            br#"{"route": "POST /x", "kind": "deny"}"#,
        ] {
            assert_eq!(control(&mut capture, &Method::POST, bad).status(), StatusCode::BAD_REQUEST);
        }
        assert!(capture.denials.is_empty());
    }
}

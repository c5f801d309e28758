//! restJson1 (EventBridge Scheduler): the operation is the HTTP method and path, members travel in the path, the
//! query string and a JSON body; errors name their type in `x-amzn-ErrorType` and carry `{"Message"}`.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{AwsError, AwsResult};

/// One restJson1 request, decoded.
#[derive(Debug)]
pub struct RestRequest {
    pub method: Method,
    /// Percent-decoded path segments: `/schedules/my%2Ename` -> `["schedules", "my.name"]`.
    pub segments: Vec<String>,
    pub query: BTreeMap<String, String>,
    pub body: Value,
}

impl RestRequest {
    pub fn new(method: Method, path: &str, query: Option<&str>, body: &[u8]) -> AwsResult<Self> {
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s).ok_or_else(|| validation(format!("bad path segment {s}"))))
            .collect::<AwsResult<Vec<String>>>()?;
        let query = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
        let body = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| validation(format!("the body is not JSON: {e}")))?
        };
        Ok(Self { method, segments, query, body })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn validation(message: String) -> AwsError {
    AwsError::client("ValidationException", message)
}

/// The service a SigV4 `Authorization` header was signed for (`Credential=AKID/date/region/<service>/aws4_request`):
/// how a restJson1 request, which has no target header, names its service.
pub fn signing_service(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    credential.split('/').nth(3).map(str::to_owned)
}

pub fn respond(result: AwsResult<Value>) -> Response {
    let (status, body, error) = match result {
        Ok(value) => (StatusCode::OK, value, None),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, json!({ "Message": e.message }), Some(e.code))
        }
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(code) = error.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert("x-amzn-errortype", code);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_service_comes_from_the_credential_scope() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/scheduler/aws4_request, SignedHeaders=host, Signature=00",
            ),
        );
        assert_eq!(signing_service(&headers).as_deref(), Some("scheduler"));
        assert_eq!(signing_service(&HeaderMap::new()), None);
    }

    #[test]
    fn path_segments_are_percent_decoded() {
        let r = RestRequest::new(Method::GET, "/schedules/a%2Eb", Some("groupName=g%2D1"), b"").unwrap();
        assert_eq!(r.segments, ["schedules", "a.b"]);
        assert_eq!(r.query["groupName"], "g-1");
    }
}

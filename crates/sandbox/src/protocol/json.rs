//! awsJson1.1: a JSON body in, a JSON body out; errors carry `__type` and `x-amzn-ErrorType`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{AwsError, AwsResult};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

pub fn parse_body(body: &[u8]) -> AwsResult<Value> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| AwsError::client("SerializationException", e.to_string()))
}

pub fn respond(result: AwsResult<Value>) -> Response {
    match result {
        Ok(value) => {
            let mut response = (StatusCode::OK, value.to_string()).into_response();
            response.headers_mut().insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
            response
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({ "__type": e.code, "message": e.message });
            let mut response = (status, body.to_string()).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
            if let Ok(v) = HeaderValue::from_str(&e.code) {
                headers.insert("x-amzn-errortype", v);
            }
            response
        }
    }
}

/// Reads a required string member, with the `InvalidParameterException`-style error AWS gives when it is missing.
pub fn required_str<'a>(input: &'a Value, field: &str) -> AwsResult<&'a str> {
    input
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AwsError::invalid_parameter(format!("{field} is required")))
}

pub fn opt_str<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    input.get(field).and_then(Value::as_str)
}

//! awsJson 1.0 and 1.1: a JSON body in, a JSON body out; errors carry `__type` and `x-amzn-ErrorType`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{AwsError, AwsResult};

/// How one service speaks awsJson: the version its model's `jsonVersion` names (the Content-Type says it), and
/// whether it is `awsQueryCompatible` (its errors then also carry the Query error code in `x-amzn-query-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor {
    content_type: &'static str,
    query_compatible: bool,
}

/// ECR, ECS and CodeDeploy.
pub const JSON_1_1: Flavor = Flavor { content_type: "application/x-amz-json-1.1", query_compatible: false };
/// CloudWatch's model: `jsonVersion` 1.0 and `awsQueryCompatible` (REFERENCE 4.5).
pub const CLOUDWATCH: Flavor = Flavor { content_type: "application/x-amz-json-1.0", query_compatible: true };

pub fn parse_body(body: &[u8]) -> AwsResult<Value> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| AwsError::client("SerializationException", e.to_string()))
}

pub fn respond(flavor: Flavor, result: AwsResult<Value>) -> Response {
    match result {
        Ok(value) => {
            let mut response = (StatusCode::OK, value.to_string()).into_response();
            response.headers_mut().insert("content-type", HeaderValue::from_static(flavor.content_type));
            response
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({ "__type": e.code, "message": e.message });
            let mut response = (status, body.to_string()).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static(flavor.content_type));
            if let Ok(v) = HeaderValue::from_str(&e.code) {
                headers.insert("x-amzn-errortype", v);
            }
            if flavor.query_compatible {
                super::insert_query_error(headers, &e);
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

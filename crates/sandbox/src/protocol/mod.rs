//! Wire protocols: awsJson 1.1 (ECR, ECS, CodeDeploy), RPCv2-CBOR and awsJson 1.0 (CloudWatch), Query/XML
//! (STS, ELBv2), restJson1 (EventBridge Scheduler).

pub mod cbor;
pub mod json;
pub mod query;
pub mod rest_json;

use axum::http::{HeaderMap, HeaderValue};

use crate::AwsError;

/// `x-amzn-query-error: <Code>;Sender|Receiver`, the header an `awsQueryCompatible` service (CloudWatch) adds to
/// its JSON and CBOR errors so the SDKs see the Query error code (smithy `awsQueryCompatible` trait).
pub fn insert_query_error(headers: &mut HeaderMap, e: &AwsError) {
    let fault = if e.status >= 500 { "Receiver" } else { "Sender" };
    if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", e.code)) {
        headers.insert("x-amzn-query-error", v);
    }
}

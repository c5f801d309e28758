//! RPCv2-CBOR (CloudWatch as the current Rust SDK speaks it).
//! STUB: owned by the CloudWatch work; translates CBOR <-> serde_json::Value.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::{AwsError, AwsResult};

/// `POST /service/GraniteServiceVersion20100801/operation/<Op>`.
pub const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

pub fn decode_request(_body: &[u8]) -> AwsResult<Value> {
    Err(AwsError::not_implemented("cloudwatch", "rpc-v2-cbor decoding"))
}

pub fn respond(result: AwsResult<Value>) -> Response {
    match result {
        Ok(_) => (StatusCode::NOT_IMPLEMENTED, "cbor encoding not implemented").into_response(),
        Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.to_string()).into_response(),
    }
}

//! The Docker/OCI distribution API (`/v2/...`) backing ECR. STUB: owned by the ECR work.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::Sandbox;

pub async fn handle(_sb: Arc<Sandbox>, _request: Request) -> Response {
    (StatusCode::NOT_IMPLEMENTED, "registry not implemented yet").into_response()
}

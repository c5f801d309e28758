//! Amazon ECR control plane (REFERENCE section 1). STUB: owned by the ECR work.

use serde_json::Value;

use crate::{AwsError, AwsResult, Ctx, World};

#[derive(Debug, Default)]
pub struct EcrState {}

pub fn handle(_w: &mut World, _ctx: &Ctx, op: &str, _input: &Value) -> AwsResult<Value> {
    Err(AwsError::not_implemented("ecr", op))
}

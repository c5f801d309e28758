//! AWS CodeDeploy for ECS blue/green (REFERENCE section 3). STUB: owned by the ECS/CodeDeploy work.

use serde_json::Value;

use crate::{AwsError, AwsResult, Ctx, World};

#[derive(Debug, Default)]
pub struct CodeDeployState {}

pub fn handle(_w: &mut World, _ctx: &Ctx, op: &str, _input: &Value) -> AwsResult<Value> {
    Err(AwsError::not_implemented("codedeploy", op))
}

pub fn tick(_w: &mut World, _ctx: &Ctx) {}

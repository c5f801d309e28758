//! Amazon ECS (REFERENCE section 2). STUB: owned by the ECS work.

use serde_json::Value;

use crate::{AwsError, AwsResult, Ctx, World};

#[derive(Debug, Default)]
pub struct EcsState {}

pub fn handle(_w: &mut World, _ctx: &Ctx, op: &str, _input: &Value) -> AwsResult<Value> {
    Err(AwsError::not_implemented("ecs", op))
}

pub fn tick(_w: &mut World, _ctx: &Ctx) {}

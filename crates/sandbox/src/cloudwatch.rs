//! Amazon CloudWatch alarms and metrics (REFERENCE section 4). STUB: owned by the CloudWatch work.

use serde_json::Value;

use crate::{AwsError, AwsResult, Ctx, World};

#[derive(Debug, Default)]
pub struct CloudWatchState {}

impl CloudWatchState {
    /// The current state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of an alarm, `None` if it does not exist.
    pub fn alarm_state(&self, _name: &str) -> Option<&str> {
        None
    }
}

pub fn handle(_w: &mut World, _ctx: &Ctx, op: &str, _input: &Value) -> AwsResult<Value> {
    Err(AwsError::not_implemented("cloudwatch", op))
}

pub fn tick(_w: &mut World, _ctx: &Ctx) {}

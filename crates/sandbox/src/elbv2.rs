//! Elastic Load Balancing v2: load balancers, target groups, listeners. STUB: owned by the CloudWatch/ELB work.

use crate::protocol::query::Params;
use crate::{AwsError, AwsResult, Ctx, World};

pub const API_VERSION: &str = "2015-12-01";

#[derive(Debug, Default)]
pub struct ElbState {}

pub fn handle(_w: &mut World, _ctx: &Ctx, action: &str, _params: &Params) -> AwsResult<String> {
    Err(AwsError::not_implemented("elbv2", action))
}

//! AWS STS: GetCallerIdentity, so clients can check their (dummy) credentials.

use crate::protocol::query::{Params, el};
use crate::{AwsError, AwsResult, Ctx};

pub const API_VERSION: &str = "2011-06-15";

pub fn handle(ctx: &Ctx, action: &str, _params: &Params) -> AwsResult<String> {
    match action {
        "GetCallerIdentity" => Ok(format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult>{}{}{}</GetCallerIdentityResult>\
             <ResponseMetadata>{}</ResponseMetadata></GetCallerIdentityResponse>",
            el("Arn", &format!("arn:aws:iam::{}:user/sandbox", ctx.account_id)),
            el("UserId", "AIDASANDBOXUSER"),
            el("Account", &ctx.account_id),
            el("RequestId", &uuid::Uuid::new_v4().to_string()),
        )),
        other => Err(AwsError::not_implemented("sts", other)),
    }
}

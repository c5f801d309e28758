//! Who an environment acts as in AWS (`role-arn`, `profile`) and how `deploy --image` brings an image from
//! another registry (`promote`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `pipeline deploy --image` of an image that lives in another registry than the environment's ECR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Promote {
    /// Copy the manifest and its blobs by digest into this environment's ECR (same digest, no rebuild), with the
    /// source's version and commit tags; a second promotion of the same digest copies nothing.
    #[default]
    Copy,
    /// Run the image from where it is: the task execution role must be allowed to pull from that registry.
    InPlace,
}

/// Why `role-arn` is not an IAM role ARN, if it is not: `arn:<partition>:iam::<12-digit account>:role/<name>`.
pub fn role_arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|name| !name.is_empty() && !name.ends_with('/'));
    (!ok).then(|| format!("`{arn}` is not an IAM role ARN"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked_for_shape() {
        assert_eq!(role_arn_problem("arn:aws:iam::111122223333:role/deploy"), None);
        assert_eq!(role_arn_problem("arn:aws-cn:iam::111122223333:role/ci/deploy"), None);
        assert!(role_arn_problem("arn:aws:iam::1111:role/deploy").is_some());
        assert!(role_arn_problem("arn:aws:iam::111122223333:user/deploy").is_some());
        assert!(role_arn_problem("deploy").is_some());
    }
}

//! AWS STS (awsQuery, REFERENCE A3): GetCallerIdentity, and AssumeRole into one of the sandbox's accounts.
//!
//! AssumeRole issues real-looking temporary credentials (`ASIA...` key, secret, session token) and remembers them:
//! a request signed with that key acts in the role's account (its ECR and registry, its ARNs), and
//! GetCallerIdentity answers with the assumed-role ARN. A role in an account the sandbox does not hold is refused
//! with `AccessDenied`, as AWS refuses a role whose trust policy does not name the caller.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::protocol::query::{Params, el};
use crate::{AwsError, AwsResult, Ctx, World};

pub const API_VERSION: &str = "2011-06-15";

/// Session duration bounds (REFERENCE A3: 900 s up to the role's maximum, at most 12 h; default 1 h).
const MIN_DURATION: u64 = 900;
const MAX_DURATION: u64 = 43_200;
const DEFAULT_DURATION: u64 = 3_600;

#[derive(Debug, Default)]
pub struct StsState {
    /// Issued sessions by access key id.
    pub sessions: BTreeMap<String, Session>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub account: String,
    pub role_arn: String,
    pub role_name: String,
    pub session_name: String,
    /// `AROA...:<session name>`.
    pub assumed_role_id: String,
    pub expires: SystemTime,
}

impl Session {
    /// `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:sts::{}:assumed-role/{}/{}", self.account, self.role_name, self.session_name)
    }
}

/// The account a request signed with `access_key` acts in: the session's for a key this sandbox issued, the home
/// account for any other long-term key. A temporary key (`ASIA...`) the sandbox never issued, or one that expired,
/// is refused as AWS refuses it.
pub fn caller_account(w: &World, ctx: &Ctx, access_key: Option<&str>) -> AwsResult<String> {
    let Some(key) = access_key else { return Ok(ctx.home_account.clone()) };
    match w.sts.sessions.get(key) {
        Some(s) if s.expires <= SystemTime::now() => {
            Err(AwsError::client("ExpiredTokenException", "The security token included in the request is expired"))
        }
        Some(s) => Ok(s.account.clone()),
        None if key.starts_with("ASIA") => {
            Err(AwsError::new(403, "InvalidClientTokenId", "The security token included in the request is invalid."))
        }
        None => Ok(ctx.home_account.clone()),
    }
}

pub fn handle(w: &mut World, ctx: &Ctx, caller: Option<&str>, action: &str, params: &Params) -> AwsResult<String> {
    match action {
        "GetCallerIdentity" => Ok(get_caller_identity(w, ctx, caller)),
        "AssumeRole" => assume_role(w, ctx, caller, params),
        other => Err(AwsError::not_implemented("sts", other)),
    }
}

fn response(action: &str, result: &str) -> String {
    format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <{action}Result>{result}</{action}Result>\
         <ResponseMetadata>{}</ResponseMetadata></{action}Response>",
        el("RequestId", &uuid::Uuid::new_v4().to_string()),
    )
}

fn get_caller_identity(w: &World, ctx: &Ctx, caller: Option<&str>) -> String {
    let (arn, user_id, account) = match caller.and_then(|k| w.sts.sessions.get(k)) {
        Some(s) => (s.arn(), s.assumed_role_id.clone(), s.account.clone()),
        None => (
            format!("arn:aws:iam::{}:user/sandbox", ctx.home_account),
            "AIDASANDBOXUSER".into(),
            ctx.home_account.clone(),
        ),
    };
    response("GetCallerIdentity", &format!("{}{}{}", el("Arn", &arn), el("UserId", &user_id), el("Account", &account)))
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationError", message)
}

/// `RoleSessionName`: 2-64 characters of `[\w+=,.@-]` (REFERENCE A3; the length from API_AssumeRole.html).
pub fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-'))
}

/// `arn:aws:iam::<12 digits>:role/<optional path/>name` -> (account, role name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next()?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()).then_some((account, name))
}

fn assume_role(w: &mut World, ctx: &Ctx, caller: Option<&str>, params: &Params) -> AwsResult<String> {
    let role_arn = params.get("RoleArn").ok_or_else(|| validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"))?;
    let session_name = params.get("RoleSessionName").ok_or_else(|| {
        validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
    })?;
    if !valid_session_name(session_name) {
        return Err(validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: \
             Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    if role_arn.len() < 20 || role_arn.len() > 2048 {
        return Err(validation(format!(
            "1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must \
             have length between 20 and 2048"
        )));
    }
    let duration = match params.get("DurationSeconds") {
        Some(d) => d.parse::<u64>().ok().filter(|d| (MIN_DURATION..=MAX_DURATION).contains(d)).ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member \
                 must have value between {MIN_DURATION} and {MAX_DURATION}"
            ))
        })?,
        None => DEFAULT_DURATION,
    };
    let caller_arn = match caller.and_then(|k| w.sts.sessions.get(k)) {
        Some(s) => s.arn(),
        None => format!("arn:aws:iam::{}:user/sandbox", ctx.home_account),
    };
    let denied = || {
        AwsError::new(
            403,
            "AccessDenied",
            format!("User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"),
        )
    };
    let (account, role_name) = parse_role_arn(role_arn).ok_or_else(denied)?;
    if !ctx.registries.contains_key(account) {
        return Err(denied());
    }
    let access_key = format!("ASIA{}", random_text(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    let secret = random_text(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    let token = random_text(356, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    let role_id = format!("AROA{}", hex::encode_upper(sha2_prefix(role_arn)));
    let expires = SystemTime::now() + Duration::from_secs(duration);
    let session = Session {
        account: account.to_owned(),
        role_arn: role_arn.clone(),
        role_name: role_name.to_owned(),
        session_name: session_name.clone(),
        assumed_role_id: format!("{role_id}:{session_name}"),
        expires,
    };
    let expiration = time::OffsetDateTime::from(expires)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    let mut result = format!(
        "<Credentials>{}{}{}{}</Credentials><AssumedRoleUser>{}{}</AssumedRoleUser>",
        el("AccessKeyId", &access_key),
        el("SecretAccessKey", &secret),
        el("SessionToken", &token),
        el("Expiration", &expiration),
        el("Arn", &session.arn()),
        el("AssumedRoleId", &session.assumed_role_id),
    );
    if let Some(identity) = params.get("SourceIdentity") {
        result.push_str(&el("SourceIdentity", identity));
    }
    w.sts.sessions.insert(access_key, session);
    Ok(response("AssumeRole", &result))
}

fn random_text(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// A stable role id per role ARN, as IAM keeps one per role.
fn sha2_prefix(text: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())[..8].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_follow_the_sts_pattern() {
        assert!(valid_session_name("pipeline-web-1.2.0"));
        assert!(valid_session_name("a@b=c,d+e_f"));
        assert!(!valid_session_name("x"));
        assert!(!valid_session_name("has space"));
        assert!(!valid_session_name(&"a".repeat(65)));
        assert!(!valid_session_name("slash/no"));
    }

    #[test]
    fn role_arns_name_account_and_role() {
        assert_eq!(parse_role_arn("arn:aws:iam::111111111111:role/deploy"), Some(("111111111111", "deploy")));
        assert_eq!(parse_role_arn("arn:aws:iam::111111111111:role/ci/deploy"), Some(("111111111111", "deploy")));
        assert_eq!(parse_role_arn("arn:aws:iam::1111:role/deploy"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::111111111111:user/deploy"), None);
    }
}

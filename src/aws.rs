//! AWS access: one SDK config (region, the standard credential chain or a profile, an optional role to assume,
//! `AWS_ENDPOINT_URL*` overrides, standard retries) and the clients built from it, once per identity.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::config::{ProvideCredentials, SharedCredentialsProvider};

use crate::Error;

/// Every AWS client the tool uses, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Aws {
    pub region: String,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Aws {
    /// Loads the configuration and checks that credentials resolve, so a missing credential is one
    /// clear error up front rather than a failure halfway through a release.
    ///
    /// `region` comes from the environment's config; otherwise the standard chain (AWS_REGION, profile).
    pub async fn connect(region: Option<&str>) -> Result<Self, Error> {
        Self::connect_as(&Identity { region: region.map(str::to_owned), ..Identity::default() }).await
    }

    /// [`Aws::connect`] as `identity`: its profile, then its role assumed with those credentials. A role that cannot
    /// be assumed fails here, before any other call.
    pub async fn connect_as(identity: &Identity) -> Result<Self, Error> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Standard mode retries throttling and 5xx with backoff; AWS_MAX_ATTEMPTS/AWS_RETRY_MODE still apply.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4));
        if let Some(region) = &identity.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &identity.profile {
            loader = loader.profile_name(profile);
        }
        let mut sdk = loader.load().await;
        let region = sdk.region().map(|r| r.to_string()).ok_or(Error::NoRegion)?;
        if let Some(role) = &identity.role {
            // STS is called with the base credentials; the SDK's identity cache keeps the session for the run.
            let provider =
                AssumeRoleProvider::builder(&role.arn).session_name(&role.session_name).configure(&sdk).build().await;
            sdk = sdk.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build();
        }
        check_credentials(&sdk).await.map_err(|e| match (e, &identity.role) {
            (Error::Credentials { reason }, Some(role)) => {
                Error::AssumeRole { role: role.arn.clone(), session: role.session_name.clone(), reason }
            }
            (e, _) => e,
        })?;
        Ok(Self::from_sdk(&sdk, region))
    }

    /// Clients from an SDK config built elsewhere (benchmarks and tests point it at a sandbox).
    pub fn from_sdk(sdk: &SdkConfig, region: String) -> Self {
        Self {
            region,
            ecr: aws_sdk_ecr::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            codedeploy: aws_sdk_codedeploy::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            scheduler: aws_sdk_scheduler::Client::new(sdk),
        }
    }
}

/// Who an environment's AWS calls act as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub region: Option<String>,
    /// A named profile for the base credentials (and region).
    pub profile: Option<String>,
    /// A role assumed with the base credentials.
    pub role: Option<Role>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub arn: String,
    /// Names the release in CloudTrail and in the assumed-role ARN.
    pub session_name: String,
}

impl Identity {
    /// The same identity without its role: the job's own credentials.
    pub fn base(&self) -> Identity {
        Identity { role: None, ..self.clone() }
    }
}

/// `pipeline-<service>-<release>` as an STS session name: at most 64 characters of `[\w+=,.@-]` (REFERENCE A3),
/// anything else replaced by `-`.
pub fn session_name(service: &str, release: &str) -> String {
    let raw = format!("pipeline-{service}-{release}");
    let clean: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' })
        .take(64)
        .collect();
    clean.trim_end_matches('-').to_owned()
}

async fn check_credentials(sdk: &SdkConfig) -> Result<(), Error> {
    let Some(provider) = sdk.credentials_provider() else {
        return Err(Error::Credentials { reason: "no credential provider is configured".into() });
    };
    match provider.provide_credentials().await {
        Ok(creds) => match creds.expiry() {
            Some(expiry) if expiry <= std::time::SystemTime::now() => {
                Err(Error::Credentials { reason: "the credentials found have expired".into() })
            }
            _ => Ok(()),
        },
        // The SDK's message names the provider that failed last; our help lists the whole chain.
        Err(e) => Err(Error::Credentials { reason: causes(&e) }),
    }
}

/// The error and its causes on one line, each said once (an AssumeRole refusal is a few levels down).
fn causes(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ").lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_fit_the_sts_pattern_and_length() {
        assert_eq!(session_name("web", "1.2.0"), "pipeline-web-1.2.0");
        assert_eq!(session_name("team/web", "1.2.0+build 7"), "pipeline-team-web-1.2.0+build-7");
        let long = session_name(&"s".repeat(80), "1.0.0");
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("pipeline-sss"));
    }
}

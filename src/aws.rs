//! AWS access: one SDK config (region, the standard credential chain, `AWS_ENDPOINT_URL*` overrides,
//! standard retries) and the clients built from it.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::config::ProvideCredentials;

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
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Standard mode retries throttling and 5xx with backoff; AWS_MAX_ATTEMPTS/AWS_RETRY_MODE still apply.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4));
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_owned()));
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(|r| r.to_string()).ok_or(Error::NoRegion)?;
        check_credentials(&sdk).await?;
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
        Err(e) => Err(Error::Credentials { reason: first_line(&e) }),
    }
}

fn first_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    if let Some(source) = e.source() {
        text = format!("{text}: {source}");
    }
    text.lines().next().unwrap_or_default().to_owned()
}

//! AWS access: one SDK config (region, the standard credential chain or a profile, an optional role to assume,
//! `AWS_ENDPOINT_URL*` overrides, standard retries) and the clients built from it, once per identity.
//!
//! Set-up is lazy, because a short command (a re-release of an image already in ECR makes two calls) would
//! otherwise spend most of its time on it: each client is built the first time it is used, so a command
//! pays only for the services it calls, and the credentials are resolved once, up front, then shared by
//! every client until they near their expiry.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_ecr::config::Credentials;

use crate::Error;

/// Every AWS client the tool uses, sharing one configuration; each built on first use.
#[derive(Debug, Clone)]
pub struct Aws {
    pub region: String,
    pub ecr: Lazy<aws_sdk_ecr::Client>,
    pub ecs: Lazy<aws_sdk_ecs::Client>,
    pub codedeploy: Lazy<aws_sdk_codedeploy::Client>,
    pub cloudwatch: Lazy<aws_sdk_cloudwatch::Client>,
    pub elbv2: Lazy<aws_sdk_elasticloadbalancingv2::Client>,
    pub scheduler: Lazy<aws_sdk_scheduler::Client>,
}

impl Aws {
    /// Loads the configuration and resolves the credentials once, so a missing credential is one clear
    /// error up front rather than a failure halfway through a release, and no client resolves them again.
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
        if identity.profile.is_none() && local_emulator(std::env::vars()) {
            loader = loader.http_client(without_trust_store());
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(|r| r.to_string()).ok_or(Error::NoRegion)?;
        let Some(mut chain) = sdk.credentials_provider() else {
            return Err(Error::Credentials { reason: "no credential provider is configured".into() });
        };
        if let Some(role) = &identity.role {
            // STS is called with the base credentials, once here and again only near the session's expiry.
            let provider =
                AssumeRoleProvider::builder(&role.arn).session_name(&role.session_name).configure(&sdk).build().await;
            chain = SharedCredentialsProvider::new(provider);
        }
        let resolved = ResolvedOnce::resolve(&chain).await.map_err(|e| match (e, &identity.role) {
            (Error::Credentials { reason }, Some(role)) => {
                Error::AssumeRole { role: role.arn.clone(), session: role.session_name.clone(), reason }
            }
            (e, _) => e,
        })?;
        let sdk = sdk.into_builder().credentials_provider(SharedCredentialsProvider::new(resolved)).build();
        Ok(Self::from_sdk(&sdk, region))
    }

    /// Clients from an SDK config built elsewhere (benchmarks and tests point it at a sandbox).
    pub fn from_sdk(sdk: &SdkConfig, region: String) -> Self {
        let sdk = Arc::new(sdk.clone());
        Self {
            region,
            ecr: Lazy::new(&sdk, aws_sdk_ecr::Client::new),
            ecs: Lazy::new(&sdk, aws_sdk_ecs::Client::new),
            codedeploy: Lazy::new(&sdk, aws_sdk_codedeploy::Client::new),
            cloudwatch: Lazy::new(&sdk, aws_sdk_cloudwatch::Client::new),
            elbv2: Lazy::new(&sdk, aws_sdk_elasticloadbalancingv2::Client::new),
            scheduler: Lazy::new(&sdk, aws_sdk_scheduler::Client::new),
        }
    }
}

/// Whether this run can only reach a local emulator over plain HTTP: `AWS_ENDPOINT_URL` and every
/// `AWS_ENDPOINT_URL_<SERVICE>` are `http://`, and the credentials are the environment's own keys (no profile, so
/// no SSO or credential process that could call out over TLS).
fn local_emulator(env: impl IntoIterator<Item = (String, String)>) -> bool {
    let env: std::collections::BTreeMap<String, String> =
        env.into_iter().filter(|(name, _)| name.starts_with("AWS_")).collect();
    let plain = |url: &String| url.starts_with("http://");
    env.get("AWS_ENDPOINT_URL").is_some_and(plain)
        && env.iter().filter(|(name, _)| name.starts_with("AWS_ENDPOINT_URL_")).all(|(_, url)| plain(url))
        && env.contains_key("AWS_ACCESS_KEY_ID")
        && !env.contains_key("AWS_PROFILE")
}

/// The SDK's default HTTP client (rustls with aws-lc, the proxy from the environment), but with an empty trust
/// store: over plain HTTP it never verifies a certificate, and loading and parsing the system's took a quarter
/// of a re-release (`bench/rerelease.sh`). An HTTPS call through it fails its certificate check rather than
/// going unverified.
fn without_trust_store() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    let context = TlsContext::builder().with_trust_store(TrustStore::empty()).build().expect("a TLS context");
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// A client built the first time it is used (through `Deref`, so `aws.ecs.describe_services()` and
/// `&aws.ecs` passed as `&aws_sdk_ecs::Client` read as before). Clones share the one client.
#[derive(Clone)]
pub struct Lazy<C> {
    sdk: Arc<SdkConfig>,
    make: fn(&SdkConfig) -> C,
    client: Arc<OnceLock<C>>,
}

impl<C> Lazy<C> {
    fn new(sdk: &Arc<SdkConfig>, make: fn(&SdkConfig) -> C) -> Self {
        Self { sdk: Arc::clone(sdk), make, client: Arc::new(OnceLock::new()) }
    }

    /// Whether the client has been built (tests of what a command sets up).
    pub fn is_built(&self) -> bool {
        self.client.get().is_some()
    }
}

impl<C> Deref for Lazy<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.client.get_or_init(|| (self.make)(&self.sdk))
    }
}

impl<C> std::fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy").field("built", &self.is_built()).finish()
    }
}

/// How long before their expiry credentials are resolved again (a release can outlast a session token).
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// The credential chain's answer, kept: every client asks this provider, which asks the chain again only
/// when the credentials near their expiry.
#[derive(Debug)]
struct ResolvedOnce {
    chain: SharedCredentialsProvider,
    current: tokio::sync::Mutex<Credentials>,
}

impl ResolvedOnce {
    async fn resolve(chain: &SharedCredentialsProvider) -> Result<Self, Error> {
        let credentials = match chain.provide_credentials().await {
            Ok(creds) if creds.expiry().is_some_and(|expiry| expiry <= SystemTime::now()) => {
                return Err(Error::Credentials { reason: "the credentials found have expired".into() });
            }
            Ok(creds) => creds,
            // The SDK's message names the provider that failed last; our help lists the whole chain.
            Err(e) => return Err(Error::Credentials { reason: causes(&e) }),
        };
        Ok(Self { chain: chain.clone(), current: tokio::sync::Mutex::new(credentials) })
    }
}

fn fresh(credentials: &Credentials) -> bool {
    credentials.expiry().is_none_or(|expiry| SystemTime::now() + REFRESH_BEFORE < expiry)
}

impl ProvideCredentials for ResolvedOnce {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            let mut current = self.current.lock().await;
            if !fresh(&current) {
                *current = self.chain.provide_credentials().await?;
            }
            Ok(current.clone())
        })
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn only_a_plain_http_emulator_with_keys_from_the_environment_skips_the_trust_store() {
        let emulator = [("AWS_ENDPOINT_URL", "http://127.0.0.1:4599"), ("AWS_ACCESS_KEY_ID", "sandbox")];
        assert!(local_emulator(env(&emulator)));
        // Real AWS, or any endpoint over TLS, loads the system's trust store as the SDK does.
        assert!(!local_emulator(env(&[("AWS_ACCESS_KEY_ID", "AKIA")])));
        assert!(!local_emulator(env(&[("AWS_ENDPOINT_URL", "https://localhost:4566"), ("AWS_ACCESS_KEY_ID", "k")])));
        let mut one_service_over_tls = env(&emulator);
        one_service_over_tls.push(("AWS_ENDPOINT_URL_STS".into(), "https://sts.amazonaws.com".into()));
        assert!(!local_emulator(one_service_over_tls));
        // A profile may sign in through SSO or a credential process, which could call out over TLS.
        let mut profile = env(&emulator);
        profile.push(("AWS_PROFILE".into(), "dev".into()));
        assert!(!local_emulator(profile));
        assert!(!local_emulator(env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4599")])));
    }

    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicUsize>, Option<SystemTime>);

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.0.fetch_add(1, Ordering::SeqCst);
            provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKIDTEST", "secret", None, self.1, "test",
            )))
        }
    }

    #[tokio::test]
    async fn credentials_are_resolved_once_until_they_near_expiry() {
        let calls = Arc::new(AtomicUsize::new(0));
        let lasting = SharedCredentialsProvider::new(Counting(calls.clone(), None));
        let once = ResolvedOnce::resolve(&lasting).await.unwrap();
        for _ in 0..3 {
            once.provide_credentials().await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let soon = SystemTime::now() + Duration::from_secs(60);
        let expiring = SharedCredentialsProvider::new(Counting(calls.clone(), Some(soon)));
        let once = ResolvedOnce::resolve(&expiring).await.unwrap();
        once.provide_credentials().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "within the refresh margin the chain is asked again");
    }

    #[test]
    fn clients_are_built_on_first_use_only() {
        let sdk =
            SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("eu-west-1")).build();
        let aws = Aws::from_sdk(&sdk, "eu-west-1".into());
        assert!(!aws.ecr.is_built() && !aws.ecs.is_built());
        let _ = aws.ecr.config();
        let copy = aws.clone();
        assert!(copy.ecr.is_built(), "clones share the built client");
        assert!(!aws.ecs.is_built() && !aws.codedeploy.is_built() && !aws.cloudwatch.is_built());
    }

    #[test]
    fn session_names_fit_the_sts_pattern_and_length() {
        assert_eq!(session_name("web", "1.2.0"), "pipeline-web-1.2.0");
        assert_eq!(session_name("team/web", "1.2.0+build 7"), "pipeline-team-web-1.2.0+build-7");
        let long = session_name(&"s".repeat(80), "1.0.0");
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("pipeline-sss"));
    }
}

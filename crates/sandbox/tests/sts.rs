//! STS conformance: GetCallerIdentity (REFERENCE 5.3: clients check their credentials with it) and AssumeRole
//! into the sandbox's second account (REFERENCE A3; AWS: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html),
//! driven by the real aws-sdk-sts and by aws-config's `AssumeRoleProvider`.

mod common;

use aws_sdk_ecr::config::ProvideCredentials;
use pipeline_sandbox::SECOND_ACCOUNT;

const ROLE: &str = "arn:aws:iam::111111111111:role/deploy";

#[tokio::test]
async fn get_caller_identity_names_the_sandbox_account() {
    let sb = common::TestSandbox::start().await;
    let identity = sb.sts().get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(identity.account(), Some("000000000000"));
    assert_eq!(identity.arn(), Some("arn:aws:iam::000000000000:user/sandbox"));
}

#[tokio::test]
async fn an_unemulated_operation_is_an_error_naming_it() {
    let sb = common::TestSandbox::start().await;
    let err = sb.sts().get_session_token().send().await.expect_err("not emulated");
    let text = format!("{:?}", err);
    assert!(text.contains("GetSessionToken"), "{text}");
}

/// The SDK config of `sb` with credentials from aws-config's AssumeRoleProvider for `role`.
async fn assumed(sb: &common::TestSandbox, role: &str, session: &str) -> aws_config::SdkConfig {
    let provider =
        aws_config::sts::AssumeRoleProvider::builder(role).session_name(session).configure(&sb.sdk).build().await;
    sb.sdk
        .clone()
        .into_builder()
        .credentials_provider(aws_sdk_ecr::config::SharedCredentialsProvider::new(provider))
        .build()
}

#[tokio::test]
async fn assume_role_returns_temporary_credentials_that_act_in_the_roles_account() {
    let sb = common::TestSandbox::start().await;
    let out = sb
        .sts()
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("pipeline-web-1.2.0")
        .duration_seconds(900)
        .send()
        .await
        .expect("AssumeRole");
    let creds = out.credentials().expect("credentials");
    assert!(creds.access_key_id().starts_with("ASIA"), "{}", creds.access_key_id());
    assert!(!creds.session_token().is_empty());
    let left = creds.expiration().secs()
        - std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((890..=900).contains(&left), "DurationSeconds 900 -> expires in {left}s");
    let user = out.assumed_role_user().expect("AssumedRoleUser");
    assert_eq!(user.arn(), "arn:aws:sts::111111111111:assumed-role/deploy/pipeline-web-1.2.0");
    assert!(user.assumed_role_id().ends_with(":pipeline-web-1.2.0"), "{}", user.assumed_role_id());

    // aws-config's provider (what `pipeline` uses) signs with those credentials: the calls act in 111111111111.
    let conf = assumed(&sb, ROLE, "pipeline-web-1.2.0").await;
    let identity = aws_sdk_sts::Client::new(&conf).get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(identity.account(), Some(SECOND_ACCOUNT));
    assert_eq!(identity.arn(), Some("arn:aws:sts::111111111111:assumed-role/deploy/pipeline-web-1.2.0"));

    let ecr = aws_sdk_ecr::Client::new(&conf);
    let repo = ecr.create_repository().repository_name("web").send().await.expect("CreateRepository");
    let repo = repo.repository().expect("repository");
    let host = sb.running.registry_host_of(SECOND_ACCOUNT).expect("a registry host for the second account");
    assert_ne!(host, sb.running.registry_host(), "each account has its own registry host");
    assert_eq!(repo.registry_id(), Some(SECOND_ACCOUNT));
    assert_eq!(repo.repository_uri(), Some(format!("{host}/web").as_str()));
    assert_eq!(repo.repository_arn(), Some("arn:aws:ecr:us-east-1:111111111111:repository/web"));

    // The home account has no such repository, and its own `web` is another one.
    let home = sb.ecr().describe_repositories().repository_names("web").send().await.expect_err("not in home");
    assert!(home.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()), "{home:?}");
    sb.ecr().create_repository().repository_name("web").send().await.expect("the home account's own web");

    // The registry token of the second account opens its registry host only.
    let token = ecr.get_authorization_token().send().await.expect("GetAuthorizationToken");
    let data = &token.authorization_data()[0];
    assert_eq!(data.proxy_endpoint(), Some(format!("http://{host}").as_str()));
    let basic = format!("Basic {}", data.authorization_token().unwrap());
    assert_eq!(common::http_get_status(&format!("http://{host}/v2/web/tags/list"), &basic).await, 200);
    let home_host = sb.running.registry_host();
    assert_eq!(common::http_get_status(&format!("http://{home_host}/v2/web/tags/list"), &basic).await, 401);
}

#[tokio::test]
async fn a_role_outside_the_sandbox_accounts_is_access_denied_and_bad_input_is_a_validation_error() {
    let sb = common::TestSandbox::start().await;
    let err = sb
        .sts()
        .assume_role()
        .role_arn("arn:aws:iam::999999999999:role/deploy")
        .role_session_name("pipeline-web-1.0.0")
        .send()
        .await
        .expect_err("unknown account");
    let service = err.as_service_error().expect("a service error");
    assert_eq!(aws_sdk_sts::error::ProvideErrorMetadata::code(service), Some("AccessDenied"));
    let message = aws_sdk_sts::error::ProvideErrorMetadata::message(service).unwrap_or_default();
    assert!(
        message.contains(
            "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::999999999999:role/deploy"
        ),
        "{message}"
    );

    for (session, duration) in [("has space", 900), ("x", 900), ("ok-name", 899), ("ok-name", 43_201)] {
        let err = sb
            .sts()
            .assume_role()
            .role_arn(ROLE)
            .role_session_name(session)
            .duration_seconds(duration)
            .send()
            .await
            .expect_err("invalid input");
        let code =
            err.as_service_error().and_then(|e| aws_sdk_sts::error::ProvideErrorMetadata::code(e).map(str::to_owned));
        assert_eq!(code.as_deref(), Some("ValidationError"), "{session} {duration}");
    }

    // The provider surfaces the refusal when credentials are first asked for.
    let provider = aws_config::sts::AssumeRoleProvider::builder("arn:aws:iam::999999999999:role/deploy")
        .session_name("pipeline-web-1.0.0")
        .configure(&sb.sdk)
        .build()
        .await;
    let err = provider.provide_credentials().await.expect_err("refused");
    assert!(format!("{err:?}").contains("AccessDenied"), "{err:?}");
}

#[tokio::test]
async fn temporary_keys_the_sandbox_did_not_issue_are_refused() {
    let sb = common::TestSandbox::start().await;
    let forged =
        aws_sdk_sts::config::Credentials::new("ASIAFORGEDFORGED0000", "secret", Some("token".into()), None, "test");
    let conf = sb
        .sdk
        .clone()
        .into_builder()
        .credentials_provider(aws_sdk_ecr::config::SharedCredentialsProvider::new(forged))
        .build();
    let err = aws_sdk_ecr::Client::new(&conf).describe_repositories().send().await.expect_err("forged");
    let code =
        err.as_service_error().and_then(|e| aws_sdk_sts::error::ProvideErrorMetadata::code(e).map(str::to_owned));
    assert_eq!(code.as_deref(), Some("InvalidClientTokenId"));
}

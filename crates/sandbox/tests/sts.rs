//! STS conformance (REFERENCE 5.3: clients check their credentials with GetCallerIdentity).

mod common;

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

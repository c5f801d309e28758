//! Fault injection through `/_sandbox/faults`, seen by the real SDK clients (DESIGN "The sandbox": throttling
//! errors, 5xx, latency, on a share of calls or on named operations; REFERENCE 5.4 retries, 5.6 errors).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;

/// A dependency-free HTTP/1.1 request returning (status, body), for the control endpoints besides POST.
async fn http(method: &str, url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).expect("a path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

async fn http_delete(url: &str) -> u16 {
    http("DELETE", url).await.0
}

/// DESIGN "Fault injection" + REFERENCE 5.6: a throttle rule limited by `count` fails exactly that many calls of
/// the named operation with CloudWatch's `Throttling` code (over CBOR, via `x-amzn-query-error`); other
/// operations are untouched.
#[tokio::test]
async fn counted_throttle_on_a_named_cloudwatch_operation() {
    let sb = common::TestSandbox::start().await;
    let rule = r#"{"kind":"throttle","service":"cloudwatch","operation":"DescribeAlarms","count":2}"#;
    assert_eq!(sb.control("/_sandbox/faults", rule).await, 204);
    let cw = sb.cloudwatch();
    cw.list_metrics().send().await.expect("other operations are not throttled");
    for _ in 0..2 {
        let err = cw.describe_alarms().send().await.expect_err("throttled");
        assert_eq!(err.code(), Some("Throttling"));
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    }
    cw.describe_alarms().send().await.expect("the rule is spent after its count");
}

/// DESIGN "Fault injection": a throttle on a Query service (STS) gives its `Throttling` code in XML.
#[tokio::test]
async fn throttle_on_a_query_service() {
    let sb = common::TestSandbox::start().await;
    assert_eq!(sb.control("/_sandbox/faults", r#"{"kind":"throttle","service":"sts","count":1}"#).await, 204);
    let err = sb.sts().get_caller_identity().send().await.expect_err("throttled");
    assert_eq!(aws_sdk_sts::error::ProvideErrorMetadata::code(&err), Some("Throttling"));
    sb.sts().get_caller_identity().send().await.expect("spent");
}

/// DESIGN "Fault injection": an `error` rule answers HTTP 500 `InternalFailure`.
#[tokio::test]
async fn error_rule_gives_a_500() {
    let sb = common::TestSandbox::start().await;
    assert_eq!(sb.control("/_sandbox/faults", r#"{"kind":"error","service":"elbv2","count":1}"#).await, 204);
    let err = sb.elbv2().describe_load_balancers().send().await.expect_err("injected 500");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata::code(&err), Some("InternalFailure"));
    let err = {
        assert_eq!(sb.control("/_sandbox/faults", r#"{"kind":"error","service":"cloudwatch","count":1}"#).await, 204);
        sb.cloudwatch().describe_alarms().send().await.expect_err("injected 500 over CBOR")
    };
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(err.code(), Some("InternalFailure"));
}

/// DESIGN "Fault injection": a `latency` rule delays the call, which then succeeds.
#[tokio::test]
async fn latency_rule_delays_the_call() {
    let sb = common::TestSandbox::start().await;
    let rule = r#"{"kind":"latency","service":"cloudwatch","latency_ms":300,"count":1}"#;
    assert_eq!(sb.control("/_sandbox/faults", rule).await, 204);
    let cw = sb.cloudwatch();
    let start = Instant::now();
    cw.describe_alarms().send().await.expect("delayed, not failed");
    assert!(start.elapsed() >= Duration::from_millis(300), "took {:?}", start.elapsed());
    let start = Instant::now();
    cw.describe_alarms().send().await.expect("fast again");
    assert!(start.elapsed() < Duration::from_millis(300), "took {:?}", start.elapsed());
}

/// DESIGN "Fault injection": `GET /_sandbox/faults` lists the rules, `DELETE` clears them, and a malformed rule
/// is refused.
#[tokio::test]
async fn delete_clears_the_rules() {
    let sb = common::TestSandbox::start().await;
    let url = format!("{}/_sandbox/faults", sb.running.endpoint());
    assert_eq!(sb.control("/_sandbox/faults", r#"{"kind":"throttle","service":"cloudwatch"}"#).await, 204);
    let (status, body) = http("GET", &url).await;
    assert_eq!(status, 200);
    assert!(body.contains("throttle"), "{body}");
    let cw = sb.cloudwatch();
    cw.describe_alarms().send().await.expect_err("throttled while the rule stands");
    assert_eq!(http_delete(&url).await, 204);
    cw.describe_alarms().send().await.expect("no rule after DELETE");
    assert_eq!(sb.control("/_sandbox/faults", r#"{"kind":"meteor"}"#).await, 400);
}

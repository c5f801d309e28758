//! Shared by the conformance tests: a fresh sandbox per test and real AWS SDK clients pointed at it.
#![allow(dead_code)]

use pipeline_sandbox::{RunningSandbox, SandboxOptions};

pub struct TestSandbox {
    pub running: RunningSandbox,
    pub sdk: aws_config::SdkConfig,
}

impl TestSandbox {
    pub async fn start() -> Self {
        Self::with(SandboxOptions::default()).await
    }

    /// `time_scale` 600 makes a one-minute traffic step take 0.1 s.
    pub async fn with_time_scale(time_scale: f64) -> Self {
        Self::with(SandboxOptions { time_scale, ..SandboxOptions::default() }).await
    }

    pub async fn with(opts: SandboxOptions) -> Self {
        let running = pipeline_sandbox::start(opts).await.expect("sandbox starts");
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(running.sandbox.ctx.region.clone()))
            .endpoint_url(running.endpoint())
            .credentials_provider(aws_sdk_sts::config::Credentials::new("sandbox", "sandbox", None, None, "tests"))
            // Tests assert on single calls; retries would hide injected faults.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        Self { running, sdk }
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.sdk)
    }
    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk)
    }
    pub fn codedeploy(&self) -> aws_sdk_codedeploy::Client {
        aws_sdk_codedeploy::Client::new(&self.sdk)
    }
    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.sdk)
    }
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }
    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }

    /// GETs a `/_sandbox/...` control endpoint's JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let endpoint = self.running.endpoint();
        let host = endpoint.strip_prefix("http://").expect("http endpoint");
        let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.expect("read");
        let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"))
    }

    /// POSTs a JSON body to a `/_sandbox/...` control endpoint.
    pub async fn control(&self, path: &str, body: &str) -> u16 {
        http_post(&format!("{}{path}", self.running.endpoint()), body).await
    }
}

/// Deployment group `web/web-dg` for the ECS service `default/web`: blue/green between target groups
/// `web-blue` and `web-green`, `alarm` attached, auto-rollback on failure and on alarm, blue kept one
/// (simulated) minute after success.
pub async fn create_blue_green_group(
    cd: &aws_sdk_codedeploy::Client,
    config: &str,
    ready: aws_sdk_codedeploy::types::DeploymentReadyOption,
    alarm: &str,
) {
    use aws_sdk_codedeploy::types::*;
    cd.create_deployment_group()
        .application_name("web")
        .deployment_group_name("web-dg")
        .service_role_arn("arn:aws:iam::000000000000:role/codedeploy")
        .deployment_config_name(config)
        .ecs_services(EcsService::builder().cluster_name("default").service_name("web").build())
        .deployment_style(
            DeploymentStyle::builder()
                .deployment_type(DeploymentType::BlueGreen)
                .deployment_option(DeploymentOption::WithTrafficControl)
                .build(),
        )
        .load_balancer_info(
            LoadBalancerInfo::builder()
                .target_group_pair_info_list(
                    TargetGroupPairInfo::builder()
                        .target_groups(TargetGroupInfo::builder().name("web-blue").build())
                        .target_groups(TargetGroupInfo::builder().name("web-green").build())
                        .prod_traffic_route(
                            TrafficRoute::builder()
                                .listener_arns(
                                    "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/1/1",
                                )
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .blue_green_deployment_configuration(
            BlueGreenDeploymentConfiguration::builder()
                .deployment_ready_option(ready)
                .terminate_blue_instances_on_deployment_success(
                    BlueInstanceTerminationOption::builder()
                        .action(InstanceAction::Terminate)
                        .termination_wait_time_in_minutes(1)
                        .build(),
                )
                .build(),
        )
        .alarm_configuration(
            AlarmConfiguration::builder().enabled(true).alarms(Alarm::builder().name(alarm).build()).build(),
        )
        .auto_rollback_configuration(
            AutoRollbackConfiguration::builder()
                .enabled(true)
                .events(AutoRollbackEvent::DeploymentFailure)
                .events(AutoRollbackEvent::DeploymentStopOnAlarm)
                .build(),
        )
        .send()
        .await
        .expect("CreateDeploymentGroup");
}

/// A dependency-free HTTP/1.1 POST, enough for the control endpoints.
pub async fn http_post(url: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code")
}

/// A dependency-free HTTP/1.1 GET with an `Authorization` header; the status code.
pub async fn http_get_status(url: &str, authorization: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code")
}

/// What `raw_post` got back: the status, the headers (names lower-cased) and the body.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// A raw HTTP/1.1 POST with the given headers, for what the SDKs hide: wire headers, keys they drop, and
/// protocols the Rust SDK does not speak (CloudWatch over awsJson 1.0).
pub async fn raw_post(endpoint: &str, headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.strip_prefix("http://").expect("http endpoint");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let mut request =
        format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    // axum answers with Content-Length (no chunking) for these small bodies.
    RawResponse { status, headers, body: raw[split + 4..].to_vec() }
}

//! Benchmark: how fast the sandbox starts and answers control-plane calls (targets: start < 1 s, median
//! call < 2 ms). Run on demand, not part of the tests: `bench/sandbox_latency.sh` (release build), or
//! `cargo run -p pipeline-sandbox --example sandbox_latency -- <path to pipeline-sandbox binary> [calls]`.
//!
//! Start time is measured on the real binary: from spawning the process to its first answered
//! `GET /_sandbox/health`. Latency is measured with the real AWS SDK clients, one call at a time, against that
//! process: CloudWatch DescribeAlarms (RPCv2-CBOR), ELBv2 DescribeLoadBalancers (Query/XML) and STS
//! GetCallerIdentity.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the spawned sandbox when the benchmark ends, however it ends. Holds the stdout pipe open: the
/// sandbox prints several lines, and a closed pipe would kill it on the next one.
struct Guard(Child, #[allow(dead_code)] BufReader<std::process::ChildStdout>);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn health_ok(addr: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else { return false };
    let request = format!("GET /_sandbox/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).await.is_ok() && response.starts_with("HTTP/1.1 200")
}

/// Spawns the binary on a free port; returns the process, its `host:port` and the time until health answered.
async fn spawn(bin: &str) -> (Guard, String, Duration) {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    // The first line printed is `export AWS_ENDPOINT_URL=http://127.0.0.1:PORT`.
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("sandbox prints its endpoint");
    let guard = Guard(child, reader);
    let addr = line.trim().rsplit("http://").next().expect("an endpoint").to_owned();
    while !health_ok(&addr).await {
        assert!(start.elapsed() < Duration::from_secs(10), "sandbox did not answer within 10 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (guard, addr, start.elapsed())
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    format!(
        "median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms (n={})",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.9).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        samples.len()
    )
}

async fn time_calls<F, Fut>(n: usize, mut call: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Warm-up: connection pool, credentials cache, endpoint resolution.
    for _ in 0..20 {
        call().await;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        call().await;
        out.push(t.elapsed());
    }
    out
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bin = args.next().unwrap_or_else(|| "target/release/pipeline-sandbox".into());
    let calls: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);

    let mut starts = Vec::new();
    for _ in 0..10 {
        let (_guard, _, took) = spawn(&bin).await;
        starts.push(took);
    }
    println!("start (spawn -> health answered): {}", summary(starts));

    let (_guard, addr, _) = spawn(&bin).await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new("sandbox", "sandbox", None, None, "bench"))
        .load()
        .await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let sts = aws_sdk_sts::Client::new(&sdk);
    cw.put_metric_alarm()
        .alarm_name("bench")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");

    let samples =
        time_calls(calls, || async { cw.describe_alarms().send().await.map(|_| ()).expect("DescribeAlarms") }).await;
    println!("cloudwatch DescribeAlarms (CBOR): {}", summary(samples));
    let samples = time_calls(calls, || async {
        elb.describe_load_balancers().send().await.map(|_| ()).expect("DescribeLoadBalancers")
    })
    .await;
    println!("elbv2 DescribeLoadBalancers (Query): {}", summary(samples));
    let samples =
        time_calls(calls, || async { sts.get_caller_identity().send().await.map(|_| ()).expect("GetCallerIdentity") })
            .await;
    println!("sts GetCallerIdentity (Query): {}", summary(samples));
}

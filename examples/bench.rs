//! Benchmarks of the deploy half against an in-process sandbox (run through bench/*.sh):
//!
//! - `deploy-step [N]`: register a new task-definition revision and start the deployment, no
//!   waiting; wall time and AWS calls per release (target: at most 3 calls, under 30 ms).
//! - `guard [N]`: a guard alarm enters ALARM during the bake of a rolling release; time until the
//!   rollback's UpdateService reaches the sandbox, with the default 1 s poll interval (target: < 2 s).

use std::path::Path;
use std::time::{Duration, Instant};

use pipeline::aws::Aws;
use pipeline::deploy::cancel::Cancel;
use pipeline::deploy::plan::{self, DeployPlan};
use pipeline::deploy::watcher::Watcher;
use pipeline::deploy::{codedeploy, ecs_deployment, stages};
use pipeline::plan::ReleaseLabel;
use pipeline::report::Reporter;
use pipeline_sandbox::{RunningSandbox, SandboxOptions};

const CONFIG: &str = "version: 1
image:
  repository: hello
environments:
  demo:
    cluster: demo
    service: hello
    task-definition: task-definition.json
    container: hello
    strategy: STRATEGY
    codedeploy: { application: hello, deployment-group: hello-demo }
    guard:
      alarms: [bench-guard]
      bake: BAKE
";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30);
    match args.get(1).map(String::as_str) {
        Some("deploy-step") => {
            deploy_step("hello-rolling", "rolling", n).await;
            deploy_step("hello", "codedeploy", n).await;
        }
        Some("guard") => guard(n).await,
        _ => eprintln!("usage: bench deploy-step|guard [N]"),
    }
}

async fn setup(scenario: &str, strategy: &str, bake: &str, time_scale: f64) -> (RunningSandbox, Aws, DeployPlan) {
    let sb = pipeline_sandbox::start(SandboxOptions {
        time_scale,
        scenario: Some(scenario.into()),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(sb.endpoint())
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("sandbox", "sandbox", None, None, "bench"))
        .load()
        .await;
    let aws = Aws::from_sdk(&sdk, "us-east-1".into());
    let cw = &aws.cloudwatch;
    cw.put_metric_alarm()
        .alarm_name("bench-guard")
        .namespace("Bench")
        .metric_name("Errors")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("alarm");
    set_alarm(&aws, aws_sdk_cloudwatch::types::StateValue::Ok).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello");
    let text = CONFIG.replace("STRATEGY", strategy).replace("BAKE", bake);
    let config = pipeline::config::from_text(&root.join(".pipeline.yml"), text, &[]).expect("config");
    let (name, env) = config.environment(Some("demo")).expect("env");
    let plan = plan::plan(&aws, name, env).await.expect("plan");
    (sb, aws, plan)
}

async fn set_alarm(aws: &Aws, state: aws_sdk_cloudwatch::types::StateValue) {
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name("bench-guard")
        .state_value(state)
        .state_reason("bench")
        .send()
        .await
        .expect("set alarm");
}

async fn deploy_step(scenario: &str, strategy: &str, n: usize) {
    let (sb, aws, plan) = setup(scenario, strategy, "0s", 600.0).await;
    let label = ReleaseLabel { version: "1.0.0".into(), commit: "bench".into() };
    let mut reporter = Reporter::new(Vec::new());
    let (mut times, mut calls) = (Vec::new(), Vec::new());
    for i in 0..n {
        let image = format!("registry.example.com/hello@sha256:{:064x}", i + 1);
        let before = sb.sandbox.world().calls.total;
        let start = Instant::now();
        let (arn, _) = stages::register(&aws, &plan, &image, &label, &mut reporter).await.expect("register");
        let deployment = match plan.strategy {
            pipeline::deploy::strategy::Strategy::CodeDeploy => {
                let settings = plan.codedeploy.as_ref().expect("codedeploy settings");
                let spec = codedeploy::appspec_for(&plan.service, &arn, &[]).expect("appspec");
                let mut watcher = Watcher::new(&aws.cloudwatch, &plan.watch, Cancel::never());
                codedeploy::start(&aws.codedeploy, settings, &spec, &plan.alarms, "bench", &mut watcher, &mut reporter)
                    .await
                    .expect("create deployment")
            }
            _ => {
                let transient = pipeline::deploy::transient::Transient::new(plan.watch.transient_window);
                ecs_deployment::start(&aws.ecs, &plan.service, &arn, &transient).await.expect("update service")
            }
        };
        times.push(start.elapsed());
        calls.push(sb.sandbox.world().calls.total - before);
        // Outside the measurement: let the deployment finish so the next one can start.
        settle(&aws, &plan, &deployment).await;
    }
    report(&format!("deploy step ({strategy}): register + start"), &mut times);
    calls.sort_unstable();
    println!("  AWS calls per deploy step: min {} max {}", calls[0], calls[calls.len() - 1]);
}

async fn settle(aws: &Aws, plan: &DeployPlan, deployment: &str) {
    for _ in 0..500 {
        let done = if deployment.starts_with("d-") {
            let out = aws.codedeploy.get_deployment().deployment_id(deployment).send().await.expect("get");
            let status = out.deployment_info().and_then(|d| d.status()).map(|s| s.as_str().to_owned());
            matches!(status.as_deref(), Some("Succeeded" | "Failed" | "Stopped"))
        } else {
            let svc = pipeline::ecs::service::describe(&aws.ecs, &plan.service.cluster, &plan.service.name)
                .await
                .expect("describe");
            svc.deployments.len() == 1
        };
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn guard(n: usize) {
    let (sb, aws, plan) = setup("hello-rolling", "rolling", "30s", 60.0).await;
    let label = ReleaseLabel { version: "1.0.0".into(), commit: "bench".into() };
    let mut reporter = Reporter::new(Vec::new());
    let mut delays = Vec::new();
    for i in 0..n {
        set_alarm(&aws, aws_sdk_cloudwatch::types::StateValue::Ok).await;
        let now = pipeline::ecs::service::describe(&aws.ecs, "demo", "hello").await.expect("describe");
        let mut plan = plan.clone();
        plan.service = now;
        // Not in the sandbox's registry, so its simulated tasks start without a pull.
        let image = format!("registry.example.com/hello@sha256:{:064x}", i + 1000);
        let (arn, _) = stages::register(&aws, &plan, &image, &label, &mut reporter).await.expect("register");
        let transient = pipeline::deploy::transient::Transient::new(plan.watch.transient_window);
        let id = ecs_deployment::start(&aws.ecs, &plan.service, &arn, &transient).await.expect("start");
        let (aws2, ours) = (aws.clone(), id.clone());
        let fire = tokio::spawn(async move {
            // Wait for the rollout to finish (the bake has begun), then fire the alarm.
            loop {
                let svc = pipeline::ecs::service::describe(&aws2.ecs, "demo", "hello").await.expect("describe");
                if svc.deployments.len() == 1 && svc.deployments[0].id == ours {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(137)).await;
            let at = pipeline_sandbox::world::now_epoch();
            set_alarm(&aws2, aws_sdk_cloudwatch::types::StateValue::Alarm).await;
            at
        });
        let mut watcher = Watcher::new(&aws.cloudwatch, &plan.watch, Cancel::never());
        let result =
            ecs_deployment::wait(&aws.ecs, &plan.service, &id, &plan.rollback_to, &mut watcher, &mut reporter).await;
        assert!(matches!(result, Err(pipeline::Error::RolledBack { .. })), "rolled back: {result:?}");
        let fired_at = fire.await.expect("fire");
        let stopped_at = sb.sandbox.world().calls.operations["ecs:UpdateService"].last_at;
        delays.push(Duration::from_secs_f64((stopped_at - fired_at).max(0.0)));
    }
    report("guard: alarm in ALARM -> rollback UpdateService (poll interval 1 s)", &mut delays);
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what}: n={} median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(samples[samples.len() - 1])
    );
}

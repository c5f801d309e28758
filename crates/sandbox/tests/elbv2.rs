//! ELBv2 conformance with the real `aws-sdk-elasticloadbalancingv2` (Query protocol, XML), and the ARN-derived
//! CloudWatch dimension values (REFERENCE 4.1) and weighted forward actions CodeDeploy shifts (REFERENCE 3.5).

mod common;

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, LoadBalancerTypeEnum, ProtocolEnum, TargetDescription,
    TargetGroupTuple, TargetHealthStateEnum,
};
use pipeline_sandbox::elbv2::{load_balancer_dimension, target_group_dimension};

async fn create_tg(elb: &aws_sdk_elasticloadbalancingv2::Client, name: &str) -> String {
    let out = elb
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id("vpc-123")
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .health_check_path("/healthz")
        .send()
        .await
        .expect("CreateTargetGroup");
    out.target_groups()[0].target_group_arn().expect("arn").to_owned()
}

fn forward(weights: &[(&str, i32)]) -> Action {
    let tuples = weights.iter().map(|(arn, w)| TargetGroupTuple::builder().target_group_arn(*arn).weight(*w).build());
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(ForwardActionConfig::builder().set_target_groups(Some(tuples.collect())).build())
        .build()
}

/// REFERENCE 4.1: load balancer and target group round trips; their ARNs have the shapes whose suffixes are
/// the `LoadBalancer = app/<name>/<id>` and `TargetGroup = targetgroup/<name>/<id>` dimension values.
#[tokio::test]
async fn load_balancer_and_target_group_round_trip_with_dimension_values() {
    let sb = common::TestSandbox::start().await;
    let elb = sb.elbv2();
    let lb = elb
        .create_load_balancer()
        .name("web-prod")
        .subnets("subnet-a")
        .subnets("subnet-b")
        .r#type(LoadBalancerTypeEnum::Application)
        .send()
        .await
        .expect("CreateLoadBalancer");
    let lb = &lb.load_balancers()[0];
    let lb_arn = lb.load_balancer_arn().expect("arn").to_owned();
    assert!(lb_arn.starts_with("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web-prod/"));
    let dimension = load_balancer_dimension(&lb_arn).expect("dimension");
    let id = dimension.strip_prefix("app/web-prod/").expect("app/<name>/<id>");
    assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert!(lb.created_time().is_some());
    assert_eq!(lb.availability_zones().len(), 2);

    let by_name = elb.describe_load_balancers().names("web-prod").send().await.expect("DescribeLoadBalancers");
    assert_eq!(by_name.load_balancers()[0].load_balancer_arn(), Some(lb_arn.as_str()));
    let err = elb.describe_load_balancers().names("nope").send().await.expect_err("unknown LB");
    assert_eq!(err.code(), Some("LoadBalancerNotFound"));
    assert!(err.into_service_error().is_load_balancer_not_found_exception());

    let tg_arn = create_tg(&elb, "web-green").await;
    let tg_dimension = target_group_dimension(&tg_arn).expect("dimension");
    assert!(
        tg_dimension.starts_with("targetgroup/web-green/") && tg_dimension.len() == "targetgroup/web-green/".len() + 16
    );
    let tgs = elb.describe_target_groups().names("web-green").send().await.expect("DescribeTargetGroups");
    let tg = &tgs.target_groups()[0];
    assert_eq!(tg.target_group_arn(), Some(tg_arn.as_str()));
    assert_eq!(tg.port(), Some(8080));
    assert_eq!(tg.protocol(), Some(&ProtocolEnum::Http));
    assert_eq!(tg.vpc_id(), Some("vpc-123"));
    assert_eq!(tg.health_check_path(), Some("/healthz"));
    let err = elb.describe_target_groups().names("nope").send().await.expect_err("unknown TG");
    assert_eq!(err.code(), Some("TargetGroupNotFound"));

    // The sandbox's own helpers see the same resources.
    let world = sb.running.sandbox.world();
    assert_eq!(world.elbv2.target_group_by_name("web-green").map(|t| t.arn.as_str()), Some(tg_arn.as_str()));
    assert_eq!(world.elbv2.load_balancer_by_name("web-prod").map(|l| l.arn.as_str()), Some(lb_arn.as_str()));
}

/// REFERENCE 3.5: a listener forwarding to blue and green target groups with weights; ModifyListener shifts them
/// and DescribeListeners / the sandbox helper report the new weights.
#[tokio::test]
async fn listener_weights_round_trip_and_shift() {
    let sb = common::TestSandbox::start().await;
    let elb = sb.elbv2();
    let lb = elb.create_load_balancer().name("web").subnets("s-1").send().await.expect("CreateLoadBalancer");
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().expect("arn").to_owned();
    let blue = create_tg(&elb, "web-blue").await;
    let green = create_tg(&elb, "web-green").await;

    let created = elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&[(&blue, 100), (&green, 0)]))
        .send()
        .await
        .expect("CreateListener");
    let listener_arn = created.listeners()[0].listener_arn().expect("arn").to_owned();
    assert!(listener_arn.contains(":listener/app/web/"), "{listener_arn}");

    elb.modify_listener()
        .listener_arn(&listener_arn)
        .default_actions(forward(&[(&blue, 90), (&green, 10)]))
        .send()
        .await
        .expect("ModifyListener");
    let described = elb.describe_listeners().load_balancer_arn(&lb_arn).send().await.expect("DescribeListeners");
    let action = &described.listeners()[0].default_actions()[0];
    let weights: Vec<(String, i32)> = action
        .forward_config()
        .expect("forward config")
        .target_groups()
        .iter()
        .map(|t| (t.target_group_arn().unwrap_or_default().to_owned(), t.weight().unwrap_or(-1)))
        .collect();
    assert_eq!(weights, vec![(blue.clone(), 90), (green.clone(), 10)]);
    assert_eq!(
        sb.running.sandbox.world().elbv2.listener_weights(&listener_arn),
        Some(vec![(blue.clone(), 90), (green.clone(), 10)])
    );

    // Target groups now report the load balancer; a second listener on port 80 is a duplicate.
    let tgs = elb.describe_target_groups().load_balancer_arn(&lb_arn).send().await.expect("by LB");
    assert_eq!(tgs.target_groups().len(), 2);
    assert_eq!(tgs.target_groups()[0].load_balancer_arns(), std::slice::from_ref(&lb_arn));
    let err = elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&[(&green, 1)]))
        .send()
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Some("DuplicateListener"));
    let err = elb.describe_listeners().listener_arns(format!("{listener_arn}x")).send().await.expect_err("unknown");
    assert_eq!(err.code(), Some("ListenerNotFound"));
}

/// REFERENCE 3.5: registered targets of a group in use by a listener are reported healthy.
#[tokio::test]
async fn registered_targets_report_health() {
    let sb = common::TestSandbox::start().await;
    let elb = sb.elbv2();
    let tg = create_tg(&elb, "api").await;
    elb.register_targets()
        .target_group_arn(&tg)
        .targets(TargetDescription::builder().id("10.0.0.5").build())
        .send()
        .await
        .expect("RegisterTargets");
    let health = elb.describe_target_health().target_group_arn(&tg).send().await.expect("DescribeTargetHealth");
    let row = &health.target_health_descriptions()[0];
    assert_eq!(row.target().and_then(|t| t.port()), Some(8080));
    assert_eq!(row.target_health().and_then(|h| h.state()), Some(&TargetHealthStateEnum::Unused));

    let lb = elb.create_load_balancer().name("api").subnets("s-1").send().await.expect("CreateLoadBalancer");
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().expect("arn").to_owned();
    elb.create_listener()
        .load_balancer_arn(&lb_arn)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&tg).build())
        .send()
        .await
        .expect("CreateListener");
    let health = elb.describe_target_health().target_group_arn(&tg).send().await.expect("DescribeTargetHealth");
    assert_eq!(
        health.target_health_descriptions()[0].target_health().and_then(|h| h.state()),
        Some(&TargetHealthStateEnum::Healthy)
    );
    elb.deregister_targets()
        .target_group_arn(&tg)
        .targets(TargetDescription::builder().id("10.0.0.5").build())
        .send()
        .await
        .expect("DeregisterTargets");
    let health = elb.describe_target_health().target_group_arn(&tg).send().await.expect("DescribeTargetHealth");
    assert!(health.target_health_descriptions().is_empty());
}

/// The private IPs of a service's live tasks, from DescribeTasks' ENI attachment (and each container's
/// `networkInterfaces`, which must agree).
async fn task_ips(ecs: &aws_sdk_ecs::Client, service: &str) -> Vec<String> {
    let arns = ecs.list_tasks().service_name(service).send().await.expect("ListTasks").task_arns().to_vec();
    if arns.is_empty() {
        return Vec::new();
    }
    let tasks = ecs.describe_tasks().set_tasks(Some(arns)).send().await.expect("DescribeTasks");
    let mut ips = Vec::new();
    for t in tasks.tasks().iter().filter(|t| t.desired_status() == Some("RUNNING")) {
        let eni = &t.attachments()[0];
        assert_eq!(eni.r#type(), Some("ElasticNetworkInterface"));
        let ip = eni.details().iter().find(|d| d.name() == Some("privateIPv4Address")).and_then(|d| d.value());
        let ip = ip.expect("privateIPv4Address").to_owned();
        assert_eq!(t.containers()[0].network_interfaces()[0].private_ipv4_address(), Some(ip.as_str()));
        ips.push(ip);
    }
    ips.sort();
    ips
}

async fn registered(elb: &aws_sdk_elasticloadbalancingv2::Client, tg: &str) -> Vec<(String, i32)> {
    let health = elb.describe_target_health().target_group_arn(tg).send().await.expect("DescribeTargetHealth");
    let mut out: Vec<(String, i32)> = health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .map(|t| (t.id().unwrap_or_default().to_owned(), t.port().unwrap_or_default()))
        .collect();
    out.sort();
    out
}

/// Issue 17: as on AWS, the ECS service registers its running tasks (private IP, container port) in the target
/// group of its `loadBalancers` and deregisters them when they stop; targets registered by hand stay.
#[tokio::test]
async fn service_tasks_are_registered_in_their_target_group_and_leave_it_when_they_stop() {
    use aws_sdk_ecs::types::{ContainerDefinition, LoadBalancer, PortMapping};
    let sb = common::TestSandbox::with_time_scale(60.0).await;
    let (elb, ecs) = (sb.elbv2(), sb.ecs());
    let tg = create_tg(&elb, "web-tg").await;
    elb.register_targets()
        .target_group_arn(&tg)
        .targets(TargetDescription::builder().id("10.9.9.9").port(9000).build())
        .send()
        .await
        .expect("RegisterTargets");
    let container = ContainerDefinition::builder()
        .name("web")
        .image("127.0.0.1:5000/web:1")
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .build();
    let td = ecs.register_task_definition().family("web").container_definitions(container).send().await;
    let td =
        td.expect("RegisterTaskDefinition").task_definition().and_then(|t| t.task_definition_arn()).unwrap().to_owned();
    ecs.create_service()
        .service_name("web")
        .task_definition(td)
        .desired_count(2)
        .load_balancers(
            LoadBalancer::builder().target_group_arn(&tg).container_name("web").container_port(8080).build(),
        )
        .send()
        .await
        .expect("CreateService");

    let manual = ("10.9.9.9".to_owned(), 9000);
    let wait = |want: usize| {
        let (elb, ecs, tg, manual) = (&elb, &ecs, &tg, &manual);
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let targets = registered(elb, tg).await;
                let ips = task_ips(ecs, "web").await;
                let from_ecs: Vec<(String, i32)> = targets.iter().filter(|t| *t != manual).cloned().collect();
                let expected: Vec<(String, i32)> = ips.iter().map(|ip| (ip.clone(), 8080)).collect();
                if from_ecs.len() == want && from_ecs == expected {
                    assert!(targets.contains(manual), "the hand-registered target stays: {targets:?}");
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "wanted {want} task targets; got {targets:?}, tasks {ips:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    wait(2).await;
    let health = elb.describe_target_health().target_group_arn(&tg).send().await.expect("DescribeTargetHealth");
    let states: Vec<_> =
        health.target_health_descriptions().iter().filter_map(|d| d.target_health()?.state()).collect();
    assert!(states.iter().all(|s| **s == TargetHealthStateEnum::Unused), "no listener yet: {states:?}");

    ecs.update_service().service("web").desired_count(1).send().await.expect("scale in");
    wait(1).await;
    ecs.update_service().service("web").desired_count(0).send().await.expect("scale to zero");
    wait(0).await;
}

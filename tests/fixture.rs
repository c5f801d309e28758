//! A deployable world in the sandbox: a cluster, a load-balanced service on an initial revision,
//! optionally a CodeDeploy application and deployment group, and the repo's config for it.

use aws_sdk_ecs::types::{
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController, DeploymentControllerType, LoadBalancer,
};

use crate::harness::{Repo, Sandbox};

pub const TASK_DEFINITION: &str = r#"{
  "family": "web",
  "containerDefinitions": [
    { "name": "web", "image": "placeholder", "essential": true, "portMappings": [ { "containerPort": 8080 } ] }
  ]
}"#;

pub struct Service {
    pub cluster: String,
    pub name: String,
    pub initial_td: String,
    #[allow(dead_code)] // kept for tests that inspect the load balancer
    pub target_groups: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Rolling,
    CodeDeploy,
}

impl Sandbox {
    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk)
    }
    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }
    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.sdk)
    }
    pub fn codedeploy(&self) -> aws_sdk_codedeploy::Client {
        aws_sdk_codedeploy::Client::new(&self.sdk)
    }

    /// The task definition the service runs now.
    pub fn running_td(&self, svc: &Service) -> String {
        let ecs = self.ecs();
        self.block_on(async {
            let out = ecs.describe_services().cluster(&svc.cluster).services(&svc.name).send().await.unwrap();
            out.services()[0].task_definition().unwrap().to_owned()
        })
    }

    /// The tags of a task definition revision, as `key=value` strings.
    pub fn td_tags(&self, arn: &str) -> Vec<String> {
        let ecs = self.ecs();
        self.block_on(async {
            let out = ecs
                .describe_task_definition()
                .task_definition(arn)
                .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
                .send()
                .await
                .unwrap();
            out.tags().iter().map(|t| format!("{}={}", t.key().unwrap_or(""), t.value().unwrap_or(""))).collect()
        })
    }

    /// The image of the first container of a task definition revision.
    pub fn td_image(&self, arn: &str) -> String {
        let ecs = self.ecs();
        self.block_on(async {
            let out = ecs.describe_task_definition().task_definition(arn).send().await.unwrap();
            out.task_definition().unwrap().container_definitions()[0].image().unwrap().to_owned()
        })
    }

    pub fn set_alarm(&self, name: &str, state: aws_sdk_cloudwatch::types::StateValue) {
        let cw = self.cloudwatch();
        self.block_on(async {
            cw.set_alarm_state()
                .alarm_name(name)
                .state_value(state)
                .state_reason("set by the test")
                .send()
                .await
                .unwrap()
        });
    }

    /// A plain alarm the test drives with SetAlarmState (no data, so no evaluation overrides it).
    pub fn create_alarm(&self, name: &str) {
        let cw = self.cloudwatch();
        self.block_on(async {
            cw.put_metric_alarm()
                .alarm_name(name)
                .namespace("Test")
                .metric_name("Errors")
                .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
                .period(60)
                .evaluation_periods(1)
                .threshold(1.0)
                .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
                .send()
                .await
                .unwrap()
        });
        self.set_alarm(name, aws_sdk_cloudwatch::types::StateValue::Ok);
    }

    /// Cluster `prod`, an ALB with two target groups, service `web` (2 tasks) on `web:1`.
    pub fn service(&self, controller: Controller) -> Service {
        self.service_in("prod", controller)
    }

    /// Service `web` in `cluster`; its task-definition family, load balancer, target groups and
    /// CodeDeploy application (`<cluster>-web`) and group (`web-<cluster>`) are named after the
    /// cluster, except in `prod` (plain `web`).
    pub fn service_in(&self, cluster: &str, controller: Controller) -> Service {
        let ecs = self.ecs();
        let elb = self.elbv2();
        let cd = self.codedeploy();
        let prefix = if cluster == "prod" { "web".to_owned() } else { format!("{cluster}-web") };
        let application = prefix.clone();
        let group = format!("web-{cluster}");
        self.block_on(async {
            ecs.create_cluster().cluster_name(cluster).send().await.unwrap();
            let lb = elb.create_load_balancer().name(&prefix).subnets("subnet-a").send().await.unwrap();
            let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
            let mut tgs = Vec::new();
            for name in [format!("{prefix}-blue"), format!("{prefix}-green")] {
                let tg = elb
                    .create_target_group()
                    .name(name)
                    .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                    .port(8080)
                    .vpc_id("vpc-1")
                    .send()
                    .await
                    .unwrap();
                tgs.push(tg.target_groups()[0].target_group_arn().unwrap().to_owned());
            }
            elb.create_listener()
                .load_balancer_arn(&lb_arn)
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(80)
                .default_actions(
                    aws_sdk_elasticloadbalancingv2::types::Action::builder()
                        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                        .target_group_arn(&tgs[0])
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let td = ecs
                .register_task_definition()
                .family(&prefix)
                .container_definitions(
                    aws_sdk_ecs::types::ContainerDefinition::builder()
                        .name("web")
                        .image("web:initial")
                        .essential(true)
                        .port_mappings(aws_sdk_ecs::types::PortMapping::builder().container_port(8080).build())
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let initial_td = td.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
            let kind = match controller {
                Controller::Rolling => DeploymentControllerType::Ecs,
                Controller::CodeDeploy => DeploymentControllerType::CodeDeploy,
            };
            let mut create = ecs
                .create_service()
                .cluster(cluster)
                .service_name("web")
                .task_definition(&initial_td)
                .desired_count(2)
                .deployment_controller(DeploymentController::builder().r#type(kind).build().unwrap())
                .load_balancers(
                    LoadBalancer::builder()
                        .target_group_arn(&tgs[0])
                        .container_name("web")
                        .container_port(8080)
                        .build(),
                );
            if controller == Controller::Rolling {
                create = create.deployment_configuration(
                    DeploymentConfiguration::builder()
                        .deployment_circuit_breaker(
                            DeploymentCircuitBreaker::builder().enable(true).rollback(true).build(),
                        )
                        .build(),
                );
            }
            create.send().await.unwrap();
            if controller == Controller::CodeDeploy {
                cd.create_application()
                    .application_name(&application)
                    .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Ecs)
                    .send()
                    .await
                    .unwrap();
                cd.create_deployment_group()
                    .application_name(&application)
                    .deployment_group_name(&group)
                    .service_role_arn("arn:aws:iam::000000000000:role/codedeploy")
                    .ecs_services(
                        aws_sdk_codedeploy::types::EcsService::builder()
                            .cluster_name(cluster)
                            .service_name("web")
                            .build(),
                    )
                    .deployment_style(
                        aws_sdk_codedeploy::types::DeploymentStyle::builder()
                            .deployment_type(aws_sdk_codedeploy::types::DeploymentType::BlueGreen)
                            .deployment_option(aws_sdk_codedeploy::types::DeploymentOption::WithTrafficControl)
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
            Service { cluster: cluster.into(), name: "web".into(), initial_td, target_groups: tgs }
        })
    }
}

/// A repo whose config deploys to the fixture service. `extra` is YAML appended under `prod:`.
pub fn repo_for(controller: Controller, extra: &str) -> Repo {
    let repo = Repo::tiny("web", "v1");
    repo.write("task-definition.json", TASK_DEFINITION);
    let strategy = match controller {
        Controller::Rolling => "rolling".to_owned(),
        Controller::CodeDeploy => "codedeploy\n    codedeploy:\n      application: web\n      deployment-group: web-prod\n      config: CodeDeployDefault.ECSCanary10Percent5Minutes".to_owned(),
    };
    repo.write(
        ".pipeline.yml",
        &format!(
            "version: 1\nimage:\n  repository: web\nenvironments:\n  prod:\n    cluster: prod\n    service: web\n    \
             task-definition: task-definition.json\n    container: web\n    timeout: 2m\n    strategy: {strategy}\n{extra}"
        ),
    );
    repo.commit("feat: deployable");
    repo
}

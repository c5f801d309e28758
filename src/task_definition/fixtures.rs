//! Test documents shared by the unit tests of this module: the aws-actions style file a user keeps in the repo,
//! and what `aws ecs describe-task-definition --include TAGS` prints for the revision registered from it.
//! Account ids, digests and ARNs are fake and fixed, so snapshots need no redaction.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Format, RenderInput, TaskDefinitionDoc, render};

pub const IMAGE: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The repository's task definition: defaults left out, a placeholder image.
pub fn file_json() -> Value {
    json!({
        "family": "web",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": "arn:aws:iam::111122223333:role/ecsTaskExecutionRole",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "placeholder",
                "portMappings": [{"containerPort": 8080}],
                "environment": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "FEATURE_X", "value": "off"}
                ],
                "secrets": [
                    {"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:eu-west-1:111122223333:parameter/web/db-password"}
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web"}
                },
                "healthCheck": {"command": ["CMD", "/hello", "-health"]}
            },
            {"name": "otel", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0", "essential": false}
        ]
    })
}

pub fn file_doc() -> TaskDefinitionDoc {
    TaskDefinitionDoc::parse(&file_json().to_string(), "task-definition.json", Format::Json).expect("fixture loads").doc
}

pub fn release_env() -> BTreeMap<String, String> {
    BTreeMap::from([("FEATURE_X".to_owned(), "on".to_owned()), ("RELEASE".to_owned(), "1.4.0".to_owned())])
}

pub fn release_secrets() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "API_TOKEN".to_owned(),
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:web/api-token-AbCdEf".to_owned(),
    )])
}

/// The file rendered for release 1.4.0.
pub fn rendered_doc() -> TaskDefinitionDoc {
    let (env, secrets) = (release_env(), release_secrets());
    render(&file_doc(), &RenderInput { container: "web", image: IMAGE, env: &env, secrets: &secrets })
        .expect("fixture renders")
}

/// DescribeTaskDefinition output for the revision registered from [`rendered_doc`]: read-only fields, defaults
/// filled, lists in AWS's order, nulls where the CLI prints them, tags next to the definition.
pub fn described_json() -> Value {
    json!({
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:7",
            "containerDefinitions": [
                {
                    "name": "web",
                    "image": IMAGE,
                    "cpu": 0,
                    "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                    "essential": true,
                    "environment": [
                        {"name": "RELEASE", "value": "1.4.0"},
                        {"name": "FEATURE_X", "value": "on"},
                        {"name": "LOG_LEVEL", "value": "info"}
                    ],
                    "mountPoints": [],
                    "volumesFrom": [],
                    "secrets": [
                        {"name": "API_TOKEN", "valueFrom": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:web/api-token-AbCdEf"},
                        {"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:eu-west-1:111122223333:parameter/web/db-password"}
                    ],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {"awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web"},
                        "secretOptions": []
                    },
                    "healthCheck": {"command": ["CMD", "/hello", "-health"], "interval": 30, "timeout": 5, "retries": 3},
                    "systemControls": []
                },
                {
                    "name": "otel",
                    "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
                    "cpu": 0,
                    "portMappings": [],
                    "essential": false,
                    "environment": [],
                    "mountPoints": [],
                    "volumesFrom": [],
                    "systemControls": []
                }
            ],
            "family": "web",
            "executionRoleArn": "arn:aws:iam::111122223333:role/ecsTaskExecutionRole",
            "networkMode": "awsvpc",
            "revision": 7,
            "volumes": [],
            "status": "ACTIVE",
            "requiresAttributes": [
                {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
                {"name": "ecs.capability.execution-role-awslogs"},
                {"name": "ecs.capability.secrets.ssm.environment-variables"}
            ],
            "placementConstraints": [],
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "taskRoleArn": null,
            "registeredAt": "2026-11-22T14:00:00.000000+00:00",
            "registeredBy": "arn:aws:sts::111122223333:assumed-role/deploy/pipeline"
        },
        "tags": [{"key": "pipeline:version", "value": "1.4.0"}]
    })
}

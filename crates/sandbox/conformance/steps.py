"""The conformance sequence: one realistic release, driven through botocore against the sandbox.

Every emulated operation must appear here at least once with a successful response (run.py fails otherwise), and
errors worth checking against the model appear as steps with `error=`. To cover a new operation, add a `call(...)`
in the right place of STEPS (see crates/sandbox/README.md, "Model conformance").

A step's params may hold `${name}` placeholders, filled from the values earlier steps saved (`save={name: expr}`,
a JMESPath expression over the parsed response), or be a function of those values.
"""

import base64
import datetime
import hashlib
import json
import urllib.request
from dataclasses import dataclass, field

import botocore.session

ACCOUNT = "000000000000"
# The sandbox's second account (SandboxOptions::accounts), reached through STS AssumeRole.
SECOND_ACCOUNT = "111111111111"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/conformance"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-a"], "securityGroups": ["sg-a"], "assignPublicIp": "DISABLED"}}
MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass
class Step:
    client: str
    operation: str
    params: object = field(default_factory=dict)
    error: str = None
    save: dict = field(default_factory=dict)
    # Poll (up to `timeout` seconds) until this is true of the parsed response.
    until: object = None
    timeout: float = 30.0


@dataclass
class Custom:
    """A step that is not an AWS call (a registry push); returns values to save."""

    name: str
    run: object


def call(client, operation, params=None, **kw):
    return Step(client, operation, params or {}, **kw)


def now(offset=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)


# ---- a registry push, so ECR's image operations and ECS's image pulls have a real image ------------------------


def push_image(values, endpoint):
    """Pushes one image (config + layer + manifest) to conformance/web:v1 over the Docker Registry v2 API."""
    user, password = base64.b64decode(values["ecr_token"]).decode().split(":", 1)
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def request(method, path, body=b"", content_type="application/octet-stream"):
        req = urllib.request.Request(endpoint + path, data=body, method=method)
        req.add_header("Authorization", auth)
        req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req) as response:
            return response.status

    blobs = {}
    for name, data in (("config", b'{"architecture":"amd64","os":"linux"}'), ("layer", b"conformance layer")):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        request("POST", f"/v2/conformance/web/blobs/uploads/?digest={digest}", data)
        blobs[name] = (digest, len(data))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": blobs["config"][0],
                "size": blobs["config"][1],
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": blobs["layer"][0],
                    "size": blobs["layer"][1],
                }
            ],
        }
    )
    request("PUT", "/v2/conformance/web/manifests/v1", manifest.encode(), MEDIA_MANIFEST)
    host = endpoint.split("://", 1)[1]
    return {"manifest": manifest, "image": f"{host}/conformance/web:v1"}


def container(env=()):
    return {
        "name": "web",
        "image": "${image}",
        "essential": True,
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in env],
    }


def task_definition(family, env=()):
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [container(env)],
        "tags": [{"key": "team", "value": "conformance"}],
    }


def appspec(task_definition_arn):
    return (
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
        f'        TaskDefinition: "{task_definition_arn}"\n        LoadBalancerInfo:\n'
        '          ContainerName: "web"\n          ContainerPort: 8080\n'
    )


def deployment(values):
    return {
        "applicationName": "conf",
        "deploymentGroupName": "conf-dg",
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(values["td2"])}},
        "description": "conformance release",
    }


def native_forward(blue_weight):
    """A forward action splitting between the two ECS-native target groups."""
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": "${tg_na}", "Weight": blue_weight},
                {"TargetGroupArn": "${tg_nb}", "Weight": 100 - blue_weight},
            ]
        },
    }


def awaiting_hook(response):
    hooks = response["serviceDeployments"][0].get("lifecycleHookDetails", [])
    return any(h["status"] == "AWAITING_ACTION" for h in hooks)


def service_settled(response):
    s = response["services"][0]
    return len(s["deployments"]) == 1 and s["deployments"][0].get("rolloutState") == "COMPLETED"


def deployment_status(*wanted):
    return lambda r: r["deploymentInfo"]["status"] in wanted


def metric_query(metric_id, name):
    return {
        "Id": metric_id,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {"Namespace": "Conformance", "MetricName": name, "Dimensions": [{"Name": "Service", "Value": "web"}]},
            "Period": 60,
            "Stat": "Sum",
        },
    }


def cloudwatch_steps(client):
    """CloudWatch's operations, run once per protocol the sandbox serves it over."""
    return [
        call(
            client,
            "PutMetricData",
            lambda v: {
                "Namespace": "Conformance",
                "MetricData": [
                    {
                        "MetricName": "Requests",
                        "Dimensions": [{"Name": "Service", "Value": "web"}],
                        "Timestamp": now(),
                        "Value": 20.0,
                        "Unit": "Count",
                    },
                    {
                        "MetricName": "Errors",
                        "Dimensions": [{"Name": "Service", "Value": "web"}],
                        "Timestamp": now(),
                        "Values": [1.0, 2.0],
                        "Counts": [1.0, 1.0],
                        "Unit": "Count",
                    },
                ],
            },
        ),
        call(
            client,
            "PutMetricAlarm",
            {
                "AlarmName": "conf-errors",
                "AlarmDescription": "errors of web",
                "Namespace": "Conformance",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "Service", "Value": "web"}],
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "Threshold": 10.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "Tags": [{"Key": "team", "Value": "conformance"}],
            },
        ),
        # REFERENCE 4.3: metric math; MAX over an array is one of the functions AWS documents for alarms.
        call(
            client,
            "PutMetricAlarm",
            {
                "AlarmName": "conf-error-rate",
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "Threshold": 5.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "Metrics": [
                    {
                        "Id": "e1",
                        "Expression": "100 * FILL(err, 0) / MAX([FILL(req, 0), 1])",
                        "Label": "error %",
                        "ReturnData": True,
                    },
                    metric_query("err", "Errors"),
                    metric_query("req", "Requests"),
                ],
            },
        ),
        call(client, "DescribeAlarms", {"AlarmNames": ["conf-errors", "conf-error-rate"]}),
        call(client, "DescribeAlarms", {"AlarmNamePrefix": "conf-", "StateValue": "INSUFFICIENT_DATA"}),
        call(
            client,
            "SetAlarmState",
            {"AlarmName": "conf-errors", "StateValue": "ALARM", "StateReason": "conformance", "StateReasonData": "{}"},
        ),
        call(
            client,
            "SetAlarmState",
            {"AlarmName": "conf-missing", "StateValue": "OK", "StateReason": "conformance"},
            error="ResourceNotFound",
        ),
        # REFERENCE A2: the state change above is in the alarm's history (StateUpdate, HistoryData as JSON text).
        call(
            client,
            "DescribeAlarmHistory",
            lambda v: {
                "AlarmName": "conf-errors",
                "HistoryItemType": "StateUpdate",
                "StartDate": now(-600),
                "EndDate": now(60),
                "ScanBy": "TimestampAscending",
                "MaxRecords": 10,
            },
        ),
        call(
            client,
            "GetMetricStatistics",
            lambda v: {
                "Namespace": "Conformance",
                "MetricName": "Requests",
                "Dimensions": [{"Name": "Service", "Value": "web"}],
                "StartTime": now(-600),
                "EndTime": now(60),
                "Period": 60,
                "Statistics": ["Sum", "Average", "SampleCount", "Minimum", "Maximum"],
                "Unit": "Count",
            },
        ),
        call(
            client,
            "GetMetricStatistics",
            lambda v: {
                "Namespace": "Conformance",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "Service", "Value": "web"}],
                "StartTime": now(-600),
                "EndTime": now(60),
                "Period": 60,
                "ExtendedStatistics": ["p99"],
            },
        ),
        call(
            client,
            "GetMetricData",
            lambda v: {
                "MetricDataQueries": [
                    metric_query("err", "Errors"),
                    metric_query("req", "Requests"),
                    {"Id": "rate", "Expression": "100 * err / MAX([err, req])", "Label": "rate", "ReturnData": True},
                ],
                "StartTime": now(-600),
                "EndTime": now(60),
                "ScanBy": "TimestampDescending",
            },
        ),
        call(client, "ListMetrics", {"Namespace": "Conformance"}),
        call(client, "ListMetrics", {"Namespace": "Conformance", "MetricName": "Errors", "RecentlyActive": "PT3H"}),
        call(client, "DeleteAlarms", {"AlarmNames": ["conf-errors", "conf-error-rate"]}),
    ]



# ---- EventBridge Scheduler ------------------------------------------------------------------------------------


def schedule(name, expression, **extra):
    """CreateSchedule/UpdateSchedule input: an ECS RunTask target on cluster conf with TaskOverride JSON as Input."""
    params = {
        "Name": name,
        "GroupName": "conf-jobs",
        "ScheduleExpression": expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/conf",
            "RoleArn": ROLE.replace("conformance", "scheduler"),
            "Input": json.dumps({"containerOverrides": [{"name": "web", "environment": [{"name": "STEP", "value": name}]}]}),
            "EcsParameters": {
                "TaskDefinitionArn": "${job}",
                "LaunchType": "FARGATE",
                "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-a"], "AssignPublicIp": "DISABLED"}},
            },
        },
    }
    params.update(extra)
    return params


def sandbox_clock(values, endpoint):
    """The sandbox's scaled clock (GET /_sandbox/health), two minutes ahead, as an at() time in UTC."""
    with urllib.request.urlopen(endpoint + "/_sandbox/health") as response:
        clock = json.loads(response.read())["clock"]
    soon = datetime.datetime.fromtimestamp(clock + 120, datetime.timezone.utc)
    return {"in_two_minutes": soon.strftime("%Y-%m-%dT%H:%M:%S")}

def in_assumed_role(values, endpoint):
    """Requests signed with AssumeRole's temporary credentials act in the role's account (REFERENCE A3; AWS:
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): GetCallerIdentity names the assumed
    role, and a repository created there belongs to that account's registry."""
    session = botocore.session.get_session()
    signed = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=values["role_key"],
        aws_secret_access_key=values["role_secret"],
        aws_session_token=values["role_token"],
    )
    who = session.create_client("sts", **signed).get_caller_identity()
    want = f"arn:aws:sts::{SECOND_ACCOUNT}:assumed-role/conformance/conformance-1.0.0"
    assert who["Account"] == SECOND_ACCOUNT and who["Arn"] == want, who
    repo = session.create_client("ecr", **signed).create_repository(repositoryName="conformance/promoted")
    assert repo["repository"]["registryId"] == SECOND_ACCOUNT, repo
    assert repo["repository"]["repositoryArn"].endswith(f":{SECOND_ACCOUNT}:repository/conformance/promoted"), repo
    return {}


STEPS = [
    # ---- STS (REFERENCE A3) ----
    call("sts", "GetCallerIdentity"),
    call(
        "sts",
        "AssumeRole",
        {
            "RoleArn": f"arn:aws:iam::{SECOND_ACCOUNT}:role/conformance",
            "RoleSessionName": "conformance-1.0.0",
            "DurationSeconds": 900,
        },
        save={
            "role_key": "Credentials.AccessKeyId",
            "role_secret": "Credentials.SecretAccessKey",
            "role_token": "Credentials.SessionToken",
        },
    ),
    Custom("act in the assumed role's account", in_assumed_role),
    # The home account does not see the other account's repository.
    call("ecr", "DescribeRepositories", {"repositoryNames": ["conformance/promoted"]}, error="RepositoryNotFoundException"),
    # A role in an account the sandbox does not hold: AWS answers AccessDenied (HTTP 403).
    call(
        "sts",
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::999999999999:role/nobody", "RoleSessionName": "conformance"},
        error="AccessDenied",
    ),
    call(
        "sts",
        "AssumeRole",
        {"RoleArn": f"arn:aws:iam::{SECOND_ACCOUNT}:role/conformance", "RoleSessionName": "has space"},
        error="ValidationError",
    ),
    # ---- ECR (REFERENCE 1) ----
    call(
        "ecr",
        "CreateRepository",
        {
            "repositoryName": "conformance/web",
            "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
            "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}],
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfiguration": {"encryptionType": "AES256"},
            "tags": [{"Key": "team", "Value": "conformance"}],
        },
        save={"repo_arn": "repository.repositoryArn"},
    ),
    call("ecr", "CreateRepository", {"repositoryName": "conformance/web"}, error="RepositoryAlreadyExistsException"),
    call("ecr", "DescribeRepositories", {"repositoryNames": ["conformance/web"]}),
    call("ecr", "DescribeRepositories", {"repositoryNames": ["missing"]}, error="RepositoryNotFoundException"),
    call("ecr", "PutImageTagMutability", {"repositoryName": "conformance/web", "imageTagMutability": "MUTABLE"}),
    call("ecr", "ListTagsForResource", {"resourceArn": "${repo_arn}"}),
    call("ecr", "GetAuthorizationToken", save={"ecr_token": "authorizationData[0].authorizationToken"}),
    Custom("push conformance/web:v1", push_image),
    call("ecr", "DescribeImages", {"repositoryName": "conformance/web"}),
    call("ecr", "ListImages", {"repositoryName": "conformance/web", "filter": {"tagStatus": "TAGGED"}}),
    call(
        "ecr",
        "BatchGetImage",
        {
            "repositoryName": "conformance/web",
            "imageIds": [{"imageTag": "v1"}, {"imageTag": "nope"}],
            "acceptedMediaTypes": [MEDIA_MANIFEST],
        },
    ),
    call(
        "ecr",
        "PutImage",
        {
            "repositoryName": "conformance/web",
            "imageManifest": "${manifest}",
            "imageManifestMediaType": MEDIA_MANIFEST,
            "imageTag": "release",
        },
    ),
    call(
        "ecr",
        "PutImage",
        {"repositoryName": "conformance/web", "imageManifest": "${manifest}", "imageTag": "release"},
        error="ImageAlreadyExistsException",
    ),
    call(
        "ecr",
        "PutLifecyclePolicy",
        {
            "repositoryName": "conformance/web",
            "lifecyclePolicyText": json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "keep 10",
                            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
        },
    ),
    call("ecr", "GetLifecyclePolicy", {"repositoryName": "conformance/web"}),
    call("ecr", "DeleteLifecyclePolicy", {"repositoryName": "conformance/web"}),
    call("ecr", "GetLifecyclePolicy", {"repositoryName": "conformance/web"}, error="LifecyclePolicyNotFoundException"),
    call("ecr", "BatchDeleteImage", {"repositoryName": "conformance/web", "imageIds": [{"imageTag": "release"}]}),
    # ---- CloudWatch (REFERENCE 4), over both protocols; `conf-guard` guards the releases below ----
    *cloudwatch_steps("cloudwatch-cbor"),
    *cloudwatch_steps("cloudwatch-json"),
    call(
        "cloudwatch-cbor",
        "PutMetricAlarm",
        {
            "AlarmName": "conf-guard",
            "Namespace": "AWS/ApplicationELB",
            "MetricName": "HTTPCode_Target_5XX_Count",
            "Dimensions": [{"Name": "LoadBalancer", "Value": "app/conf/1"}],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 10.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    ),
    # ---- ELBv2 ----
    call(
        "elbv2",
        "CreateLoadBalancer",
        {"Name": "conf", "Subnets": ["subnet-a", "subnet-b"], "SecurityGroups": ["sg-a"], "Type": "application"},
        save={"lb": "LoadBalancers[0].LoadBalancerArn"},
    ),
    call("elbv2", "DescribeLoadBalancers", {"Names": ["conf"]}),
    call("elbv2", "DescribeLoadBalancers", {"Names": ["missing"]}, error="LoadBalancerNotFound"),
    *[
        call(
            "elbv2",
            "CreateTargetGroup",
            {
                "Name": name,
                "Protocol": "HTTP",
                "Port": 8080,
                "VpcId": "vpc-a",
                "TargetType": "ip",
                "HealthCheckPath": "/health",
            },
            save={key: "TargetGroups[0].TargetGroupArn"},
        )
        for name, key in (("conf-blue", "tg_blue"), ("conf-green", "tg_green"), ("conf-rolling", "tg_rolling"))
    ],
    call("elbv2", "CreateTargetGroup", {"Name": "conf-spare", "TargetType": "lambda"}, save={"tg_spare": "TargetGroups[0].TargetGroupArn"}),
    call("elbv2", "DescribeTargetGroups", {"Names": ["conf-blue", "conf-green"]}),
    call("elbv2", "DescribeTargetGroups", {"Names": ["missing"]}, error="TargetGroupNotFound"),
    *[
        call(
            "elbv2",
            "CreateListener",
            {
                "LoadBalancerArn": "${lb}",
                "Protocol": "HTTP",
                "Port": port,
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": "${%s}" % group}],
            },
            save={key: "Listeners[0].ListenerArn"},
        )
        for port, group, key in ((80, "tg_blue", "prod"), (8080, "tg_green", "test"), (81, "tg_rolling", "rolling"))
    ],
    call("elbv2", "DescribeListeners", {"LoadBalancerArn": "${lb}"}),
    call(
        "elbv2",
        "ModifyListener",
        {
            "ListenerArn": "${test}",
            "DefaultActions": [
                {
                    "Type": "forward",
                    "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "${tg_green}", "Weight": 1}]},
                }
            ],
        },
    ),
    call("elbv2", "RegisterTargets", {"TargetGroupArn": "${tg_spare}", "Targets": [{"Id": "arn:aws:lambda:us-east-1:000000000000:function:f"}]}),
    call("elbv2", "DescribeTargetHealth", {"TargetGroupArn": "${tg_spare}"}),
    call("elbv2", "DeregisterTargets", {"TargetGroupArn": "${tg_spare}", "Targets": [{"Id": "arn:aws:lambda:us-east-1:000000000000:function:f"}]}),
    call("elbv2", "DeleteTargetGroup", {"TargetGroupArn": "${tg_blue}"}, error="ResourceInUse"),
    call("elbv2", "DeleteTargetGroup", {"TargetGroupArn": "${tg_spare}"}),
    # ---- ECS (REFERENCE 2) ----
    call("ecs", "CreateCluster", {"clusterName": "conf", "tags": [{"key": "team", "value": "conformance"}]}),
    call("ecs", "CreateCluster", {"clusterName": "conf-empty"}),
    call("ecs", "DescribeClusters", {"clusters": ["conf", "missing"], "include": ["TAGS"]}),
    call("ecs", "ListClusters"),
    call("ecs", "RegisterTaskDefinition", task_definition("conf-web"), save={"td1": "taskDefinition.taskDefinitionArn"}),
    call(
        "ecs",
        "RegisterTaskDefinition",
        task_definition("conf-web", [("VERSION", "2")]),
        save={"td2": "taskDefinition.taskDefinitionArn"},
    ),
    call(
        "ecs",
        "RegisterTaskDefinition",
        task_definition("conf-job", [("SANDBOX_EXIT_CODE", "0")]),
        save={"job": "taskDefinition.taskDefinitionArn"},
    ),
    call("ecs", "DescribeTaskDefinition", {"taskDefinition": "conf-web:1", "include": ["TAGS"]}),
    call("ecs", "DescribeTaskDefinition", {"taskDefinition": "conf-nope:1"}, error="ClientException"),
    call("ecs", "ListTaskDefinitions", {"familyPrefix": "conf-web", "sort": "DESC"}),
    call("ecs", "ListTaskDefinitionFamilies", {"familyPrefix": "conf"}),
    call("ecs", "TagResource", {"resourceArn": "${td1}", "tags": [{"key": "stage", "value": "test"}]}),
    call("ecs", "UntagResource", {"resourceArn": "${td1}", "tagKeys": ["stage"]}),
    call("ecs", "ListTagsForResource", {"resourceArn": "${td1}"}),
    # A rolling service with the circuit breaker and deployment alarms.
    call(
        "ecs",
        "CreateService",
        {
            "cluster": "conf",
            "serviceName": "rolling",
            "taskDefinition": "${td1}",
            "desiredCount": 2,
            "launchType": "FARGATE",
            "networkConfiguration": NETWORK,
            "loadBalancers": [{"targetGroupArn": "${tg_rolling}", "containerName": "web", "containerPort": 8080}],
            "deploymentConfiguration": {
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "alarms": {"alarmNames": ["conf-guard"], "enable": True, "rollback": True},
            },
            "tags": [{"key": "team", "value": "conformance"}],
        },
    ),
    call("ecs", "DescribeServices", {"cluster": "conf", "services": ["rolling"]}, until=service_settled),
    call(
        "elbv2",
        "DescribeTargetHealth",
        {"TargetGroupArn": "${tg_rolling}"},
        until=lambda r: len(r["TargetHealthDescriptions"]) == 2,
    ),
    call("ecs", "UpdateService", {"cluster": "conf", "service": "rolling", "taskDefinition": "${td2}"}),
    call("ecs", "DescribeServices", {"cluster": "conf", "services": ["rolling"]}, until=service_settled),
    call(
        "ecs",
        "ListServiceDeployments",
        {"cluster": "conf", "service": "rolling"},
        save={"sd_latest": "serviceDeployments[0].serviceDeploymentArn"},
    ),
    call("ecs", "DescribeServiceDeployments", {"serviceDeploymentArns": ["${sd_latest}"]}),
    call("ecs", "UpdateService", {"cluster": "conf", "service": "rolling", "taskDefinition": "${td1}"}),
    call(
        "ecs",
        "ListServiceDeployments",
        {"cluster": "conf", "service": "rolling", "status": ["IN_PROGRESS"]},
        save={"sd_running": "serviceDeployments[0].serviceDeploymentArn"},
    ),
    call("ecs", "DescribeServiceDeployments", {"serviceDeploymentArns": ["${sd_running}"]}),
    call("ecs", "StopServiceDeployment", {"serviceDeploymentArn": "${sd_running}", "stopType": "ROLLBACK"}),
    call("ecs", "StopServiceDeployment", {"serviceDeploymentArn": "${sd_latest}"}, error="ConflictException"),
    call("ecs", "DescribeServices", {"cluster": "conf", "services": ["rolling"]}, until=service_settled),
    call("ecs", "DescribeServiceDeployments", {"serviceDeploymentArns": ["${sd_running}"]}),
    call("ecs", "ListServices", {"cluster": "conf"}),
    call("ecs", "DescribeServices", {"cluster": "missing", "services": ["rolling"]}, error="ClusterNotFoundException"),
    call("ecs", "UpdateService", {"cluster": "conf", "service": "missing", "desiredCount": 1}, error="ServiceNotFoundException"),
    # ECS-native blue/green (REFERENCE 2.6, 2.7, A7): listener rules on two listeners of their own, a PAUSE hook at
    # POST_TEST_TRAFFIC_SHIFT released by ContinueServiceDeployment, then a second deployment stopped with rollback.
    *[
        call(
            "elbv2",
            "CreateTargetGroup",
            {"Name": name, "Protocol": "HTTP", "Port": 8080, "VpcId": "vpc-a", "TargetType": "ip"},
            save={key: "TargetGroups[0].TargetGroupArn"},
        )
        for name, key in (("conf-native-a", "tg_na"), ("conf-native-b", "tg_nb"))
    ],
    *[
        call(
            "elbv2",
            "CreateListener",
            {"LoadBalancerArn": "${lb}", "Protocol": "HTTP", "Port": port, "DefaultActions": [{"Type": "fixed-response"}]},
            save={key: "Listeners[0].ListenerArn"},
        )
        for port, key in ((82, "native_prod"), (83, "native_test"))
    ],
    *[
        call(
            "elbv2",
            "CreateRule",
            {
                "ListenerArn": "${%s}" % listener,
                "Priority": 1,
                "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
                "Actions": [native_forward(100)],
            },
            save={key: "Rules[0].RuleArn"},
        )
        for listener, key in (("native_prod", "rule_prod"), ("native_test", "rule_test"))
    ],
    call(
        "elbv2",
        "CreateRule",
        {
            "ListenerArn": "${native_prod}",
            "Priority": 1,
            "Conditions": [{"Field": "path-pattern", "Values": ["/x"]}],
            "Actions": [native_forward(50)],
        },
        error="PriorityInUse",
    ),
    call(
        "elbv2",
        "CreateRule",
        {
            "ListenerArn": "${native_prod}",
            "Priority": 2,
            "Conditions": [{"Field": "host-header", "HostHeaderConfig": {"Values": ["spare.example.com"]}}],
            "Actions": [native_forward(50)],
        },
        save={"rule_spare": "Rules[0].RuleArn"},
    ),
    call("elbv2", "ModifyRule", {"RuleArn": "${rule_spare}", "Actions": [native_forward(40)]}),
    call("elbv2", "DescribeRules", {"ListenerArn": "${native_prod}"}),
    call("elbv2", "DeleteRule", {"RuleArn": "${rule_spare}"}),
    call("elbv2", "DescribeRules", {"RuleArns": ["${rule_spare}"]}, error="RuleNotFound"),
    call(
        "ecs",
        "CreateService",
        {
            "cluster": "conf",
            "serviceName": "native",
            "taskDefinition": "${td1}",
            "desiredCount": 1,
            "launchType": "FARGATE",
            "networkConfiguration": NETWORK,
            "loadBalancers": [
                {
                    "targetGroupArn": "${tg_na}",
                    "containerName": "web",
                    "containerPort": 8080,
                    "advancedConfiguration": {
                        "alternateTargetGroupArn": "${tg_nb}",
                        "productionListenerRule": "${rule_prod}",
                        "testListenerRule": "${rule_test}",
                        "roleArn": ROLE,
                    },
                }
            ],
            "deploymentConfiguration": {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 0,
                "lifecycleHooks": [
                    {
                        "targetType": "PAUSE",
                        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                        "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"},
                    },
                    {
                        "targetType": "AWS_LAMBDA",
                        "hookTargetArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:conf-hook",
                        "roleArn": ROLE,
                        "lifecycleStages": ["POST_SCALE_UP"],
                        "hookDetails": {"purpose": "conformance"},
                    },
                ],
            },
        },
    ),
    call(
        "ecs",
        "UpdateService",
        {
            "cluster": "conf",
            "service": "native",
            "deploymentConfiguration": {"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}]},
        },
        error="InvalidParameterException",
    ),
    call("ecs", "DescribeServices", {"cluster": "conf", "services": ["native"]}, until=service_settled),
    call(
        "ecs",
        "UpdateService",
        {"cluster": "conf", "service": "native", "taskDefinition": "${td2}"},
        save={"sd_native": "service.currentServiceDeployment"},
    ),
    call(
        "ecs",
        "DescribeServiceDeployments",
        {"serviceDeploymentArns": ["${sd_native}"]},
        until=awaiting_hook,
        save={"hook": "serviceDeployments[0].lifecycleHookDetails[?status=='AWAITING_ACTION'] | [0].hookId"},
    ),
    call("elbv2", "DescribeRules", {"RuleArns": ["${rule_prod}", "${rule_test}"]}),
    call(
        "ecs",
        "ContinueServiceDeployment",
        {"serviceDeploymentArn": "${sd_native}", "hookId": "ecs-pause-nope"},
        error="InvalidParameterException",
    ),
    call("ecs", "ContinueServiceDeployment", {"serviceDeploymentArn": "${sd_native}", "hookId": "${hook}", "action": "CONTINUE"}),
    call(
        "ecs",
        "DescribeServiceDeployments",
        {"serviceDeploymentArns": ["${sd_native}"]},
        until=lambda r: r["serviceDeployments"][0]["status"] == "SUCCESSFUL",
    ),
    call(
        "ecs",
        "UpdateService",
        {"cluster": "conf", "service": "native", "taskDefinition": "${td1}"},
        save={"sd_native2": "service.currentServiceDeployment"},
    ),
    call("ecs", "DescribeServiceDeployments", {"serviceDeploymentArns": ["${sd_native2}"]}, until=awaiting_hook),
    call("ecs", "StopServiceDeployment", {"serviceDeploymentArn": "${sd_native2}", "stopType": "ROLLBACK"}),
    call(
        "ecs",
        "DescribeServiceDeployments",
        {"serviceDeploymentArns": ["${sd_native2}"]},
        until=lambda r: r["serviceDeployments"][0]["status"] == "ROLLBACK_SUCCESSFUL",
    ),
    call(
        "ecs",
        "ContinueServiceDeployment",
        {"serviceDeploymentArn": "${sd_native2}", "hookId": "${hook}"},
        error="ClientException",
    ),
    call("ecs", "DeleteService", {"cluster": "conf", "service": "native", "force": True}),
    # A one-off task (REFERENCE 2.8).
    call(
        "ecs",
        "RunTask",
        {
            "cluster": "conf",
            "taskDefinition": "${job}",
            "launchType": "FARGATE",
            "networkConfiguration": NETWORK,
            "startedBy": "conformance",
            "overrides": {"containerOverrides": [{"name": "web", "environment": [{"name": "STEP", "value": "migrate"}]}]},
        },
        save={"task": "tasks[0].taskArn"},
    ),
    call("ecs", "ListTasks", {"cluster": "conf", "startedBy": "conformance"}),
    call("ecs", "DescribeTasks", {"cluster": "conf", "tasks": ["${task}"]}, until=lambda r: r["tasks"][0]["lastStatus"] == "STOPPED"),
    call(
        "ecs",
        "RunTask",
        {"cluster": "conf", "taskDefinition": "${td1}", "launchType": "FARGATE", "networkConfiguration": NETWORK},
        save={"task2": "tasks[0].taskArn"},
    ),
    call("ecs", "StopTask", {"cluster": "conf", "task": "${task2}", "reason": "conformance"}),
    call("ecs", "DescribeTasks", {"cluster": "conf", "tasks": ["${task2}", "missing"]}),
    # ---- EventBridge Scheduler (REFERENCE A1): scheduled jobs with ECS RunTask targets ----
    call("scheduler", "CreateScheduleGroup", {"Name": "conf-jobs"}),
    call("scheduler", "CreateScheduleGroup", {"Name": "conf-jobs"}, error="ConflictException"),
    call("scheduler", "GetScheduleGroup", {"Name": "conf-jobs"}),
    call("scheduler", "GetScheduleGroup", {"Name": "conf-nope"}, error="ResourceNotFoundException"),
    call("scheduler", "ListScheduleGroups", {"NamePrefix": "conf"}),
    call("scheduler", "CreateSchedule", schedule("nightly", "cron(0 3 * * ? *)", ScheduleExpressionTimezone="Europe/Oslo")),
    call("scheduler", "CreateSchedule", schedule("nightly", "cron(0 3 * * ? *)"), error="ConflictException"),
    call("scheduler", "CreateSchedule", schedule("bad", "cron(0 3 * * *)"), error="ValidationException"),
    call("scheduler", "CreateSchedule", schedule("lost", "rate(1 day)", GroupName="conf-nope"), error="ResourceNotFoundException"),
    call("scheduler", "GetSchedule", {"Name": "nightly", "GroupName": "conf-jobs"}),
    call("scheduler", "UpdateSchedule", schedule("nightly", "rate(1 hour)", State="DISABLED")),
    call("scheduler", "UpdateSchedule", schedule("missing", "rate(1 hour)"), error="ResourceNotFoundException"),
    call("scheduler", "ListSchedules", {"GroupName": "conf-jobs", "NamePrefix": "night"}),
    call("scheduler", "ListSchedules", {"GroupName": "conf-nope"}, error="ResourceNotFoundException"),
    # A one-time run two (scaled) minutes from now that deletes itself once it started its task.
    Custom("sandbox clock", sandbox_clock),
    call(
        "scheduler",
        "CreateSchedule",
        lambda v: schedule("soon", f"at({v['in_two_minutes']})", ActionAfterCompletion="DELETE"),
    ),
    call(
        "scheduler",
        "ListSchedules",
        {"GroupName": "conf-jobs"},
        until=lambda r: "soon" not in [s["Name"] for s in r["Schedules"]],
    ),
    call("scheduler", "DeleteSchedule", {"Name": "nightly", "GroupName": "conf-jobs"}),
    call("scheduler", "DeleteSchedule", {"Name": "nightly", "GroupName": "conf-jobs"}, error="ResourceNotFoundException"),
    call("scheduler", "GetSchedule", {"Name": "nightly", "GroupName": "conf-jobs"}, error="ResourceNotFoundException"),
    call("scheduler", "DeleteScheduleGroup", {"Name": "conf-jobs"}),
    # ---- CodeDeploy blue/green (REFERENCE 3) ----
    call(
        "ecs",
        "CreateService",
        {
            "cluster": "conf",
            "serviceName": "bluegreen",
            "taskDefinition": "${td1}",
            "desiredCount": 2,
            "launchType": "FARGATE",
            "networkConfiguration": NETWORK,
            "deploymentController": {"type": "CODE_DEPLOY"},
            "loadBalancers": [{"targetGroupArn": "${tg_blue}", "containerName": "web", "containerPort": 8080}],
        },
    ),
    call("codedeploy", "CreateApplication", {"applicationName": "conf", "computePlatform": "ECS"}),
    call("codedeploy", "CreateApplication", {"applicationName": "conf", "computePlatform": "ECS"}, error="ApplicationAlreadyExistsException"),
    call("codedeploy", "GetApplication", {"applicationName": "conf"}),
    call("codedeploy", "ListApplications"),
    call(
        "codedeploy",
        "CreateDeploymentConfig",
        {
            "deploymentConfigName": "conf-canary",
            "computePlatform": "ECS",
            "trafficRoutingConfig": {
                "type": "TimeBasedCanary",
                "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 1},
            },
        },
    ),
    call("codedeploy", "GetDeploymentConfig", {"deploymentConfigName": "conf-canary"}),
    call("codedeploy", "GetDeploymentConfig", {"deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce"}),
    call("codedeploy", "ListDeploymentConfigs"),
    call(
        "codedeploy",
        "CreateDeploymentGroup",
        {
            "applicationName": "conf",
            "deploymentGroupName": "conf-dg",
            "serviceRoleArn": ROLE,
            "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
            "ecsServices": [{"clusterName": "conf", "serviceName": "bluegreen"}],
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "loadBalancerInfo": {
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": "conf-blue"}, {"name": "conf-green"}],
                        "prodTrafficRoute": {"listenerArns": ["${prod}"]},
                        "testTrafficRoute": {"listenerArns": ["${test}"]},
                    }
                ]
            },
            "blueGreenDeploymentConfiguration": {
                "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 1},
            },
            "alarmConfiguration": {"enabled": True, "alarms": [{"name": "conf-guard"}]},
            "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
        },
    ),
    call("codedeploy", "GetDeploymentGroup", {"applicationName": "conf", "deploymentGroupName": "conf-dg"}),
    call("codedeploy", "ListDeploymentGroups", {"applicationName": "conf"}),
    call(
        "codedeploy",
        "UpdateDeploymentGroup",
        {"applicationName": "conf", "currentDeploymentGroupName": "conf-dg", "deploymentConfigName": "conf-canary"},
    ),
    call(
        "codedeploy",
        "UpdateDeploymentGroup",
        {"applicationName": "conf", "currentDeploymentGroupName": "conf-dg", "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce"},
    ),
    call("codedeploy", "CreateDeployment", deployment, save={"dep": "deploymentId"}),
    call("codedeploy", "CreateDeployment", deployment, error="DeploymentLimitExceededException"),
    call("codedeploy", "GetDeployment", {"deploymentId": "${dep}"}, until=deployment_status("Ready")),
    call("codedeploy", "ListDeploymentTargets", {"deploymentId": "${dep}"}),
    call("codedeploy", "GetDeploymentTarget", {"deploymentId": "${dep}", "targetId": "conf:bluegreen"}),
    call("codedeploy", "BatchGetDeploymentTargets", {"deploymentId": "${dep}", "targetIds": ["conf:bluegreen"]}),
    call("ecs", "DescribeTaskSets", {"cluster": "conf", "service": "bluegreen"}),
    # The replacement task set's tasks are registered in the green target group (issue 17).
    call(
        "elbv2",
        "DescribeTargetHealth",
        {"TargetGroupArn": "${tg_green}"},
        until=lambda r: len(r["TargetHealthDescriptions"]) == 2,
    ),
    call("codedeploy", "ContinueDeployment", {"deploymentId": "${dep}", "deploymentWaitType": "READY_WAIT"}),
    call("codedeploy", "GetDeployment", {"deploymentId": "${dep}"}, until=deployment_status("Succeeded")),
    call("codedeploy", "CreateDeployment", deployment, save={"dep2": "deploymentId"}),
    call("codedeploy", "StopDeployment", {"deploymentId": "${dep2}", "autoRollbackEnabled": True}),
    call("codedeploy", "StopDeployment", {"deploymentId": "${dep2}"}, error="DeploymentAlreadyCompletedException"),
    call("codedeploy", "ListDeployments", {"applicationName": "conf", "deploymentGroupName": "conf-dg"}),
    call("codedeploy", "BatchGetDeployments", {"deploymentIds": ["${dep}", "${dep2}"]}),
    call("codedeploy", "GetDeployment", {"deploymentId": "d-AAAAAAAAA"}, error="DeploymentDoesNotExistException"),
    # ---- clean-up ----
    call("codedeploy", "DeleteDeploymentGroup", {"applicationName": "conf", "deploymentGroupName": "conf-dg"}),
    call("codedeploy", "DeleteApplication", {"applicationName": "conf"}),
    call("ecs", "DeleteService", {"cluster": "conf", "service": "rolling", "force": True}),
    call("ecs", "DeleteService", {"cluster": "conf", "service": "bluegreen", "force": True}),
    call("ecs", "DeregisterTaskDefinition", {"taskDefinition": "${job}"}),
    call("ecs", "DeleteCluster", {"cluster": "conf-empty"}),
    call("elbv2", "DeleteListener", {"ListenerArn": "${rolling}"}),
    call("elbv2", "DeleteLoadBalancer", {"LoadBalancerArn": "${lb}"}),
    call("ecr", "DeleteRepository", {"repositoryName": "conformance/web", "force": True}),
]

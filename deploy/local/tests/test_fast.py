"""The serializer shortcuts (``berth_moto.fast``) answer byte for byte what moto's own serializer
answers.

A child process (so this one's moto stays unpatched) serves a run of ECS, ECR, EC2 and STS calls
through the launcher's WSGI application, in process, with ``ActionResult.execute_result``
shadowed: every answer is serialized a second time by moto's own serializer class with moto's
own ``get_value``, and the two must be equal (status, headers, body; timestamps included).
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import LOCAL

SHADOWED_RUN = r"""
import datetime, json, sys
import boto3, botocore.awsrequest
from botocore.config import Config
import berth_moto
berth_moto.install()
import moto.core.responses as responses
import moto.core.serialize as serialize
from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.test import Client
from berth_moto import fast
from berth_moto.app import BerthDispatcher

compared = {}
original_execute = responses.ActionResult.execute_result
references = {}

def reference_class(cls):
    # moto's class as moto ships it: its own walk, and its own get_value.
    base = serialize.JSONSerializer if cls is fast.FastJSONSerializer else cls
    if base not in references:
        references[base] = type("Reference" + base.__name__, (base,),
                                {"get_value": fast._ORIGINAL_GET_VALUE})
    return references[base]

def shadowed(self, context):
    answer = original_execute(self, context)
    reference = responses.ActionContext(
        context.service_model, context.operation_model,
        reference_class(context.serializer_class), context.response)
    expected = original_execute(self, reference)
    assert answer == expected, (context.operation_model.name, answer, expected)
    name = f"{context.service_model.service_name}.{context.operation_model.name}"
    compared[name] = compared.get(name, 0) + 1
    return answer

responses.ActionResult.execute_result = shadowed
client = Client(BerthDispatcher(create_backend_app))

class Raw:
    def __init__(self, data): self.data = data
    def stream(self, **_): yield self.data

def send(request, **_):
    path = request.url.split("http://emulator", 1)[1] or "/"
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    answer = client.open(path, method=request.method, headers=headers, data=request.body or b"")
    return botocore.awsrequest.AWSResponse(
        request.url, answer.status_code, dict(answer.headers), Raw(answer.get_data()))

def aws(service):
    c = boto3.client(service, endpoint_url="http://emulator", region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing",
                     config=Config(retries={"max_attempts": 1}))
    c.meta.events.register("before-send", send)
    return c

ecs, ecr, ec2, sts = aws("ecs"), aws("ecr"), aws("ec2"), aws("sts")
ecs.create_cluster(clusterName="prod", tags=[{"key": "team", "value": "a"}])
vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
subnets = [s["SubnetId"] for s in ec2.describe_subnets(
    Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][:2]]
group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group],
                                   "assignPublicIp": "DISABLED"}}
ecr.create_repository(repositoryName="web")
layer = "sha256:" + "ab" * 32
ecr.put_image(repositoryName="web", imageTag="1.0", imageManifest=json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
               "digest": layer},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2,
                "digest": layer}]}))
ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": "1.0"}])
ecr.describe_repositories()
for family in ("web", "api"):
    for tag in ("1.0", "1.1"):
        ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512", executionRoleArn="arn:aws:iam::123456789012:role/exec",
            containerDefinitions=[{
                "name": family, "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{tag}",
                "essential": True, "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                "environment": [{"name": "A", "value": "1"}],
                "secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/s"}],
                "healthCheck": {"command": ["CMD", "true"], "interval": 10},
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
            }],
            volumes=[{"name": "data"}],
            tags=[{"key": "app", "value": family}])
    ecs.create_service(
        cluster="prod", serviceName=family, taskDefinition=family, desiredCount=2,
        launchType="FARGATE", networkConfiguration=network,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        tags=[{"key": "app", "value": family}], propagateTags="SERVICE")
ecs.update_service(cluster="prod", service="web", taskDefinition="web:1", desiredCount=3)
ecs.update_service(cluster="prod", service="api", forceNewDeployment=True)
ecs.tag_resource(resourceArn=ecs.describe_services(cluster="prod", services=["web"])
                 ["services"][0]["serviceArn"], tags=[{"key": "rev", "value": "2"}])
for include in (["TAGS"], []):
    ecs.describe_services(cluster="prod", services=["web", "api", "gone"], include=include)
    ecs.describe_task_definition(taskDefinition="web", include=include)
    ecs.describe_clusters(clusters=["prod"], include=include)
ecs.list_services(cluster="prod")
ecs.list_task_definitions(familyPrefix="web", status="ACTIVE", sort="DESC")
ecs.list_tags_for_resource(resourceArn=ecs.describe_task_definition(taskDefinition="api")
                           ["taskDefinition"]["taskDefinitionArn"])
ecs.deregister_task_definition(taskDefinition="api:1")
for failing in (lambda: ecs.describe_task_definition(taskDefinition="nope"),
                lambda: ecs.update_service(cluster="prod", service="nope", desiredCount=1),
                lambda: ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": "9"}])):
    try:
        failing()
    except Exception:
        pass
sts.get_caller_identity()
sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/deploy", RoleSessionName="session")

# Timestamps moto's clock never makes: whole seconds, aware, and not datetimes at all.
from moto.core.utils import get_service_model
operation = get_service_model("ecs").operation_model("DescribeServices")
picker = serialize.XFormedAttributePicker(response_transformers={})
plus_two = datetime.timezone(datetime.timedelta(hours=2))
stamps = (datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime(2024, 1, 2, 3, 4, 5, 678901),
          datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=plus_two), 1700000000,
          "2024-01-02T03:04:05Z")
result = {"services": [{"serviceName": "x", "createdAt": stamp, "desiredCount": 1,
                        "deployments": [{"id": "d", "updatedAt": stamp, "createdAt": stamp}]}
                       for stamp in stamps]}
fast_body = fast.FastJSONSerializer(operation, value_picker=picker).serialize(result)
Reference = reference_class(fast.FastJSONSerializer)
assert fast_body == Reference(operation, value_picker=picker).serialize(result), fast_body
print(json.dumps(compared))
"""


def test_fast_serializer_answers_what_moto_answers():
    completed = subprocess.run(
        [sys.executable, "-c", SHADOWED_RUN],
        cwd=LOCAL,
        env={"PYTHONPATH": str(LOCAL), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    compared = json.loads(completed.stdout.strip().splitlines()[-1])
    # Every protocol berth's calls go through was compared, errors included.
    for name in (
        "ecs.DescribeServices",
        "ecs.RegisterTaskDefinition",
        "ecs.UpdateService",
        "ecs.DescribeTaskDefinition",
        "ecs.ListTaskDefinitions",
        "ecs.TagResource",
        "ecr.DescribeImages",
        "ec2.DescribeSubnets",
        "sts.GetCallerIdentity",
    ):
        assert compared.get(name), (name, compared)


def test_request_ids_are_stamped_as_moto_stamps_them():
    from moto.moto_api._internal import mock_random

    from berth_moto import fast

    moto_enrich = fast._ORIGINAL_ENRICH_RESPONSE.__func__
    for body in (
        '{"services": []}',
        "<X><RequestId>old</RequestId></X>",
        b"<RequestId>bytes</RequestId>",
        "",
    ):
        answers = []
        for enrich in (moto_enrich, fast.enrich_response):
            mock_random.seed(7)
            answers.append(enrich({"status": 200}, body))
        assert answers[0] == answers[1]
        assert answers[1][0]["status"] == "200" and len(answers[1][0]["x-amzn-requestid"]) == 52

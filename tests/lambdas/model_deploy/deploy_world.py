"""The deploy function's world: the moto registry world (tests/lambdas/model_deploy_trigger/world.py) plus what moto
lacks or gets wrong for a serving stack, answered by botocore's Stubber with the real API shapes, and a fake endpoint.

moto's CloudFormation neither returns an SSM-typed parameter's ``ResolvedValue`` nor re-resolves the SSM value on an
UpdateStack with the previous template and values (it answers "No updates are to be performed" where CloudFormation
updates), and it has no SageMaker endpoint resources: :class:`ServingStack` plays the serving stack instead, one
Stubber-backed client per environment, so each test states exactly what CloudFormation answers.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from model_deploy.dispatch import Clients
from model_deploy.tasks import Settings, Target

from tests.lambdas.model_deploy_trigger.sample_events import ACCOUNT, REGION
from tests.lambdas.model_deploy_trigger.world import (
    ENVIRONMENTS,
    World,
    client_in,
    deployer_role_arn,
    update_role_arn,
)

LIVE_PARAMETER = "LiveModelPackage"
STARTED = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
LABEL = {"column": "credit_risk", "positive": "1", "negative": "2"}
THRESHOLD = 0.5
TEST_CSV = "age_years,amount,credit_risk\n" + "".join(f"{20 + i},{1000 + 250 * i},{1 + i % 2}\n" for i in range(30))


class ServingStack:
    """A serving stack's CloudFormation API as a Stubber: queue what CloudFormation answers, then assert all used."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.client = boto3.client("cloudformation", region_name=REGION)
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def describe(self, status: str, resolved: str | None, reason: str | None = None) -> None:
        parameter: dict[str, Any] = {"ParameterKey": LIVE_PARAMETER, "ParameterValue": "/p/live-model-package"}
        if resolved is not None:
            parameter["ResolvedValue"] = resolved
        stack: dict[str, Any] = {
            "StackName": self.name,
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.name}/guid",
            "CreationTime": STARTED,
            "StackStatus": status,
            "Parameters": [parameter, {"ParameterKey": "BootstrapVersion", "ParameterValue": "/cdk-bootstrap/v",
                                       "ResolvedValue": "21"}],
        }  # fmt: skip
        if reason:
            stack["StackStatusReason"] = reason
        self.stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": self.name})

    def update(self, role_arn: str, token: str = ANY) -> None:
        expected = {
            "StackName": self.name,
            "UsePreviousTemplate": True,
            "Parameters": [{"ParameterKey": LIVE_PARAMETER, "UsePreviousValue": True},
                           {"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            "RoleARN": role_arn,
            "ClientRequestToken": token,
        }  # fmt: skip
        self.stubber.add_response("update_stack", {"StackId": f"{self.name}-id"}, expected)

    def update_fails(self, message: str) -> None:
        self.stubber.add_client_error("update_stack", service_error_code="ValidationError", service_message=message)

    def events(self, events: list[tuple[str, str, str, str]]) -> None:
        """(logical id, status, reason, client request token), newest first as CloudFormation lists them."""
        self.stubber.add_response(
            "describe_stack_events",
            {"StackEvents": [
                {"StackId": f"{self.name}-id", "EventId": f"e{i}", "StackName": self.name, "Timestamp": STARTED,
                 "LogicalResourceId": logical, "ResourceStatus": status, "ResourceStatusReason": reason,
                 "ClientRequestToken": token}
                for i, (logical, status, reason, token) in enumerate(events)
            ]},
            {"StackName": self.name},
        )  # fmt: skip


class FakeRuntime:
    """A well-behaved endpoint (probability from the amount, label at the threshold), or a broken one."""

    def __init__(self, probability_offset: float = 0.0) -> None:
        self.offset = probability_offset
        self.calls = 0

    def invoke_endpoint(self, *, EndpointName: str, Body: bytes, ContentType: str, Accept: str) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        if ContentType == "application/json":
            amount = float(json.loads(Body)["instances"][0]["amount"])
        else:
            amount = float(next(csv.reader(io.StringIO(Body.decode())))[1])
        probability = min(1.0, amount / 10_000) + self.offset
        label = LABEL["positive"] if probability >= THRESHOLD else LABEL["negative"]
        if Accept == "application/json":
            body = json.dumps({"predictions": [{"probability": probability, "label": label}]}).encode()
        else:
            body = f"{probability},{label}\n".encode()
        return {"Body": StreamingBody(io.BytesIO(body), len(body))}


def model_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps({"label": LABEL}).encode()
        info = tarfile.TarInfo("transform.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class DeployWorld:
    world: World
    stacks: dict[str, ServingStack]
    runtimes: dict[str, FakeRuntime]
    s3: Any
    settings: Settings
    published: list[tuple[str, str]] = field(default_factory=list)

    def target(self, env: str) -> Target:
        return self.settings.target(env)

    def clients(self) -> Clients:
        def target_client(target: Target, service: str) -> Any:
            if service == "cloudformation":
                return self.stacks[target.name].client
            if service == "sagemaker-runtime":
                return self.runtimes[target.name]
            return client_in(target.name, service)  # ssm: in the environment's account, as its deployer role

        return Clients(registry=self.world.sagemaker, s3=self.s3, sns=self.world.sns, target=target_client)

    def register_model(self, status: str = "Approved") -> str:
        """A version registered as the pipeline does: model archive and test split in S3, their URIs in metadata."""
        version = len(self.world.versions) + 1
        self.s3.put_object(Bucket="artifacts", Key=f"model-{version}.tar.gz", Body=model_archive())  # world.register
        self.s3.put_object(Bucket="artifacts", Key=f"m{version}/test_raw.csv", Body=TEST_CSV.encode())
        return self.world.register(status, {"decision_threshold": str(THRESHOLD),
                                           "test_data_uri": f"s3://artifacts/m{version}/test_raw.csv"})  # fmt: skip


def settings_for(world: World) -> Settings:
    targets = [
        {**target, "stack_name": f"{world.project}-{target['name']}-serving",
         "endpoint_name": f"{world.project}-{target['name']}-endpoint",
         "update_role_arn": update_role_arn(target["name"]), "smoke_rows": 10, "smoke_max_latency_p95_ms": 1000}
        for target in world.targets()
    ]  # fmt: skip
    return Settings.from_environ({
        "MODEL_PACKAGE_GROUP": world.group,
        "TOPIC_ARN": world.topic_arn,
        "STATE_MACHINE_ARN": world.state_machine_arn,
        "LIVE_MODEL_CFN_PARAMETER": LIVE_PARAMETER,
        "TARGETS": json.dumps(targets),
    })  # fmt: skip


@pytest.fixture
def deploy_world(world: World) -> DeployWorld:
    settings = settings_for(world)
    s3 = boto3.client("s3", region_name=REGION)
    if "artifacts" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
    stacks = {env: ServingStack(settings.target(env).stack_name) for env in ENVIRONMENTS}
    result = DeployWorld(world, stacks, {env: FakeRuntime() for env in ENVIRONMENTS}, s3, settings)
    assert all(t.deployer_role_arn == deployer_role_arn(t.name) for t in settings.targets)
    return result

"""A moto SageMaker registry with the DeleteModelPackage call moto 5.2.5 lacks, a clock, and CloudFormation events.

moto implements ListModelPackages (paginated, 100 a page) and CreateModelPackage, but DeleteModelPackage raises
NotImplementedError. ``Registry`` answers that call from moto's own backend, the way SageMaker does: the package
turns ``Deleting`` and disappears when time passes (``Clock.sleep``), or at once. A package that does not exist
answers ``ValidationException`` "ModelPackage <arn> does not exist." (the message the AWS::SageMaker::ModelPackage
resource provider treats as not-found); a second delete of a package being deleted is refused, so that code asking
twice fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

REGION = "eu-west-1"
GROUP = "mlops-dev-models"
#: A pre-signed S3 URL, as CloudFormation sends it: it must never be logged.
RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/"
    "arn%3Aaws%3Acloudformation%3Aeu-west-1%3A123456789012%3Astack/mlops-dev-model-build/guid%7CCleanup%7Creq"
    "?X-Amz-Signature=secret-signature"
)
INFERENCE = {
    "Containers": [{"Image": f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:3.2-0"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


@dataclass
class Clock:
    """Time of one invocation: ``seconds_left`` for the code under test, ``sleep`` advances it."""

    budget: float = 600.0
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)
    on_sleep: list[Callable[[], None]] = field(default_factory=list)

    def seconds_left(self) -> float:
        return self.budget - self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for callback in self.on_sleep:
            callback()


@dataclass
class Registry:
    client: Any
    clock: Clock
    #: "at once": a deleted package disappears immediately; "later": it is Deleting until the clock advances;
    #: "never": it stays Deleting. Deleting a package twice is a ConflictException.
    deletion: str = "at once"
    deleted: list[str] = field(default_factory=list)
    #: Called after each successful delete call (e.g. to register a version while the cleanup runs).
    after_delete: list[Callable[[str], None]] = field(default_factory=list)

    @property
    def backend(self) -> Any:
        return sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]

    def register(self, count: int, group: str = GROUP) -> list[str]:
        if group not in self.backend.model_package_groups:
            self.client.create_model_package_group(ModelPackageGroupName=group)
        return [
            self.client.create_model_package(
                ModelPackageGroupName=group,
                InferenceSpecification=INFERENCE,
                ModelApprovalStatus=APPROVAL_STATUSES[i % len(APPROVAL_STATUSES)],
            )["ModelPackageArn"]
            for i in range(count)
        ]

    def versions(self, group: str = GROUP) -> list[str]:
        return [arn for arn, p in self.backend.model_packages.items() if p.model_package_group_name == group]

    def _forget(self, arn: str) -> None:
        package = self.backend.model_packages.pop(arn)
        for name in [n for n, a in self.backend.model_package_name_mapping.items() if a == arn]:
            del self.backend.model_package_name_mapping[name]
        assert package is not None

    def finish_deletions(self) -> None:
        if self.deletion == "later":
            for arn in [a for a, p in self.backend.model_packages.items() if p.model_package_status == "Deleting"]:
                self._forget(arn)

    @staticmethod
    def _error(code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": code, "Message": message}
        return AWSResponse(None, 400, {}, None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    def delete_model_package(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        arn = json.loads(params["body"])["ModelPackageName"]
        package = self.backend.model_packages.get(arn)
        if package is None:
            return self._error("ValidationException", f"ModelPackage {arn} does not exist.")
        if package.model_package_status == "Deleting":  # the code must not ask twice
            return self._error("ConflictException", f"ModelPackage {arn} is being deleted.")
        self.deleted.append(arn)
        if self.deletion == "at once":
            self._forget(arn)
        else:
            package.model_package_status = "Deleting"
        for callback in self.after_delete:
            callback(arn)
        return AWSResponse(None, 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> Iterator[Registry]:
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        registry = Registry(client, clock)
        client.meta.events.register("before-call.sagemaker.DeleteModelPackage", registry.delete_model_package)
        clock.on_sleep.append(registry.finish_deletions)
        yield registry


def cfn_event(
    request_type: str,
    *,
    group: str = GROUP,
    delete_packages: bool = True,
    physical_id: str | None = GROUP,
    old_group: str | None = None,
) -> dict[str, Any]:
    """A custom resource request as CloudFormation sends it through the Provider framework (every property value
    a string, ResourceProperties with the ServiceToken)."""
    service_token = f"arn:aws:lambda:{REGION}:123456789012:function:mlops-dev-model-build-CleanupProviderframewo-abc"
    properties = {
        "ServiceToken": service_token,
        "ServiceTimeout": "1200",
        "ModelPackageGroupName": group,
        "ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package-group/{group}",
        "DeletePackagesOnDelete": "true" if delete_packages else "false",
    }
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": RESPONSE_URL,
        "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/mlops-dev-model-build/5b1a7e40-0000-11f0-0000",
        "RequestId": "5f8a9d4e-6c1b-4f2a-9d3e-0a1b2c3d4e5f",
        "LogicalResourceId": "ModelBuildModelPackageGroupCleanupD4E4842E",
        "ResourceType": "Custom::ModelPackageGroupCleanup",
        "ResourceProperties": properties,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        event["OldResourceProperties"] = {**properties, "ModelPackageGroupName": old_group or group}
    return event

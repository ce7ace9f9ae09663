"""A registry account and its serving environments in moto: the model package group and its versions, the live-model
parameters (each in its environment's account, reached through the deployer role as the functions do), the deploy
flow's state machine and the project topic.

Layout: the registry ``dev`` (account 123456789012) serves itself first, then ``staging`` (same account), then
``prod`` in account 333333333333. Tests using it share one worker (``xdist_group``), and one moto per test package.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sagemaker.models import ModelPackage, SageMakerModelBackend
from moto.sns.models import sns_backends

from tests.lambdas.model_deploy_trigger.sample_events import ACCOUNT, IMAGE, REGION, package_arn, package_event

PROD_ACCOUNT = "333333333333"
ENVIRONMENTS = {"dev": ACCOUNT, "staging": ACCOUNT, "prod": PROD_ACCOUNT}
#: Every test gets a project of its own (its own group, parameters, state machine and topic) in one moto account
#: set per test package: moto's start-up and SSM's first use cost seconds, a name costs nothing.
_PROJECTS = itertools.count(1)


def deployer_role_arn(env: str) -> str:
    return f"arn:aws:iam::{ENVIRONMENTS[env]}:role/mlops-{env}-model-deployer"


def update_role_arn(env: str) -> str:
    return f"arn:aws:iam::{ENVIRONMENTS[env]}:role/mlops-{env}-serving-update"


#: Clients by (environment, service) while one moto lives: creating a client costs ~30 ms, and moto forgets the
#: assumed-role keys (and so their account) when it is reset.
_CLIENTS: dict[tuple[str, str], Any] = {}


def client_in(env: str, service: str) -> Any:
    """A client in ``env``'s account, as its deployer role (moto maps assumed-role keys to the role's account)."""
    if (env, service) not in _CLIENTS:
        _CLIENTS[env, service] = _new_client_in(env, service)
    return _CLIENTS[env, service]


def _new_client_in(env: str, service: str) -> Any:
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=deployer_role_arn(env), RoleSessionName="test-world"
    )["Credentials"]
    return boto3.client(  # the default session: its loader caches the service models
        service,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


@dataclass
class World:
    project: str
    sagemaker: Any
    sfn: Any
    sns: Any
    state_machine_arn: str
    topic_arn: str
    versions: dict[int, str] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return f"{self.project}-dev-german-credit"

    def parameter_name(self, env: str) -> str:
        return f"/{self.project}/{env}/serving/live-model-package"

    def targets(self) -> list[dict[str, Any]]:
        """The TARGETS environment variable of the trigger, in rollout order."""
        return [
            {"name": env, "account": account, "region": REGION, "parameter": self.parameter_name(env),
             "deployer_role_arn": deployer_role_arn(env)}
            for env, account in ENVIRONMENTS.items()
        ]  # fmt: skip

    def event(self, status: str, version: int, **kwargs: Any) -> dict[str, Any]:
        """The state-change event of this world's registered ``version``."""
        assert version in self.versions, "register the version first"
        return package_event(status, version, group=self.group, **kwargs)

    def register(self, status: str, metadata: dict[str, str] | None = None) -> str:
        """Register the group's next version with ``status``; its ARN."""
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus=status,
            CustomerMetadataProperties=metadata or {"decision_threshold": "0.91"},
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://artifacts/model-{len(self.versions) + 1}"
                                ".tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]  # fmt: skip
        self.versions[len(self.versions) + 1] = arn
        assert arn == package_arn(len(self.versions), self.group)
        return arn

    def set_status(self, version: int, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=self.versions[version], ModelApprovalStatus=status)

    def set_live(self, env: str, value: str) -> None:
        client_in(env, "ssm").put_parameter(Name=self.parameter_name(env), Value=value, Type="String", Overwrite=True)

    def live(self, env: str) -> str:
        return str(client_in(env, "ssm").get_parameter(Name=self.parameter_name(env))["Parameter"]["Value"])

    def executions(self) -> list[dict[str, Any]]:
        """Every execution of the deploy flow, oldest first, with its input parsed."""
        found = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        result = []
        for execution in sorted(found, key=lambda e: e["startDate"]):
            described = self.sfn.describe_execution(executionArn=execution["executionArn"])
            result.append({**execution, "input": json.loads(described["input"])})
        return result

    def notifications(self) -> list[tuple[str, str]]:
        """(subject, message) of everything published to the topic, oldest first."""
        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        return [(str(subject), str(message)) for _, message, subject, *_ in topic.sent_notifications]


@pytest.fixture(scope="package")
def aws() -> Iterator[None]:
    """moto for a whole test package (see _PROJECTS); its tests run on one worker, one after the other
    (``xdist_group``)."""
    with pytest.MonkeyPatch.context() as patch:
        # moto 5.2.5's UpdateModelPackage sets the approval status to None when the request has none (SageMaker
        # keeps it): the deploy flow's metadata-only update must not look like a status change here.
        original = ModelPackage.set_model_approval_status

        def keep_status(self: ModelPackage, status: str | None) -> None:
            if status is not None:
                original(self, status)

        patch.setattr(ModelPackage, "set_model_approval_status", keep_status)
        # ... and it replaces the package's metadata with the request's (None when the request has none), where
        # SageMaker adds or updates the keys given and keeps the others.
        update = SageMakerModelBackend.update_model_package

        def merge_metadata(self: SageMakerModelBackend, **kwargs: Any) -> str:
            package = self.describe_model_package(kwargs["model_package_arn"])
            kwargs["customer_metadata_properties"] = {
                **(package.customer_metadata_properties or {}),
                **(kwargs["customer_metadata_properties"] or {}),
            }
            return update(self, **kwargs)

        patch.setattr(SageMakerModelBackend, "update_model_package", merge_metadata)
        _CLIENTS.clear()
        with mock_aws():
            yield
        _CLIENTS.clear()


@pytest.fixture
def world(aws: None) -> World:
    project = f"p{next(_PROJECTS)}"
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    definition = {"StartAt": "Deploy", "States": {"Deploy": {"Type": "Pass", "End": True}}}
    state_machine_arn = sfn.create_state_machine(
        name=f"{project}-dev-model-deploy", definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]  # fmt: skip
    topic_arn = sns.create_topic(Name=f"{project}-dev-model-deploy")["TopicArn"]
    world = World(project, sagemaker, sfn, sns, state_machine_arn, topic_arn)
    sagemaker.create_model_package_group(ModelPackageGroupName=world.group)
    for env in ENVIRONMENTS:
        client_in(env, "ssm").put_parameter(Name=world.parameter_name(env), Value="none", Type="String")
    return world

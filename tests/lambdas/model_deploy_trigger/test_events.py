"""Typed parsing of the state-change event: the real shape parses; everything else is ignored with its reason."""

from __future__ import annotations

import json

import pytest
from model_deploy_trigger.events import Ignored, PackageStateChange, Settings, package_version, parse_event

from tests.lambdas.model_deploy_trigger import sample_events as samples


def test_the_documented_event_shape_parses() -> None:
    change = parse_event(samples.APPROVED, samples.GROUP)
    assert isinstance(change, PackageStateChange)
    assert (change.detail.group, change.detail.version, change.detail.status) == (samples.GROUP, 3, "Approved")
    assert change.detail.arn == samples.package_arn(3)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (samples.OTHER_GROUP, "belongs to the group 'mlops-dev-other-model'"),
        ({**samples.APPROVED, "detail-type": "SageMaker Model State Change"}, "not a 'SageMaker Model Package"),
        ({**samples.APPROVED, "source": "my.app"}, "source 'my.app'"),
        ("not an event", "the event is a str"),
        ({**samples.APPROVED, "detail": {**samples.APPROVED["detail"], "ModelPackageVersion": "three"}},
         "detail.ModelPackageVersion"),
        ({**samples.APPROVED, "detail": {k: v for k, v in samples.APPROVED["detail"].items()
                                          if k != "ModelPackageArn"}}, "detail.ModelPackageArn: Field required"),
        ({**samples.APPROVED, "detail": {**samples.APPROVED["detail"], "ModelPackageVersion": 4}},
         "does not name version 4"),
        ({**samples.APPROVED, "detail": None}, "detail"),
    ],
)  # fmt: skip
def test_anything_else_is_ignored_with_its_reason(event: object, reason: str) -> None:
    ignored = parse_event(event, samples.GROUP)
    assert isinstance(ignored, Ignored)
    assert reason in ignored.reason


def test_package_versions_come_from_versioned_arns_only() -> None:
    assert package_version(samples.package_arn(12)) == (samples.GROUP, 12)
    assert package_version("none") is None
    assert package_version(f"arn:aws:sagemaker:eu-west-1:{samples.ACCOUNT}:model-package/unversioned") is None


def test_wrong_settings_name_the_variable() -> None:
    good = {"MODEL_PACKAGE_GROUP": samples.GROUP, "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:1:stateMachine:x",
            "TOPIC_ARN": "arn:aws:sns:eu-west-1:1:t", "TARGETS": "[]"}  # fmt: skip
    with pytest.raises(ValueError, match="TARGETS"):
        Settings.from_environ(good)
    with pytest.raises(ValueError, match="TARGETS is not JSON"):
        Settings.from_environ({**good, "TARGETS": "{"})
    target = {"name": "dev", "account": samples.ACCOUNT, "region": "eu-west-1", "parameter": "/p/dev/x",
              "deployer_role_arn": f"arn:aws:iam::{samples.ACCOUNT}:role/p-dev-model-deployer"}  # fmt: skip
    with pytest.raises(ValueError, match="TOPIC_ARN"):
        Settings.from_environ({**good, "TARGETS": json.dumps([target]), "TOPIC_ARN": "topic"})
    assert Settings.from_environ({**good, "TARGETS": json.dumps([target])}).targets[0].name == "dev"

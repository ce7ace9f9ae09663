"""The live-model parameter: created by the storage stack of every serving environment, and never reset by a deploy.

The property that matters: once the deploy flow wrote a model package ARN, no create, update or re-create of the
storage stack changes it (a reset to ``none`` would make the next serving deploy delete the endpoint). The custom
resource's SDK calls are run as the Lambda would run them, against moto's SSM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from botocore.exceptions import ClientError
from moto import mock_aws

from config.loader import DEFAULT_CONFIG_PATH, load_config
from config.naming import NO_LIVE_MODEL, live_model_parameter_name
from stacks.storage.live_model_parameter import LOGICAL_ID, RESOURCE_TYPE
from tests.conftest import SynthesizedApp
from tests.deploy.lifecycle import strings

CONFIG = load_config(DEFAULT_CONFIG_PATH)
SERVING = [name for name, env in CONFIG.environments.items() if env.serving is not None]
REGION = "eu-west-1"
LIVE_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/mlops-dev-german-credit/7"


def sdk_call(call: dict[str, Any]) -> None:
    """Run one AwsCustomResource call (``{"service": "SSM", "action": "putParameter", ...}``) with boto3, ignoring the
    error codes it says to ignore, as CDK's handler does."""
    client = boto3.client(call["service"].lower(), region_name=REGION)
    method = re.sub(r"(?<!^)(?=[A-Z])", "_", call["action"]).lower()
    try:
        getattr(client, method)(**call["parameters"])
    except ClientError as exc:
        ignored = call.get("ignoreErrorCodesMatching")
        if not ignored or not re.fullmatch(ignored, exc.response["Error"]["Code"]):
            raise


@pytest.fixture(params=SERVING)
def env_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def resource(synthesized_app: SynthesizedApp, env_name: str) -> dict[str, Any]:
    found = synthesized_app.template(env_name, "storage").find_resources(RESOURCE_TYPE)
    assert list(found) == [LOGICAL_ID]  # pinned: a new logical id would create a new resource and delete the old
    return dict(found[LOGICAL_ID]["Properties"])


def calls(properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {event: json.loads(properties[event]) for event in ("Create", "Update", "Delete") if event in properties}


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def value(ssm: Any, name: str) -> str:
    return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])


def test_created_as_none_when_missing(resource: dict[str, Any], env_name: str, ssm: Any) -> None:
    name = live_model_parameter_name("mlops", env_name)
    sdk_call(calls(resource)["Create"])
    assert value(ssm, name) == NO_LIVE_MODEL
    assert ssm.get_parameter(Name=name)["Parameter"]["Type"] == "String"


def test_no_stack_operation_resets_the_live_model(resource: dict[str, Any], env_name: str, ssm: Any) -> None:
    """Create, then the deploy flow writes a version; then every update (a tag, a CDK upgrade) and a re-create (a
    retained parameter found by a new stack) leave it as it is."""
    name = live_model_parameter_name("mlops", env_name)
    operations = calls(resource)
    sdk_call(operations["Create"])
    ssm.put_parameter(Name=name, Value=LIVE_ARN, Type="String", Overwrite=True)  # the deploy flow
    for event in ("Update", "Create", "Update"):
        sdk_call(operations[event])
        assert value(ssm, name) == LIVE_ARN, event
    # the physical id is the name: an update returns the same id, so CloudFormation never replaces (deletes) it
    assert operations["Update"]["physicalResourceId"] == {"id": name} == operations["Create"]["physicalResourceId"]


def test_only_throw_away_environments_delete_it(resource: dict[str, Any], env_name: str, ssm: Any) -> None:
    name = live_model_parameter_name("mlops", env_name)
    operations = calls(resource)
    sdk_call(operations["Create"])
    if CONFIG.environments[env_name].retain_data:
        assert "Delete" not in operations  # kept with the data, like the model package group it points into
        return
    sdk_call(operations["Delete"])
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter(Name=name)
    sdk_call(operations["Delete"])  # already gone (deleted by hand): the stack deletion does not fail


def test_its_function_may_write_only_this_parameter(synthesized_app: SynthesizedApp, env_name: str) -> None:
    storage = synthesized_app.template(env_name, "storage")
    arn = f"arn:aws:ssm:eu-west-1:123456789012:parameter/mlops/{env_name}/serving/live-model-package"
    statements = [
        statement
        for logical_id, policy in storage.find_resources("AWS::IAM::Policy").items()
        if logical_id.startswith("LiveModel")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    deletes = not CONFIG.environments[env_name].retain_data
    (statement,) = statements
    assert (statement["Effect"], statement["Resource"]) == ("Allow", arn)
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    assert set(actions) == ({"ssm:PutParameter", "ssm:DeleteParameter"} if deletes else {"ssm:PutParameter"})


def test_no_template_manages_the_parameter_value(synthesized_app: SynthesizedApp) -> None:
    """No AWS::SSM::Parameter (whose value CloudFormation would write back) names a live-model parameter."""
    names = {live_model_parameter_name("mlops", env) for env in SERVING}
    for key, template in synthesized_app.templates.items():
        for logical_id, res in template["Resources"].items():
            if res["Type"] == "AWS::SSM::Parameter":
                assert not {text for _, text in strings(res["Properties"]) if text in names}, (key, logical_id)
    found = {
        json.loads(res["Properties"]["Create"])["parameters"]["Name"]
        for template in synthesized_app.templates.values()
        for res in template["Resources"].values()
        if res["Type"] == RESOURCE_TYPE
    }
    assert found == names


def test_an_environment_without_serving_has_no_parameter(storage_without_serving: Template) -> None:
    storage_without_serving.resource_count_is(RESOURCE_TYPE, 0)
    storage_without_serving.resource_count_is("AWS::Lambda::Function", 0)

"""The starter role's credentials renew themselves: a wait past the 1 h role-chaining cap never hits ExpiredToken."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from tools.assume_role import assumed_role_session

ROLE = "arn:aws:iam::123456789012:role/mlops-dev-pipeline-starter"
T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def _credentials(key: str, expires: datetime.datetime) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": key,
            "SecretAccessKey": f"secret-{key}",
            "SessionToken": f"token-{key}",
            "Expiration": expires,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:model-build-train", "Arn": f"{ROLE}/model-build-train"},
    }


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime.datetime]:
    """botocore's notion of now, moved by the test."""
    now = [T0]
    monkeypatch.setattr(botocore.credentials, "_local_now", lambda: now[0])
    return now


def test_credentials_are_assumed_again_before_they_expire(clock: list[datetime.datetime]) -> None:
    source = botocore.session.Session()
    source.set_credentials("SOURCEKEY", "source-secret", "source-token")
    sts = source.create_client("sts", region_name="eu-west-1")
    stub = Stubber(sts)
    expected = {"RoleArn": ROLE, "RoleSessionName": "model-build-train"}
    stub.add_response("assume_role", _credentials("ASIAFIRSTKEY0001", T0 + datetime.timedelta(hours=1)), expected)
    stub.add_response("assume_role", _credentials("ASIASECONDKEY002", T0 + datetime.timedelta(hours=2)), expected)
    sts_clients: list[dict[str, Any]] = []

    def client_creator(service: str, **kwargs: Any) -> Any:
        sts_clients.append({"service": service, **kwargs})
        return sts

    session = assumed_role_session(ROLE, "eu-west-1", source=source, client_creator=client_creator)
    sagemaker = session.create_client("sagemaker")
    signed: list[tuple[str, str]] = []

    def capture(request: Any, **_kwargs: Any) -> AWSResponse:
        """Record who signed the request and answer it without a network."""
        authorization = request.headers["Authorization"].decode()
        key = authorization.split("Credential=")[1].split("/")[0]
        signed.append((key, request.headers["X-Amz-Security-Token"].decode()))
        body = json.dumps({"PipelineExecutionArn": "a", "PipelineExecutionStatus": "Executing"}).encode()
        return AWSResponse(request.url, 200, {}, _Raw(body))

    sagemaker.meta.events.register("before-send.sagemaker.DescribePipelineExecution", capture)
    describe = {"PipelineExecutionArn": "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/e"}
    with stub:
        assert sts_clients == []  # nothing is assumed before the first request
        sagemaker.describe_pipeline_execution(**describe)
        clock[0] = T0 + datetime.timedelta(minutes=30)  # 30 min left: no refresh yet
        sagemaker.describe_pipeline_execution(**describe)
        clock[0] = T0 + datetime.timedelta(minutes=55)  # 5 min left: inside botocore's mandatory refresh window
        sagemaker.describe_pipeline_execution(**describe)
        clock[0] = T0 + datetime.timedelta(minutes=90)  # the first keys have expired by now
        sagemaker.describe_pipeline_execution(**describe)
        stub.assert_no_pending_responses()  # AssumeRole was called exactly twice
    assert signed == [
        ("ASIAFIRSTKEY0001", "token-ASIAFIRSTKEY0001"),
        ("ASIAFIRSTKEY0001", "token-ASIAFIRSTKEY0001"),
        ("ASIASECONDKEY002", "token-ASIASECONDKEY002"),
        ("ASIASECONDKEY002", "token-ASIASECONDKEY002"),
    ]
    # AssumeRole itself is signed with the source (CodeBuild) credentials, fetched afresh for each call
    assert [c["aws_access_key_id"] for c in sts_clients] == ["SOURCEKEY", "SOURCEKEY"]
    assert {c["service"] for c in sts_clients} == {"sts"}


def test_no_source_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    source = botocore.session.Session()
    monkeypatch.setattr(source, "get_credentials", lambda: None)
    with pytest.raises(botocore.exceptions.NoCredentialsError):
        assumed_role_session(ROLE, "eu-west-1", source=source)

"""Failures and retries: throttling is retried by botocore, a persistent failure raises and its retries never start
twice, a lost notification is re-sent without a second start, and the cross-account starter role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from retraining.clients import MAX_ATTEMPTS, REFRESH_MARGIN
from retraining.decide import DUPLICATE, STARTED, SUPPRESSED_COOLDOWN

from tests.lambdas.retraining import sample_events as samples
from tests.lambdas.retraining.world import (
    DRIFT,
    QUALITY,
    FailingCalls,
    World,
    client,
    environ_for,
    make_world,
)

Inject = Callable[..., FailingCalls]
pytestmark = pytest.mark.xdist_group("retraining-moto")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's backoff delays, recorded instead of slept (the suite stays fast)."""
    delays: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", delays.append)
    return delays


def test_throttling_is_retried_with_backoff_then_started(world: World, sleeps: list[float], failing: Inject) -> None:
    throttle = failing("sagemaker.StartPipelineExecution", times=2)
    listing = failing("sagemaker.ListPipelineExecutions", times=1)

    outcome = world.deliver(samples.alarm_event(world.alarm(DRIFT)))

    assert outcome.decision == STARTED
    assert (throttle.calls, listing.calls) == (3, 2)
    assert len(sleeps) == 3  # one backoff per throttled attempt
    assert len(world.executions()) == 1


def test_a_persistent_failure_raises_and_its_retries_never_start_twice(
    world: World, sleeps: list[float], failing: Inject
) -> None:
    throttle = failing("sagemaker.StartPipelineExecution")  # every call
    event = samples.alarm_event(world.alarm(DRIFT), event_id="persistent")

    for attempt in range(3):  # the invocation and Lambda's two retries, then the dead-letter queue
        with pytest.raises(ClientError, match="ThrottlingException"):
            world.deliver(event)
        assert throttle.calls == MAX_ATTEMPTS * (attempt + 1)
    assert world.executions() == []
    assert world.notifications() == []  # nothing was decided yet
    # The event holds the slot: another alarm meanwhile is suppressed, not started in its place.
    world.clock.advance(minutes=30)
    assert world.deliver(samples.alarm_event(world.alarm(QUALITY), event_id="other")).decision == SUPPRESSED_COOLDOWN

    throttle.times = throttle.failed  # SageMaker recovers; the event is redriven from the dead-letter queue
    outcome = world.deliver(event)
    assert outcome.decision == STARTED
    assert "earlier attempt" in outcome.reason
    assert world.deliver(event).decision == DUPLICATE
    assert len(world.executions()) == 1


def test_a_start_whose_answer_is_lost_is_not_repeated_by_the_retries(
    world: World, sleeps: list[float], failing: Inject
) -> None:
    """SageMaker started the execution but the answer was a 500: botocore retries with the same token."""
    lost = failing("sagemaker.StartPipelineExecution", code="InternalFailure", status=500, times=2, after_moto=True)

    outcome = world.deliver(samples.alarm_event(world.alarm(DRIFT)))

    assert outcome.decision == STARTED
    assert lost.calls == 3
    assert [e["arn"] for e in world.executions()] == [outcome.execution_arn]


def test_an_invocation_that_failed_after_the_start_completes_it_on_retry(
    world: World, sleeps: list[float], failing: Inject
) -> None:
    """Every attempt's answer lost: the invocation raises though SageMaker started; the retry finds the same one."""
    lost = failing("sagemaker.StartPipelineExecution", code="InternalFailure", status=500, after_moto=True)
    event = samples.alarm_event(world.alarm(DRIFT))
    with pytest.raises(ClientError):
        world.deliver(event)
    [execution] = world.executions()

    lost.times = lost.failed
    outcome = world.deliver(event)  # its own execution is Executing in SageMaker: the retry must not call it running
    assert outcome.decision == STARTED
    assert outcome.execution_arn == execution["arn"]
    assert len(world.executions()) == 1


def test_a_failed_notification_is_re_sent_and_never_costs_a_second_start(
    world: World, sleeps: list[float], failing: Inject
) -> None:
    failing("sns.Publish", code="InternalError", status=500, times=MAX_ATTEMPTS)
    event = samples.alarm_event(world.alarm(DRIFT))
    with pytest.raises(ClientError):
        world.deliver(event)
    [execution] = world.executions()
    assert world.notifications() == []

    assert world.deliver(event).decision == DUPLICATE  # a concurrent delivery: the first invocation may still publish
    assert ["duplicate" in subject for subject, _ in world.notifications()] == [True]
    world.clock.advance(minutes=1)
    outcome = world.deliver(event)  # Lambda's retry, about a minute later

    assert outcome.replayed
    assert (outcome.decision, outcome.execution_arn) == (STARTED, execution["arn"])
    _, (subject, message) = world.notifications()
    assert "retraining started" in subject
    assert "re-sent" in message
    assert world.deliver(event).decision == DUPLICATE
    assert len(world.executions()) == 1


def test_the_pipeline_of_another_account_is_started_through_the_starter_role(aws: None) -> None:
    role = f"arn:aws:iam::{samples.REGISTRY_ACCOUNT}:role/mlops-dev-retraining-starter"
    credentials = client("sts").assume_role(RoleArn=role, RoleSessionName="registry")["Credentials"]
    registry = client("sagemaker", aws_access_key_id=credentials["AccessKeyId"],
                      aws_secret_access_key=credentials["SecretAccessKey"],
                      aws_session_token=credentials["SessionToken"])  # fmt: skip
    created: list[dict[str, Any]] = []

    def factory(service: str, **kwargs: Any) -> Any:
        created.append({"service": service, **kwargs})
        return client(service, **kwargs)

    world = make_world(environ_for("xacct", STARTER_ROLE_ARN=role), "xacct", sagemaker=registry, factory=factory)

    outcome = world.deliver(samples.alarm_event(world.alarm(DRIFT)))

    assert outcome.decision == STARTED
    assert f":{samples.REGISTRY_ACCOUNT}:pipeline/" in str(outcome.execution_arn)
    assert len(world.executions()) == 1  # in the registry's account
    own = client("sagemaker").list_pipelines()["PipelineSummaries"]
    assert world.settings.pipeline_name not in [p["PipelineName"] for p in own]  # nothing in the function's account
    [sagemaker_client] = [c for c in created if c["service"] == "sagemaker"]
    assert sagemaker_client["aws_session_token"]  # the assumed role's credentials, not the function's

    starter = world.clients.starter
    assert starter.assumed == 1
    starter.sagemaker()
    assert starter.assumed == 1  # cached
    expires = starter._expires
    assert expires is not None
    world.clock.now = expires - REFRESH_MARGIN + timedelta(seconds=1)
    starter.sagemaker()
    assert starter.assumed == 2  # renewed before expiry

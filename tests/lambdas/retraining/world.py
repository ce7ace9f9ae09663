"""The retraining function's world in moto: the training pipeline, the state table, the project topic, a clock.

Two moto gaps are filled here, each modelling documented AWS behaviour (and nothing more):
- SageMaker makes StartPipelineExecution idempotent on ClientRequestToken; moto 5.2.5 starts a new execution for
  every call. The patch returns the execution already started with the same token.
- DynamoDB applies each request atomically (a conditional write checks and writes as one step); moto's in-process
  backend does not hold a lock, so threads could interleave inside one request. The patch serialises mocked
  requests, one at a time, as a service would apply them.

Every test gets its own names (pipeline, table, topic) in one moto per test package: moto's start-up costs seconds,
a name costs nothing. Tests using it share one xdist worker (``xdist_group``).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sns.models import sns_backends
from retraining.clients import RETRY_CONFIG, Clients
from retraining.decide import Outcome, evaluate
from retraining.notify import announce
from retraining.settings import Settings
from retraining.state import StateStore

from tests.lambdas.retraining.sample_events import ACCOUNT, REGION, alarm_arn, rule_arn

_PROJECTS = itertools.count(1)
DRIFT, QUALITY, BIAS = "drift", "quality", "bias"


@dataclass
class Clock:
    """The function's clock, moved by the tests (cooldowns and UTC days without waiting)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 10, 6, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def client(service: str, **kwargs: Any) -> Any:
    """What the function's boto3.client gives, in moto (the same retry configuration)."""
    return boto3.client(service, **{"region_name": REGION, "config": RETRY_CONFIG, **kwargs})


@dataclass
class World:
    project: str
    settings: Settings
    environ: dict[str, str]
    clients: Clients
    clock: Clock
    sagemaker: Any  # the pipeline's account

    @property
    def store(self) -> StateStore:
        return StateStore(self.clients.dynamodb, self.settings.state_table, REGION, self.settings.pipeline_name)

    def alarm(self, kind: str) -> str:
        return f"{self.project}-dev-{kind}"

    def deliver(self, event: Any) -> Outcome:
        """One invocation as the handler runs it (decide, then publish the decision); raises what it raises."""
        outcome = evaluate(
            event, self.settings, store=self.store, sagemaker=self.clients.starter.sagemaker, now=self.clock()
        )
        announce(outcome, self.settings, sns=self.clients.sns, store=self.store)
        return outcome

    def executions(self) -> list[dict[str, Any]]:
        """Every execution of the pipeline, with its parameters and description."""
        found = []
        for summary in self.sagemaker.list_pipeline_executions(PipelineName=self.settings.pipeline_name)[
            "PipelineExecutionSummaries"
        ]:
            arn = summary["PipelineExecutionArn"]
            parameters = self.sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
            described = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
            found.append({
                "arn": arn,
                "parameters": {p["Name"]: p["Value"] for p in parameters["PipelineParameters"]},
                "description": described["PipelineExecutionDescription"],
                "display_name": described["PipelineExecutionDisplayName"],
            })  # fmt: skip
        return found

    def set_status(self, execution_arn: str, status: str, account: str = ACCOUNT) -> None:
        """moto's executions are Succeeded at once: make one Executing/Stopping/... as SageMaker would show it."""
        pipeline = sagemaker_backends[account][REGION].pipelines[self.settings.pipeline_name]
        pipeline.pipeline_executions[execution_arn].pipeline_execution_status = status

    def notifications(self) -> list[tuple[str, str]]:
        """(subject, message) of everything published to the topic, oldest first."""
        topic = sns_backends[ACCOUNT][REGION].topics[self.settings.topic_arn]
        return [(str(subject), str(message)) for _, message, subject, *_ in topic.sent_notifications]

    def item(self, key: str) -> dict[str, Any] | None:
        found = self.clients.dynamodb.get_item(TableName=self.settings.state_table, Key={"pk": {"S": key}})
        item: dict[str, Any] | None = found.get("Item")
        return item


class FailingCalls:
    """Answers ``operation`` (``"sagemaker.StartPipelineExecution"``, ``"sns.Publish"``) with an error for the next
    ``times`` requests (None: every request), where moto answers, i.e. inside botocore's retry loop as a real HTTP
    answer would arrive. With ``after_moto`` moto handles the request first and its answer is then lost (the call
    took effect, the caller sees the error). Registered for one test by the ``failing`` fixture."""

    def __init__(self, operation: str, *, code: str = "ThrottlingException", status: int = 400,
                 times: int | None = None, after_moto: bool = False) -> None:  # fmt: skip
        self.service, _, self.action = operation.partition(".")
        self.code, self.status, self.times, self.after_moto = code, status, times, after_moto
        self.calls = 0
        self.failed = 0

    def matches(self, request: Any) -> bool:
        if not request.url.startswith(f"https://{'api.' if self.service == 'sagemaker' else ''}{self.service}."):
            return False
        target = request.headers.get("X-Amz-Target")
        if target:
            return str(target.decode() if isinstance(target, bytes) else target).endswith(f".{self.action}")
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        return f"Action={self.action}&" in f"{body}&"

    def answer(self, request: Any, moto: Callable[[Any], Any]) -> Any:
        self.calls += 1
        if self.times is not None and self.failed >= self.times:
            return None  # moto answers
        self.failed += 1
        if self.after_moto:
            moto(request)
        if self.service == "sns":  # the query protocol answers errors in XML
            body = (f"<ErrorResponse><Error><Type>Receiver</Type><Code>{self.code}</Code><Message>injected"
                    "</Message></Error><RequestId>1</RequestId></ErrorResponse>")  # fmt: skip
            return self.status, {"Content-Type": "text/xml"}, body
        body = json.dumps({"__type": self.code, "message": f"injected {self.code}"})
        return self.status, {"x-amzn-ErrorType": self.code, "Content-Type": "application/x-amz-json-1.1"}, body


#: The failures injected by the running test (see the ``failing`` fixture).
_FAILURES: list[FailingCalls] = []


@pytest.fixture
def failing() -> Iterator[Callable[..., FailingCalls]]:
    """Injects failures into moto's answers for this test (see FailingCalls)."""

    def inject(operation: str, **kwargs: Any) -> FailingCalls:
        failure = FailingCalls(operation, **kwargs)
        _FAILURES.append(failure)
        return failure

    yield inject
    _FAILURES.clear()


@pytest.fixture(scope="package")
def aws() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        start = SageMakerModelBackend.start_pipeline_execution

        def idempotent_start(self: SageMakerModelBackend, pipeline_name: str, *args: Any) -> dict[str, str]:
            token = args[-1]
            pipeline = self.pipelines.get(pipeline_name)
            for arn, execution in pipeline.pipeline_executions.items() if pipeline else []:
                if token and execution.client_request_token == token:
                    return {"PipelineExecutionArn": arn}
            return start(self, pipeline_name, *args)

        patch.setattr(SageMakerModelBackend, "start_pipeline_execution", idempotent_start)
        lock = threading.Lock()
        process = BotocoreStubber.process_request

        def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
            with lock:
                for failure in _FAILURES:
                    if failure.matches(request):
                        answer = failure.answer(request, lambda r: process(self, r))
                        if answer is not None:
                            return answer
                return process(self, request)

        patch.setattr(BotocoreStubber, "process_request", one_at_a_time)
        with mock_aws():
            yield


def environ_for(project: str, *, cooldown: int = 360, daily_max: int = 2, **extra: str) -> dict[str, str]:
    return {
        "PIPELINE_NAME": f"{project}-dev-model-build",
        "PIPELINE_REGION": REGION,
        "STATE_TABLE": f"{project}-dev-retraining",
        "COOLDOWN_MINUTES": str(cooldown),
        "DAILY_MAX": str(daily_max),
        "ALARM_ARNS": json.dumps([alarm_arn(f"{project}-dev-{kind}") for kind in (DRIFT, QUALITY, BIAS)]),
        "SCHEDULE_ARNS": json.dumps([rule_arn(f"{project}-dev-retraining-schedule")]),
        "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{project}-dev-alerts",
        "TRAINING_DATA_URI": f"s3://{project}-dev-data-{ACCOUNT}-{REGION}/training/",
        "ENVIRONMENT": "dev",
        **extra,
    }


def create_resources(environ: dict[str, str], sagemaker: Any) -> None:
    """The state table (as the stack creates it), the topic, and the pipeline in ``sagemaker``'s account."""
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName=environ["STATE_TABLE"],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=environ["STATE_TABLE"], TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    client("sns").create_topic(Name=environ["TOPIC_ARN"].rpartition(":")[2])
    definition = {"Version": "2020-12-01", "Parameters": [
        {"Name": "InputDataUri", "Type": "String"}, {"Name": "Trigger", "Type": "String", "DefaultValue": "manual"},
    ], "Steps": []}  # fmt: skip
    sagemaker.create_pipeline(
        PipelineName=environ["PIPELINE_NAME"],
        PipelineDefinition=json.dumps(definition),
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline",
    )


def make_world(environ: dict[str, str], project: str, sagemaker: Any | None = None,
               factory: Callable[..., Any] = client) -> World:  # fmt: skip
    sagemaker = sagemaker or client("sagemaker")
    create_resources(environ, sagemaker)
    clock = Clock()
    settings = Settings.from_environ(environ)
    return World(project, settings, environ, Clients(settings, factory, clock), clock, sagemaker)


@pytest.fixture
def world(aws: None) -> World:
    project = f"r{next(_PROJECTS)}"
    return make_world(environ_for(project), project)

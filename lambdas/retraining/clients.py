"""The function's AWS clients: created once per container, on first use, with retries for throttling.

Created on first use rather than at import: building the SageMaker, DynamoDB and SNS clients loads their service
models (~0.25 s here), which would put the cold import far above its budget (1.3x ``import boto3``). The cost moves to
the first invocation of a container; later invocations reuse the clients.

Retries: botocore's ``standard`` mode (throttling and transient errors, exponential backoff with jitter, up to
``MAX_ATTEMPTS`` attempts a call). Not ``adaptive``: its client-side rate limiter only helps a client that sends many
requests, and this function sends a handful per event with reserved concurrency 1. A call that still fails raises:
the invocation fails, Lambda retries it, then the event goes to the dead-letter queue.

The pipeline may live in another account (the registry serving this environment): then ``STARTER_ROLE_ARN`` is
assumed. Lambda's own credentials come from a role, so this is role chaining, capped at one hour whatever
DurationSeconds says: the credentials are cached with their expiry and renewed ``REFRESH_MARGIN`` before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.config import Config

from retraining.settings import Settings

#: Attempts per call, the first included (botocore's total_max_attempts).
MAX_ATTEMPTS = 5
RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=5, read_timeout=20
)
SESSION_NAME = "retraining"
#: Renew assumed-role credentials this long before they expire (an invocation lasts seconds; no request may carry
#: credentials that expire while it is being retried).
REFRESH_MARGIN = timedelta(minutes=10)

#: Creates a client: ``boto3.client`` in the function, moto-backed ``boto3.client`` in the tests.
ClientFactory = Callable[..., Any]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class StarterSession:
    """The SageMaker client that lists and starts the pipeline's executions, as ``role_arn`` when given."""

    def __init__(
        self,
        factory: ClientFactory,
        region: str,
        role_arn: str | None,
        *,
        sts: Callable[[], Any] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._factory = factory
        self._region = region
        self._role_arn = role_arn
        self._sts = sts or (lambda: factory("sts", config=RETRY_CONFIG))
        self._clock = clock
        self._client: Any = None
        self._expires: datetime | None = None
        #: How many times the role was assumed (read by the tests and the logs).
        self.assumed = 0

    def sagemaker(self) -> Any:
        if self._client is not None and (self._expires is None or self._expires - self._clock() > REFRESH_MARGIN):
            return self._client
        if self._role_arn is None:
            self._client = self._factory("sagemaker", region_name=self._region, config=RETRY_CONFIG)
            return self._client
        credentials = self._sts().assume_role(RoleArn=self._role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
        self.assumed += 1
        expiration = credentials["Expiration"]
        self._expires = expiration if expiration.tzinfo else expiration.replace(tzinfo=UTC)
        self._client = self._factory(
            "sagemaker",
            region_name=self._region,
            config=RETRY_CONFIG,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        return self._client


class Clients:
    """Every client the function uses, each created on first use and then kept for the container's life."""

    def __init__(self, settings: Settings, factory: ClientFactory, clock: Clock = utcnow) -> None:
        self._factory = factory
        self._dynamodb: Any = None
        self._sns: Any = None
        self.starter = StarterSession(factory, settings.pipeline_region, settings.starter_role_arn, clock=clock)

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = self._factory("dynamodb", config=RETRY_CONFIG)
        return self._dynamodb

    @property
    def sns(self) -> Any:
        if self._sns is None:
            self._sns = self._factory("sns", config=RETRY_CONFIG)
        return self._sns

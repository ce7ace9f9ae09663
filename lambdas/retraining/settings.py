"""The retraining function's environment variables (set by the monitoring stack), validated once at cold start.

A dataclass, not a pydantic model: the function's cold import must stay within 1.3x a bare ``import boto3``
(bench/retraining_handler.py), and defining pydantic models alone costs about a third of that budget. A variable the
stack set wrong raises naming it: the function cannot decide anything then, and the error shows at the first event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: SageMaker pipeline names (StartPipelineExecution's PipelineName without the ARN form).
PIPELINE_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
TOPIC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$")
ALARM_ARN_RE = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")
#: A scheduled rule (EventBridge) or a schedule (EventBridge Scheduler).
SCHEDULE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:(events|scheduler):[a-z0-9-]+:\d{12}:(rule|schedule)/.+$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
S3_PREFIX_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")


@dataclass(frozen=True)
class Settings:
    pipeline_name: str
    pipeline_region: str
    #: Assumed to list and start executions in the registry's account; None: the function's own role does it.
    starter_role_arn: str | None
    state_table: str
    cooldown_minutes: int
    daily_max: int
    alarm_arns: frozenset[str]
    #: Scheduled rules / schedules whose events may start a retraining; empty: scheduled retraining is off.
    schedule_arns: frozenset[str]
    topic_arn: str
    training_data_uri: str
    environment: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Raises ValueError naming every variable that is missing or wrong."""
        problems: list[str] = []

        def text(name: str, pattern: re.Pattern[str] | None = None, *, required: bool = True) -> str:
            value = environ.get(name, "").strip()
            if not value:
                if required:
                    problems.append(f"{name} is not set")
                return ""
            if pattern is not None and not pattern.fullmatch(value):
                problems.append(f"{name}={value!r} does not match {pattern.pattern}")
            return value

        def integer(name: str, minimum: int) -> int:
            raw = text(name)
            try:
                value = int(raw)
            except ValueError:
                if raw:
                    problems.append(f"{name}={raw!r} is not an integer")
                return minimum
            if value < minimum:
                problems.append(f"{name}={value} is below {minimum}")
            return value

        def arn_list(name: str, pattern: re.Pattern[str], *, required: bool) -> frozenset[str]:
            raw = environ.get(name, "").strip() or ("" if required else "[]")
            if not raw:
                problems.append(f"{name} is not set (a JSON list of ARNs)")
                return frozenset()
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as error:
                problems.append(f"{name} is not JSON: {error}")
                return frozenset()
            if not isinstance(value, list) or not all(isinstance(arn, str) for arn in value):
                problems.append(f"{name} must be a JSON list of ARN strings, got {raw!r}")
                return frozenset()
            wrong = [arn for arn in value if not pattern.fullmatch(arn)]
            if wrong:
                problems.append(f"{name} holds values that are not such ARNs: {wrong}")
            if required and not value:
                problems.append(f"{name} is empty: list the alarms that may start a retraining")
            return frozenset(value)

        settings = cls(
            pipeline_name=text("PIPELINE_NAME", PIPELINE_NAME_RE),
            pipeline_region=text("PIPELINE_REGION", REGION_RE),
            starter_role_arn=text("STARTER_ROLE_ARN", ROLE_ARN_RE, required=False) or None,
            state_table=text("STATE_TABLE", re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")),
            cooldown_minutes=integer("COOLDOWN_MINUTES", 0),
            daily_max=integer("DAILY_MAX", 1),
            alarm_arns=arn_list("ALARM_ARNS", ALARM_ARN_RE, required=True),
            schedule_arns=arn_list("SCHEDULE_ARNS", SCHEDULE_ARN_RE, required=False),
            topic_arn=text("TOPIC_ARN", TOPIC_ARN_RE),
            training_data_uri=text("TRAINING_DATA_URI", S3_PREFIX_RE),
            environment=text("ENVIRONMENT", re.compile(r"^[a-z][a-z0-9-]{0,31}$")),
        )
        if problems:
            raise ValueError("the retraining function's environment variables are wrong: " + "; ".join(problems))
        return settings

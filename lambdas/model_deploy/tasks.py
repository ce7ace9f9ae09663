"""The deploy flow's task requests (one per ``action``) and the function's settings, typed.

Step Functions sends every task ``{"action", "environment", "execution_name", "request": <the execution's input>}``
plus the action's own fields. A request that does not parse raises (naming the field): it can only come from a state
machine definition that disagrees with this code, which a retry does not fix, and the execution then fails and
notifies with the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

#: A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>.
PACKAGE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([^/]+)/(\d+)$")


def package_version(arn: str) -> tuple[str, int] | None:
    """(group, version) of a versioned model package ARN; None for anything else (e.g. ``none``)."""
    match = PACKAGE_ARN_RE.fullmatch(arn)
    return (match.group(1), int(match.group(2))) if match else None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeployInput(Strict):
    """The execution's input, as the trigger (or a person) starts it."""

    model_package_arn: str = Field(pattern=PACKAGE_ARN_RE.pattern)
    version: int = Field(ge=1)
    reason: Literal["approved", "rollback"]
    environments: list[str] = Field(min_length=1)
    rejected_arn: str | None = Field(default=None, pattern=PACKAGE_ARN_RE.pattern)


class Deployment(Strict):
    """What ``deploy`` did in one environment; ``wait`` watches it."""

    environment: str
    stack_name: str
    changed: bool  # False: the stack already ran this package ("No updates are to be performed")
    previous: str  # the package the stack ran before (restored in the parameter if the update fails)
    client_request_token: str
    started_at: str  # ISO 8601, UTC


class TaskError(BaseModel):
    """A caught error, as Step Functions passes it (``Error``, ``Cause``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    error: str = Field(default="", alias="Error")
    cause: str = Field(default="", alias="Cause")


class Task(Strict):
    environment: str
    execution_name: str = Field(min_length=1, max_length=80)
    request: DeployInput


class DeployTask(Task):
    action: Literal["deploy"]


class WaitTask(Task):
    action: Literal["wait"]
    deployment: Deployment


class SmokeTask(Task):
    action: Literal["smoke"]


class MarkTask(Task):
    action: Literal["mark"]


class ApprovalTask(Task):
    action: Literal["request_approval"]
    task_token: str = Field(min_length=1)


class NotifyTask(Task):
    action: Literal["notify"]
    outcome: Literal["live", "failed"]
    error: TaskError | None = None
    smoke: dict[str, Any] | None = None


AnyTask = DeployTask | WaitTask | SmokeTask | MarkTask | ApprovalTask | NotifyTask
_TASK: TypeAdapter[AnyTask] = TypeAdapter(Annotated[AnyTask, Field(discriminator="action")])


def parse_task(event: Any) -> AnyTask:
    """The task request; ValueError naming each wrong field."""
    try:
        return _TASK.validate_python(event)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ValueError(f"malformed deploy-flow task: {problems}") from None


class Target(Strict):
    """A serving environment this registry deploys to, as the stack describes it to the function."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,9}$")
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(min_length=1)
    parameter: str = Field(pattern=r"^/")  # the live-model SSM parameter
    stack_name: str = Field(min_length=1)  # the serving stack
    endpoint_name: str = Field(min_length=1)
    #: The serving stack's role the deploy flow assumes (in every account: the flow's own roles may do nothing else
    #: there) and the role CloudFormation updates the stack as (the only one the deployer may pass).
    deployer_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/")
    update_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/")
    smoke_rows: int = Field(ge=1)
    smoke_max_latency_p95_ms: int = Field(ge=1)


class Settings(BaseModel):
    """The function's environment variables (set by the stack from config.naming)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    group: str = Field(alias="MODEL_PACKAGE_GROUP", min_length=1)
    topic_arn: str = Field(alias="TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:")
    live_model_cfn_parameter: str = Field(alias="LIVE_MODEL_CFN_PARAMETER", min_length=1)
    targets: tuple[Target, ...] = Field(alias="TARGETS", min_length=1)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Raises naming the variable when the stack set it wrong (the function cannot work at all then)."""
        raw: dict[str, Any] = dict(environ)
        try:
            raw["TARGETS"] = json.loads(environ.get("TARGETS", "null"))
        except json.JSONDecodeError as error:
            raise ValueError(f"environment variable TARGETS is not JSON: {error}") from error
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            raise ValueError(f"the function's environment variables are wrong: {error}") from error

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise ValueError(f"unknown serving environment {name!r}: this deploy flow serves "
                         f"{', '.join(t.name for t in self.targets)}")  # fmt: skip

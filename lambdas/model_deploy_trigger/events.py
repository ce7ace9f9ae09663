"""What the trigger reads: the EventBridge event of a model package state change, and its own settings.

The event's detail is the model package as DescribeModelPackage shows it (SageMaker developer guide, "Events that
Amazon SageMaker AI sends to Amazon EventBridge", model package state change): the fields read here are the group,
the version, the ARN, the approval status and the last modification time. Anything that is not such an event of this
group is *ignored with its reason*, never raised: EventBridge would retry a raising invocation and then park the event
in the dead-letter queue, and a malformed event does not get better by being retried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"
#: A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>.
PACKAGE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([^/]+)/(\d+)$")


class PackageDetail(BaseModel):
    """The fields of the package (the event's detail) the decision needs; SageMaker sends many more."""

    model_config = ConfigDict(extra="ignore")

    group: str = Field(alias="ModelPackageGroupName", min_length=1)
    version: int = Field(alias="ModelPackageVersion", ge=1)
    arn: str = Field(alias="ModelPackageArn", pattern=PACKAGE_ARN_RE.pattern)
    status: str = Field(alias="ModelApprovalStatus")
    last_modified: str | None = Field(default=None, alias="LastModifiedTime")


class PackageStateChange(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: PackageDetail  # EventBridgeModel types it as Any


@dataclass(frozen=True)
class Ignored:
    """An event the trigger does nothing with, and why (logged)."""

    reason: str


def package_version(arn: str) -> tuple[str, int] | None:
    """(group, version) of a versioned model package ARN; None for anything else (e.g. ``none``)."""
    match = PACKAGE_ARN_RE.fullmatch(arn)
    return (match.group(1), int(match.group(2))) if match else None


def parse_event(event: Any, group: str) -> PackageStateChange | Ignored:
    """The event as a typed state change of ``group``'s packages, or why it is ignored (malformed, another source or
    detail type, another group, a detail whose ARN does not name the same group and version)."""
    if not isinstance(event, Mapping):
        return Ignored(f"the event is a {type(event).__name__}, not an EventBridge event object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        return Ignored(f"not a {DETAIL_TYPE!r} event of {SOURCE}: source {event.get('source')!r}, "
                       f"detail-type {event.get('detail-type')!r}")  # fmt: skip
    try:
        change = PackageStateChange.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"detail.{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" if e["loc"][:1] == ("detail",)
            else f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in error.errors()
        )  # fmt: skip
        return Ignored(f"malformed {DETAIL_TYPE} event {event.get('id')!r}: {problems}")
    detail = change.detail
    if detail.group != group:
        return Ignored(f"package {detail.arn} belongs to the group {detail.group!r}, not {group!r}")
    if package_version(detail.arn) != (detail.group, detail.version):
        return Ignored(f"the event's ARN {detail.arn} does not name version {detail.version} of {detail.group}")
    return change


class Target(BaseModel):
    """A serving environment this registry deploys to, as the stack describes it to the function."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,9}$")
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(min_length=1)
    parameter: str = Field(pattern=r"^/")  # the live-model SSM parameter
    #: The serving stack's deployer role, assumed to read the parameter (in every account: the trigger's own role
    #: may do nothing in a serving environment).
    deployer_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/")


class Settings(BaseModel):
    """The function's environment variables (set by the stack from config.naming)."""

    model_config = ConfigDict(extra="ignore")

    group: str = Field(alias="MODEL_PACKAGE_GROUP", min_length=1)
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:")
    topic_arn: str = Field(alias="TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
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

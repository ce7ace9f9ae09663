"""Empty a SageMaker model package group so that CloudFormation can delete the group.

CloudFormation cannot delete an ``AWS::SageMaker::ModelPackageGroup`` that still holds model packages (versions), and
the versions are registered by pipeline runs, not by CloudFormation. This is the ``on_event`` handler of a custom
resource whose properties reference the group: CloudFormation deletes the custom resource before the group, and on
Delete this deletes every version of the group - only when the group itself is to be deleted (throw-away
environments, ``DeletePackagesOnDelete``), never for a retained group.

What the SageMaker API does, and how this code relies on it:

- ``ListModelPackages`` with ``ModelPackageGroupName`` and ``ModelPackageType=Versioned`` lists the group's versions
  of any approval status, at most 100 per page (``NextToken``).
- ``DeleteModelPackage`` is asynchronous: the package turns ``Deleting`` and disappears later (the
  ``AWS::SageMaker::ModelPackage`` resource provider waits for that too). The group can only be deleted once they are
  gone, so this waits until the list is empty, within the invocation's time.
- A package or group that no longer exists answers ``ValidationException`` "... does not exist": CloudFormation
  retries deletes, so that counts as done.
- Throttled calls are retried with exponential backoff until the invocation's time runs out.

Every other failure raises: the Provider framework then reports FAILED to CloudFormation with the message, and the
delete can simply be run again (everything here is idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.utilities.parser.models import (
    CloudFormationCustomResourceCreateModel,
    CloudFormationCustomResourceDeleteModel,
    CloudFormationCustomResourceUpdateModel,
)
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

#: The largest page ListModelPackages returns.
PAGE_SIZE = 100
#: The status of a package SageMaker is deleting (ModelPackageStatus).
DELETING = "Deleting"
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)
#: How SageMaker says that a package or group does not exist (any more).
NOT_FOUND_CODES = frozenset({"ValidationException", "ResourceNotFound", "ResourceNotFoundException"})
NOT_FOUND_MESSAGES = ("does not exist", "cannot find", "not found")
#: Backoff after a throttled call: 1, 2, 4, ... seconds, never longer than this between two attempts.
MAX_BACKOFF_SECONDS = 20.0
#: How long to wait before looking again at packages SageMaker is still deleting.
POLL_SECONDS = 5.0
#: How many packages a failure message names; CloudFormation shows a status reason of limited length.
MAX_NAMED = 5

T = TypeVar("T")


class CleanupError(RuntimeError):
    """The group could not be emptied; the message names the group, the packages and SageMaker's answer."""


class CleanupProperties(BaseModel):
    """``ResourceProperties`` of the custom resource (CloudFormation passes every value as a string)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)  # ServiceToken, ModelPackageGroupArn

    group_name: str = Field(alias="ModelPackageGroupName", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    delete_packages: bool = Field(alias="DeletePackagesOnDelete")


class CreateRequest(CloudFormationCustomResourceCreateModel):
    resource_properties: CleanupProperties = Field(alias="ResourceProperties")


class UpdateRequest(CloudFormationCustomResourceUpdateModel):
    resource_properties: CleanupProperties = Field(alias="ResourceProperties")


class DeleteRequest(CloudFormationCustomResourceDeleteModel):
    resource_properties: CleanupProperties = Field(alias="ResourceProperties")


Request = CreateRequest | UpdateRequest | DeleteRequest
_REQUEST: TypeAdapter[Request] = TypeAdapter(Annotated[Request, Field(discriminator="request_type")])


def parse_request(event: Mapping[str, Any]) -> Request:
    """The CloudFormation custom resource request; a malformed one raises pydantic's ValidationError naming the
    field."""
    return _REQUEST.validate_python(event)


@dataclass(frozen=True)
class Package:
    arn: str
    status: str

    def __str__(self) -> str:
        return f"{self.arn} ({self.status or 'status unknown'})"


@dataclass(frozen=True)
class Outcome:
    """What a request did: the physical id to report and the packages whose deletion was requested."""

    physical_resource_id: str
    action: str
    deleted: tuple[str, ...] = ()


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def is_gone(error: ClientError) -> bool:
    """Whether SageMaker answered that the package or group does not exist (any more)."""
    message = _message(error).lower()
    return _code(error) in NOT_FOUND_CODES and any(marker in message for marker in NOT_FOUND_MESSAGES)


def call_with_backoff(
    call: Callable[[], T], *, what: str, seconds_left: Callable[[], float], sleep: Callable[[float], None]
) -> T:
    """``call()``, retried after throttling with exponential backoff for as long as the invocation has time.

    Throttling is expected when a few hundred versions are deleted in a row; any other error is raised at once.
    """
    delay, attempts = 1.0, 1
    while True:
        try:
            return call()
        except ClientError as error:
            if _code(error) not in THROTTLING_CODES:
                raise
            if seconds_left() < delay:
                raise CleanupError(
                    f"{what}: still throttled after {attempts} attempts ({_code(error)}: {_message(error)}) and out "
                    "of time; delete the stack again to continue"
                ) from error
            sleep(delay)
            delay, attempts = min(delay * 2, MAX_BACKOFF_SECONDS), attempts + 1


def list_packages(
    sagemaker: Any, group_name: str, *, seconds_left: Callable[[], float], sleep: Callable[[float], None]
) -> list[Package]:
    """Every version of the group, any approval status, any package status; [] if the group does not exist."""
    packages: list[Package] = []
    request: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "ModelPackageType": "Versioned",
        "MaxResults": PAGE_SIZE,
    }
    while True:
        try:
            page = call_with_backoff(
                lambda: sagemaker.list_model_packages(**request),
                what=f"listing the model packages of {group_name}",
                seconds_left=seconds_left,
                sleep=sleep,
            )
        except ClientError as error:
            if is_gone(error):
                return []
            raise CleanupError(f"listing the model packages of {group_name} failed: {error}") from error
        packages += [
            Package(summary["ModelPackageArn"], summary.get("ModelPackageStatus", ""))
            for summary in page.get("ModelPackageSummaryList", [])
        ]
        if not page.get("NextToken"):
            return packages
        request["NextToken"] = page["NextToken"]


def delete_package(
    sagemaker: Any, arn: str, *, seconds_left: Callable[[], float], sleep: Callable[[float], None]
) -> None:
    """Request the deletion of one package; a package that is already gone counts as deleted."""
    try:
        call_with_backoff(
            lambda: sagemaker.delete_model_package(ModelPackageName=arn),
            what=f"deleting {arn}",
            seconds_left=seconds_left,
            sleep=sleep,
        )
    except ClientError as error:
        if not is_gone(error):
            raise


def _named(items: list[str]) -> str:
    shown = "; ".join(items[:MAX_NAMED])
    return shown if len(items) <= MAX_NAMED else f"{shown}; and {len(items) - MAX_NAMED} more"


def empty_group(
    sagemaker: Any,
    group_name: str,
    *,
    seconds_left: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, ...]:
    """Delete every version of ``group_name`` and return once SageMaker lists none (it deletes asynchronously).

    Returns the ARNs whose deletion this call requested. Raises :class:`CleanupError` naming the packages that could
    not be deleted (after trying all of them), or the ones still present when time runs out. Packages registered
    while this runs are deleted too: the group is listed again until it is empty.
    """
    requested: dict[str, None] = {}  # insertion-ordered set
    while True:
        packages = list_packages(sagemaker, group_name, seconds_left=seconds_left, sleep=sleep)
        if not packages:
            return tuple(requested)
        to_delete = [p for p in packages if p.status != DELETING and p.arn not in requested]
        failures: list[str] = []
        for package in to_delete:
            if seconds_left() <= 0:
                raise CleanupError(
                    f"out of time after requesting the deletion of {len(requested)} model packages of {group_name}; "
                    f"{len(packages) - len(requested)} remain: delete the stack again to continue"
                )
            try:
                delete_package(sagemaker, package.arn, seconds_left=seconds_left, sleep=sleep)
            except ClientError as error:
                failures.append(f"{package}: {_code(error)}: {_message(error)}")
            else:
                requested[package.arn] = None
        if failures:
            raise CleanupError(
                f"could not delete {len(failures)} of the {len(packages)} model packages of {group_name}, so "
                f"CloudFormation cannot delete the group: {_named(failures)}"
            )
        if not to_delete:  # everything listed is being deleted by SageMaker: wait for it to disappear
            if seconds_left() < POLL_SECONDS:
                raise CleanupError(
                    f"out of time waiting for SageMaker to delete {len(packages)} model packages of {group_name}: "
                    f"{_named([str(p) for p in packages])}; delete the stack again once they are gone"
                )
            sleep(POLL_SECONDS)


def on_event(
    request: Request,
    *,
    sagemaker: Any,
    seconds_left: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Create/Update: nothing to do but name the resource after the group (a renamed group is a new resource, and
    CloudFormation then deletes the old one, emptying the old group). Delete: empty the group if it is to be
    deleted with the stack."""
    properties = request.resource_properties
    if not isinstance(request, DeleteRequest):
        return Outcome(properties.group_name, f"{request.request_type}: nothing to do")
    if not properties.delete_packages:
        return Outcome(request.physical_resource_id, "Delete: the group is retained, so are its model packages")
    deleted = empty_group(sagemaker, properties.group_name, seconds_left=seconds_left, sleep=sleep)
    return Outcome(request.physical_resource_id, f"Delete: emptied {properties.group_name}", deleted)

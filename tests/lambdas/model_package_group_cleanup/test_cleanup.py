"""Emptying a model package group: every version goes, retained groups and other groups are untouched, and every
failure is an error naming the package - never a success that leaves CloudFormation unable to delete the group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from model_package_group_cleanup.cleanup import (
    DELETING,
    PAGE_SIZE,
    POLL_SECONDS,
    CleanupError,
    empty_group,
    list_packages,
    on_event,
    parse_request,
)

from tests.lambdas.model_package_group_cleanup.conftest import GROUP, REGION, Clock, Registry, cfn_event


def arn(version: int, group: str = GROUP) -> str:
    return f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{group}/{version}"


def run(registry: Registry, event: dict[str, Any]) -> Any:
    return on_event(
        parse_request(event), sagemaker=registry.client, seconds_left=registry.clock.seconds_left,
        sleep=registry.clock.sleep,
    )  # fmt: skip


# --- against moto ---------------------------------------------------------------------------------------------------


def test_delete_removes_every_version_of_the_group_only(registry: Registry) -> None:
    versions = registry.register(PAGE_SIZE + 30)  # more than one page, every approval status
    others = registry.register(3, group="mlops-dev-other")
    outcome = run(registry, cfn_event("Delete"))
    assert registry.versions() == []
    assert sorted(outcome.deleted) == sorted(versions)
    assert sorted(registry.deleted) == sorted(versions)  # each asked for exactly once
    assert registry.versions("mlops-dev-other") == others
    assert outcome.physical_resource_id == GROUP


def test_listing_follows_every_page(registry: Registry) -> None:
    versions = registry.register(2 * PAGE_SIZE + 1)
    listed = list_packages(registry.client, GROUP, seconds_left=registry.clock.seconds_left, sleep=registry.clock.sleep)
    assert sorted(p.arn for p in listed) == sorted(versions)


def test_waits_until_sagemaker_has_deleted_them(registry: Registry) -> None:
    """DeleteModelPackage is asynchronous: the group can only go once the list is empty."""
    registry.deletion = "later"
    versions = registry.register(4)
    deleted = empty_group(registry.client, GROUP, seconds_left=registry.clock.seconds_left, sleep=registry.clock.sleep)
    assert registry.versions() == []
    assert sorted(deleted) == sorted(versions)
    assert registry.clock.sleeps == [POLL_SECONDS]
    assert sorted(registry.deleted) == sorted(versions)  # a package being deleted is not asked again


def test_versions_registered_meanwhile_are_deleted_too(registry: Registry) -> None:
    registry.register(2)
    late: list[str] = []
    registry.after_delete.append(lambda _: late.extend(registry.register(1)) if not late else None)
    deleted = empty_group(registry.client, GROUP, seconds_left=registry.clock.seconds_left, sleep=registry.clock.sleep)
    assert registry.versions() == []
    assert late[0] in deleted


def test_out_of_time_while_sagemaker_is_still_deleting(registry: Registry) -> None:
    registry.deletion = "never"
    versions = registry.register(2)
    registry.clock.budget = POLL_SECONDS * 3
    with pytest.raises(CleanupError, match="out of time waiting") as raised:
        empty_group(registry.client, GROUP, seconds_left=registry.clock.seconds_left, sleep=registry.clock.sleep)
    assert all(f"{v} ({DELETING})" in str(raised.value) for v in versions)


def test_out_of_time_before_every_version_was_deleted(registry: Registry) -> None:
    registry.register(5)
    registry.after_delete.append(lambda _: setattr(registry.clock, "now", registry.clock.budget))
    with pytest.raises(CleanupError, match=f"out of time after requesting the deletion of 1 model packages of {GROUP}"):
        empty_group(registry.client, GROUP, seconds_left=registry.clock.seconds_left, sleep=registry.clock.sleep)
    assert len(registry.versions()) == 4


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_touch_nothing(registry: Registry, request_type: str) -> None:
    versions = registry.register(3)
    outcome = run(registry, cfn_event(request_type))
    assert outcome.physical_resource_id == GROUP
    assert registry.versions() == versions
    assert registry.deleted == []


def test_update_to_another_group_names_the_new_resource(registry: Registry) -> None:
    """A renamed group is a new group: the new physical id makes CloudFormation delete the old resource."""
    versions = registry.register(2)
    outcome = run(registry, cfn_event("Update", group="mlops-dev-models-v2", old_group=GROUP))
    assert outcome.physical_resource_id == "mlops-dev-models-v2"
    assert registry.versions() == versions


def test_a_retained_group_keeps_its_versions(registry: Registry) -> None:
    versions = registry.register(3)
    outcome = run(registry, cfn_event("Delete", delete_packages=False))
    assert registry.versions() == versions
    assert outcome.deleted == ()


def test_a_group_that_is_already_gone_is_done(registry: Registry) -> None:
    outcome = run(registry, cfn_event("Delete", group="mlops-dev-never-created"))
    assert outcome.deleted == ()
    assert outcome.physical_resource_id == GROUP


def test_a_second_delete_is_a_no_op(registry: Registry) -> None:
    """CloudFormation retries deletes: running again after success changes nothing and succeeds."""
    registry.register(3)
    run(registry, cfn_event("Delete"))
    assert run(registry, cfn_event("Delete")).deleted == ()


# --- errors SageMaker answers, through botocore's Stubber -----------------------------------------------------------


@pytest.fixture
def stub() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def listing(*versions: int, status: str = "Completed", token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "ModelPackageSummaryList": [
            {"ModelPackageArn": arn(v), "ModelPackageGroupName": GROUP, "ModelPackageVersion": v,
             "CreationTime": "2026-11-30T12:00:00Z", "ModelPackageStatus": status,
             "ModelApprovalStatus": "Approved"}
            for v in versions
        ]
    }  # fmt: skip
    if token:
        page["NextToken"] = token
    return page


LIST_PARAMS = {"ModelPackageGroupName": GROUP, "ModelPackageType": "Versioned", "MaxResults": PAGE_SIZE}


def empty(client: Any, clock: Clock) -> tuple[str, ...]:
    return empty_group(client, GROUP, seconds_left=clock.seconds_left, sleep=clock.sleep)


def test_lists_any_approval_status_of_versioned_packages(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    stubber.add_response("list_model_packages", listing(1, token="t"), LIST_PARAMS)
    stubber.add_response("list_model_packages", listing(2), {**LIST_PARAMS, "NextToken": "t"})
    assert [p.arn for p in list_packages(client, GROUP, seconds_left=clock.seconds_left, sleep=clock.sleep)] == [
        arn(1),
        arn(2),
    ]


def test_a_failing_delete_names_the_package_after_trying_the_others(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    stubber.add_response("list_model_packages", listing(1, 2, 3), LIST_PARAMS)
    stubber.add_response("delete_model_package", {}, {"ModelPackageName": arn(1)})
    stubber.add_client_error(
        "delete_model_package", "ConflictException", "Model package is in use.", 400,
        expected_params={"ModelPackageName": arn(2)},
    )  # fmt: skip
    stubber.add_response("delete_model_package", {}, {"ModelPackageName": arn(3)})
    with pytest.raises(CleanupError) as raised:
        empty(client, clock)
    message = str(raised.value)
    assert f"{arn(2)} (Completed): ConflictException: Model package is in use." in message
    assert arn(1) not in message
    assert arn(3) not in message
    assert "could not delete 1 of the 3 model packages of mlops-dev-models" in message


def test_an_already_deleted_package_counts_as_deleted(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    stubber.add_response("list_model_packages", listing(1, 2), LIST_PARAMS)
    stubber.add_response("delete_model_package", {}, {"ModelPackageName": arn(1)})
    stubber.add_client_error(
        "delete_model_package", "ValidationException", f"ModelPackage {arn(2)} does not exist.", 400
    )
    stubber.add_response("list_model_packages", listing(), LIST_PARAMS)
    assert empty(client, clock) == (arn(1), arn(2))  # deleted by someone else in the meantime: done all the same


def test_a_group_sagemaker_says_does_not_exist_is_done(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    group_arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package-group/{GROUP}"
    stubber.add_client_error(
        "list_model_packages", "ValidationException", f"ModelPackageGroup {group_arn} does not exist.", 400
    )
    assert empty(client, clock) == ()


def test_other_validation_errors_are_not_taken_for_a_missing_group(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    stubber.add_client_error("list_model_packages", "ValidationException", "1 validation error detected", 400)
    with pytest.raises(CleanupError, match="listing the model packages of mlops-dev-models failed"):
        empty(client, clock)


def test_access_denied_is_an_error(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    stubber.add_client_error(
        "list_model_packages", "AccessDeniedException", "not authorized to perform: sagemaker:ListModelPackages", 400
    )
    with pytest.raises(CleanupError, match=r"AccessDeniedException.*sagemaker:ListModelPackages"):
        empty(client, clock)


def test_throttled_calls_are_retried_with_backoff(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    stubber.add_client_error("list_model_packages", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_response("list_model_packages", listing(1), LIST_PARAMS)
    for _ in range(3):
        stubber.add_client_error("delete_model_package", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_response("delete_model_package", {}, {"ModelPackageName": arn(1)})
    stubber.add_response("list_model_packages", listing(), LIST_PARAMS)
    assert empty(client, clock) == (arn(1),)
    assert clock.sleeps == [1.0, 1.0, 2.0, 4.0]


def test_throttled_until_out_of_time_names_the_package(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    clock.budget = 5.0
    stubber.add_response("list_model_packages", listing(1), LIST_PARAMS)
    for _ in range(3):  # waits 1 + 2 s, then 4 s no longer fit in the 2 s left
        stubber.add_client_error("delete_model_package", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(CleanupError, match=rf"deleting {arn(1)}: still throttled after 3 attempts"):
        empty(client, clock)
    assert clock.sleeps == [1.0, 2.0]


def test_packages_sagemaker_is_deleting_are_not_deleted_again(stub: tuple[Any, Stubber], clock: Clock) -> None:
    client, stubber = stub
    stubber.add_response("list_model_packages", listing(1, status=DELETING), LIST_PARAMS)
    stubber.add_response("list_model_packages", listing(), LIST_PARAMS)
    assert empty(client, clock) == ()
    assert clock.sleeps == [POLL_SECONDS]

"""The trigger's decisions against moto (registry, live-model parameters in two accounts, Step Functions, SNS),
with real-shaped events: approved, pending, rejected, duplicates, out of order, the deploy flow's own metadata
re-fire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from model_deploy_trigger.decide import Outcome, decide, execution_name
from model_deploy_trigger.events import PackageStateChange, Settings, Target, parse_event
from model_deploy_trigger.live import live_reader

from tests.lambdas.model_deploy_trigger import sample_events as samples
from tests.lambdas.model_deploy_trigger.world import PROD_ACCOUNT, World, client_in

pytestmark = pytest.mark.xdist_group("model-deploy-moto")

REGION = samples.REGION


def settings_of(world: World) -> Settings:
    return Settings.from_environ({
        "MODEL_PACKAGE_GROUP": world.group,
        "STATE_MACHINE_ARN": world.state_machine_arn,
        "TOPIC_ARN": world.topic_arn,
        "TARGETS": json.dumps(world.targets()),
    })  # fmt: skip


def act(world: World, event: dict[str, object]) -> Outcome:
    change = parse_event(event, world.group)
    assert isinstance(change, PackageStateChange), change
    read = live_reader(lambda target: client_in(target.name, "ssm"))  # ssm_factory's clients, cached
    return decide(change, settings_of(world), read_live=read, sfn=world.sfn, sagemaker=world.sagemaker, sns=world.sns)


def test_an_approval_starts_one_rollout_of_that_version_to_every_environment_in_order(world: World) -> None:
    world.register("Approved")
    arn = world.register("Approved")
    world.register("PendingManualApproval")  # a newer, unapproved version is never what an approval deploys

    outcome = act(world, world.event("Approved", 2))

    assert outcome.action == "started"
    [execution] = world.executions()
    assert execution["name"] == outcome.execution_name
    assert execution["name"].startswith("v2-approved-")
    assert execution["input"] == {
        "model_package_arn": arn, "version": 2, "reason": "approved", "environments": ["dev", "staging", "prod"],
        "rejected_arn": None,
    }  # fmt: skip
    [(subject, message)] = world.notifications()
    assert "v2" in subject
    assert "started" in subject
    assert "dev, staging, prod" in message


def test_a_duplicate_event_never_starts_twice(world: World) -> None:
    world.register("Approved")
    first = act(world, world.event("Approved", 1))
    again = act(world, world.event("Approved", 1, event_id="another-delivery"))

    assert first.action == "started"
    assert again.action == "skipped"
    assert "being deployed" in again.reason
    assert len(world.executions()) == 1


def test_a_duplicate_after_the_execution_ended_is_a_no_op(world: World) -> None:
    world.register("Approved")
    first = act(world, world.event("Approved", 1))
    [execution] = world.executions()
    world.sfn.stop_execution(executionArn=execution["executionArn"])  # e.g. it failed before changing anything

    again = act(world, world.event("Approved", 1))

    assert again.action == "already-started"
    assert again.execution_name == first.execution_name
    assert "start-execution" in again.reason  # how to run it again, on purpose
    assert len(world.executions()) == 1
    assert len(world.notifications()) == 1  # only the first start was announced


def test_the_same_name_for_the_same_input_and_live_state_only() -> None:
    payload = {"model_package_arn": samples.package_arn(4), "version": 4, "reason": "approved",
               "environments": ["dev"], "rejected_arn": None}  # fmt: skip
    name = execution_name(payload, {"dev": "none"})
    assert name == execution_name(dict(payload), {"dev": "none"})
    assert name != execution_name(payload, {"dev": samples.package_arn(3)})
    assert name != execution_name({**payload, "environments": ["dev", "prod"]}, {"dev": "none"})
    assert len(name) <= 80


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_a_registration_awaiting_approval_or_a_rejected_version_nowhere_live_deploys_nothing(
    world: World, status: str
) -> None:
    world.register(status)
    outcome = act(world, world.event(status, 1))
    assert outcome.action == "skipped"
    assert world.executions() == []
    assert world.notifications() == []


def test_the_deploy_flows_own_metadata_update_does_not_deploy_again(world: World) -> None:
    arn = world.register("Approved")
    act(world, world.event("Approved", 1))
    world.sfn.stop_execution(executionArn=world.executions()[0]["executionArn"])  # the rollout finished in dev ...
    world.set_live("dev", arn)  # ... where v1 is live; prod's approval was refused, say

    refire = world.event(
        "Approved",
        1,
        last_modified="2026-12-01T17:20:00Z",
        metadata={"decision_threshold": "0.91", "live_in_dev": "2026-12-01T17:19:58+00:00"},
    )
    outcome = act(world, refire)

    assert outcome.action == "skipped"
    assert "already live in dev" in outcome.reason
    assert len(world.executions()) == 1


def test_a_rollbacks_mark_does_not_roll_that_version_forward(world: World) -> None:
    """v1 was rolled back into staging (v2 rejected there) while prod runs v1's predecessor: the mark re-fires v1's
    Approved event, and prod must not get v1 from it."""
    older = world.register("Approved")
    arn = world.register("Approved")
    world.set_live("staging", arn)
    world.set_live("prod", older)
    assert act(world, world.event("Approved", 2)).action == "skipped"
    assert world.executions() == []


def test_an_approval_older_than_the_live_version_is_not_deployed_but_announced(world: World) -> None:
    world.register("PendingManualApproval")
    newer = world.register("Approved")
    world.set_live("prod", newer)
    world.set_status(1, "Approved")  # approved after v2 went live (or its event arrived late)

    outcome = act(world, world.event("Approved", 1))

    assert outcome.action == "notified"
    assert world.executions() == []
    [(subject, message)] = world.notifications()
    assert "v1" in subject
    assert "not deployed" in subject
    assert "v2 in prod" in message
    assert "reject" in message.lower()
    assert "aws stepfunctions start-execution" in message


def test_a_newer_approval_replaces_the_live_version(world: World) -> None:
    older = world.register("Approved")
    world.register("Approved")
    for env in ("dev", "staging", "prod"):
        world.set_live(env, older)
    assert act(world, world.event("Approved", 2)).action == "started"


def test_live_versions_are_read_in_each_environments_account(world: World) -> None:
    """prod's parameter lives in prod's account: read with the registry's own credentials it would not exist."""
    arn = world.register("Approved")
    world.set_live("prod", arn)
    outcome = act(world, world.event("Approved", 1))
    assert outcome.action == "skipped"
    assert "live in prod" in outcome.reason
    assert PROD_ACCOUNT in world.targets()[2]["deployer_role_arn"]


def test_rejecting_a_live_version_rolls_back_where_it_is_live_to_the_newest_older_approved_one(world: World) -> None:
    world.register("Approved")  # v1
    previous = world.register("Approved")  # v2: the one to roll back to
    world.register("Rejected")  # v3: rejected, never a rollback target
    world.register("PendingManualApproval")  # v4
    rejected = world.register("Approved")  # v5
    world.register("Approved")  # v6: newer, never a rollback target
    world.set_live("dev", rejected)
    world.set_live("prod", rejected)
    world.set_status(5, "Rejected")

    outcome = act(world, world.event("Rejected", 5))

    assert outcome.action == "started"
    [execution] = world.executions()
    assert execution["name"].startswith("v2-rollback-")
    assert execution["input"] == {
        "model_package_arn": previous, "version": 2, "reason": "rollback", "environments": ["dev", "prod"],
        "rejected_arn": rejected,
    }  # fmt: skip
    [(subject, _)] = world.notifications()
    assert "rolling back to v2" in subject
    assert act(world, world.event("Rejected", 5)).action == "skipped"  # duplicate: the rollback is running
    assert len(world.executions()) == 1


def test_rejecting_a_live_version_without_an_older_approved_one_keeps_it_and_alerts(world: World) -> None:
    world.register("Rejected")
    arn = world.register("Approved")
    world.set_live("staging", arn)
    world.set_status(2, "Rejected")

    outcome = act(world, world.event("Rejected", 2))

    assert outcome.action == "notified"
    assert world.executions() == []
    assert world.live("staging") == arn
    [(subject, message)] = world.notifications()
    assert "nothing to roll back" in subject
    assert "keep serving v2" in message


def test_an_environment_whose_deployer_role_cannot_be_assumed_does_not_block_the_others(world: World) -> None:
    """prod's serving stack (and its deployer role) is not deployed yet: dev and staging still get the approval."""
    world.register("Approved")
    change = parse_event(world.event("Approved", 1), world.group)
    assert isinstance(change, PackageStateChange)

    def ssm_for(target: Target) -> Any:
        if target.name == "prod":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole")
        return client_in(target.name, "ssm")

    outcome = decide(change, settings_of(world), read_live=live_reader(ssm_for), sfn=world.sfn,
                     sagemaker=world.sagemaker, sns=world.sns)  # fmt: skip
    assert outcome.action == "started"
    assert outcome.execution_input is not None
    assert outcome.execution_input["environments"] == ["dev", "staging", "prod"]  # prod's deploy step says why

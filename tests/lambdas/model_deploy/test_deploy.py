"""``deploy`` and ``wait`` against moto (registry, live-model parameters in each environment's account) and the
serving stack's CloudFormation API stubbed with its real shapes (see deploy_world)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from model_deploy.errors import (
    DeploymentFailed,
    DeploymentTimedOut,
    NewerVersionLive,
    NotApproved,
    StackBusy,
    Superseded,
)
from model_deploy.stack_update import client_request_token, deploy, wait
from model_deploy.tasks import DeployInput, Deployment

from tests.lambdas.model_deploy.deploy_world import LIVE_PARAMETER, STARTED, DeployWorld
from tests.lambdas.model_deploy_trigger.world import client_in, update_role_arn

pytestmark = pytest.mark.xdist_group("model-deploy-moto")
EXECUTION = "v2-approved-0123456789ab"


def request(arn: str, version: int, *, reason: str = "approved", rejected: str | None = None) -> DeployInput:
    return DeployInput(model_package_arn=arn, version=version, reason=reason,  # type: ignore[arg-type]
                       environments=["dev", "staging", "prod"], rejected_arn=rejected)  # fmt: skip


def run_deploy(dw: DeployWorld, env: str, req: DeployInput) -> Deployment:
    target = dw.target(env)
    return deploy(req, target, execution_name=EXECUTION, cfn_parameter=LIVE_PARAMETER, registry=dw.world.sagemaker,
                  ssm=client_in(env, "ssm"), cfn=dw.stacks[env].client, now=lambda: STARTED)  # fmt: skip


def test_deploy_writes_the_parameter_and_updates_the_stack_with_the_previous_template(
    deploy_world: DeployWorld,
) -> None:
    dw = deploy_world
    old, new = dw.world.register("Approved"), dw.world.register("Approved")
    dw.world.set_live("prod", old)
    dw.stacks["prod"].describe("UPDATE_COMPLETE", resolved=old)
    dw.stacks["prod"].update(update_role_arn("prod"), token=client_request_token(EXECUTION, "prod"))

    deployment = run_deploy(dw, "prod", request(new, 2))

    dw.stacks["prod"].stubber.assert_no_pending_responses()
    assert dw.world.live("prod") == new  # in prod's own account
    assert deployment.changed
    assert deployment.previous == old
    assert deployment.client_request_token == f"{EXECUTION}-prod"


def test_a_stack_that_already_runs_the_package_is_not_changed(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    arn = dw.world.register("Approved")
    dw.world.set_live("dev", arn)
    dw.stacks["dev"].describe("UPDATE_COMPLETE", resolved=arn)
    dw.stacks["dev"].update_fails("No updates are to be performed.")
    deployment = run_deploy(dw, "dev", request(arn, 1))
    assert not deployment.changed
    assert wait(request(arn, 1), deployment, dw.target("dev"), ssm=None, cfn=None) == {
        "done": True,
        "status": "unchanged",
    }


def test_a_busy_stack_is_retried_later_and_the_parameter_kept(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    old, new = dw.world.register("Approved"), dw.world.register("Approved")
    dw.world.set_live("dev", old)
    dw.stacks["dev"].describe("UPDATE_IN_PROGRESS", resolved=old)
    with pytest.raises(StackBusy):
        run_deploy(dw, "dev", request(new, 2))
    assert dw.world.live("dev") == old
    dw.stacks["dev"].describe("UPDATE_COMPLETE", resolved=old)  # busy between our look and our update
    dw.stacks["dev"].update_fails("Stack:arn is in UPDATE_IN_PROGRESS state and can not be updated.")
    with pytest.raises(StackBusy):
        run_deploy(dw, "dev", request(new, 2))
    assert dw.world.live("dev") == old


def test_only_approved_packages_are_deployed(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    arn = dw.world.register("Approved")
    dw.world.set_status(1, "Rejected")  # rejected while its rollout waited for an approval
    with pytest.raises(NotApproved, match="Rejected"):
        run_deploy(dw, "prod", request(arn, 1))
    assert dw.world.live("prod") == "none"


def test_an_approved_version_never_replaces_a_newer_one(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    older, newer = dw.world.register("Approved"), dw.world.register("Approved")
    dw.world.set_live("staging", newer)
    dw.stacks["staging"].describe("UPDATE_COMPLETE", resolved=newer)
    with pytest.raises(NewerVersionLive, match="v2 is live in staging"):
        run_deploy(dw, "staging", request(older, 1))
    assert dw.world.live("staging") == newer


def test_a_rollback_replaces_the_rejected_version_only(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    previous, rejected, other = (dw.world.register("Approved") for _ in range(3))
    dw.world.set_live("dev", other)  # someone deployed v3 since v2 was rejected there
    dw.stacks["dev"].describe("UPDATE_COMPLETE", resolved=other)
    with pytest.raises(Superseded):
        run_deploy(dw, "dev", request(previous, 1, reason="rollback", rejected=rejected))
    dw.world.set_live("dev", rejected)
    dw.stacks["dev"].describe("UPDATE_COMPLETE", resolved=rejected)
    dw.stacks["dev"].update(update_role_arn("dev"))
    assert run_deploy(dw, "dev", request(previous, 1, reason="rollback", rejected=rejected)).previous == rejected
    assert dw.world.live("dev") == previous


def deployment_of(old: str, *, started: str = STARTED.isoformat()) -> Deployment:
    return Deployment(environment="prod", stack_name="", changed=True, previous=old,
                      client_request_token=f"{EXECUTION}-prod", started_at=started)  # fmt: skip


def test_wait_polls_until_the_update_completes(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    old, new = dw.world.register("Approved"), dw.world.register("Approved")
    d = deployment_of(old).model_copy(update={"stack_name": dw.target("prod").stack_name})
    for status in ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"):
        dw.stacks["prod"].describe(status, resolved=new)
    results = [wait(request(new, 2), d, dw.target("prod"), ssm=None, cfn=dw.stacks["prod"].client,
                    now=lambda: STARTED + timedelta(minutes=5)) for _ in range(3)]  # fmt: skip
    assert [r["done"] for r in results] == [False, False, True]


def test_a_rolled_back_update_restores_the_parameter_and_names_cloudformations_reasons(
    deploy_world: DeployWorld,
) -> None:
    dw = deploy_world
    old, new = dw.world.register("Approved"), dw.world.register("Approved")
    dw.world.set_live("prod", new)
    d = deployment_of(old).model_copy(update={"stack_name": dw.target("prod").stack_name})
    dw.stacks["prod"].describe("UPDATE_ROLLBACK_COMPLETE", resolved=old)
    dw.stacks["prod"].events([
        ("Endpoint", "UPDATE_COMPLETE", "", f"{EXECUTION}-prod"),
        ("Endpoint", "UPDATE_FAILED", "Alarm mlops-prod-endpoint-5xx went into ALARM", f"{EXECUTION}-prod"),
        ("Model", "UPDATE_FAILED", "an older failure of another operation", "v1-approved-ffffffffffff-prod"),
    ])  # fmt: skip
    with pytest.raises(DeploymentFailed) as failed:
        wait(request(new, 2), d, dw.target("prod"), ssm=client_in("prod", "ssm"), cfn=dw.stacks["prod"].client)
    message = str(failed.value)
    assert "Endpoint: Alarm mlops-prod-endpoint-5xx went into ALARM" in message
    assert "another operation" not in message
    assert f"back to {old}" in message
    assert dw.world.live("prod") == old


def test_a_failed_rollback_says_how_to_continue_it(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    old, new = dw.world.register("Approved"), dw.world.register("Approved")
    dw.world.set_live("prod", new)
    d = deployment_of(old).model_copy(update={"stack_name": dw.target("prod").stack_name})
    dw.stacks["prod"].describe("UPDATE_ROLLBACK_FAILED", resolved=new, reason="Endpoint could not be rolled back")
    dw.stacks["prod"].events([])
    with pytest.raises(DeploymentFailed, match="continue-update-rollback"):
        wait(request(new, 2), d, dw.target("prod"), ssm=client_in("prod", "ssm"), cfn=dw.stacks["prod"].client)


def test_wait_gives_up_after_the_longest_allowed_update(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    old, new = dw.world.register("Approved"), dw.world.register("Approved")
    d = deployment_of(old).model_copy(update={"stack_name": dw.target("prod").stack_name})
    dw.stacks["prod"].describe("UPDATE_IN_PROGRESS", resolved=old)
    with pytest.raises(DeploymentTimedOut):
        wait(request(new, 2), d, dw.target("prod"), ssm=None, cfn=dw.stacks["prod"].client,
             now=lambda: STARTED + timedelta(hours=13))  # fmt: skip

"""The deploy flow's steps through ``dispatch.run`` as the state machine calls them, end to end against moto: approve
-> dev -> staging -> approval -> prod (another account), each with its smoke test, mark and notification; the marks'
re-fired events then deploy nothing; a failure notifies with what stays live and how to retry."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from typing import Any

import boto3
import pytest
from model_deploy.dispatch import run
from model_deploy.smoke_test import SmokeTestFailed
from model_deploy.tasks import parse_task
from model_deploy_trigger.decide import decide
from model_deploy_trigger.events import PackageStateChange, Settings, parse_event
from model_deploy_trigger.live import live_reader, ssm_factory

from tests.lambdas.model_deploy.deploy_world import STARTED, DeployWorld, FakeRuntime
from tests.lambdas.model_deploy_trigger.sample_events import REGION
from tests.lambdas.model_deploy_trigger.world import update_role_arn

pytestmark = pytest.mark.xdist_group("model-deploy-moto")


def trigger(dw: DeployWorld, event: dict[str, Any]) -> str:
    settings = Settings.from_environ({"MODEL_PACKAGE_GROUP": dw.world.group, "TOPIC_ARN": dw.world.topic_arn,
                                      "STATE_MACHINE_ARN": dw.world.state_machine_arn,
                                      "TARGETS": json.dumps(dw.world.targets())})  # fmt: skip
    change = parse_event(event, dw.world.group)
    assert isinstance(change, PackageStateChange)
    read = live_reader(ssm_factory(boto3.client("sts", region_name=REGION), "test"))  # the function's own factory
    return decide(change, settings, read_live=read, sfn=dw.world.sfn, sagemaker=dw.world.sagemaker,
                  sns=dw.world.sns).action  # fmt: skip


def step(dw: DeployWorld, action: str, env: str, execution: dict[str, Any], **fields: Any) -> dict[str, Any]:
    task = parse_task({"action": action, "environment": env, "execution_name": execution["name"],
                       "request": execution["input"], **fields})  # fmt: skip
    clock = iter(STARTED + timedelta(minutes=m) for m in range(1000))
    return run(task, dw.settings, dw.clients(), now=lambda: next(clock), approval_timeout_hours=24)


def test_approve_then_each_environment_in_order_with_an_approval_before_prod(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    arn = dw.register_model("PendingManualApproval")
    assert trigger(dw, dw.world.event("PendingManualApproval", 1)) == "skipped"
    dw.world.set_status(1, "Approved")
    assert trigger(dw, dw.world.event("Approved", 1)) == "started"
    [execution] = dw.world.executions()
    assert execution["input"]["environments"] == ["dev", "staging", "prod"]

    for env in execution["input"]["environments"]:
        if env == "prod":  # require_approval: the task token goes out with the commands that answer it
            sent = step(dw, "request_approval", env, execution, task_token="AAAA+token/with=chars")
            assert "approve deployment to prod" in sent["subject"]
        stack = dw.stacks[env]
        stack.describe("UPDATE_COMPLETE", resolved="none")
        stack.update(update_role_arn(env))
        deployment = step(dw, "deploy", env, execution)
        stack.describe("UPDATE_IN_PROGRESS", resolved="none")
        stack.describe("UPDATE_COMPLETE", resolved=arn)
        assert step(dw, "wait", env, execution, deployment=deployment)["done"] is False
        assert step(dw, "wait", env, execution, deployment=deployment)["done"] is True
        smoke = step(dw, "smoke", env, execution)
        assert smoke["requests"] == 10
        assert dw.runtimes[env].calls == 10
        mark = step(dw, "mark", env, execution)
        assert list(mark) == [f"live_in_{env}"]
        step(dw, "notify", env, execution, outcome="live", smoke=smoke)
        stack.stubber.assert_no_pending_responses()
        assert dw.world.live(env) == arn
        # the mark re-fires the Approved event while the rollout runs: nothing starts
        assert trigger(dw, dw.world.event("Approved", 1, last_modified=f"2026-12-01T18:0{len(mark)}:00Z")) == "skipped"

    package = dw.world.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert {f"live_in_{env}" for env in ("dev", "staging", "prod")} <= set(package["CustomerMetadataProperties"])
    assert package["CustomerMetadataProperties"]["decision_threshold"] == "0.5"  # registration metadata kept
    subjects = [subject for subject, _ in dw.world.notifications()]
    assert next(s.split(": ")[-1] if ": " in s else s for s in subjects) == "deployment started"
    assert [s for s in subjects if "is live in" in s] == [f"{dw.world.group} v1 is live in {e}"
                                                           for e in ("dev", "staging", "prod")]  # fmt: skip
    dw.world.sfn.stop_execution(executionArn=execution["executionArn"])  # the execution ends
    assert trigger(dw, dw.world.event("Approved", 1)) == "skipped"  # live everywhere: a late re-fire does nothing
    assert len(dw.world.executions()) == 1


def test_the_approval_message_commands_answer_the_task(deploy_world: DeployWorld) -> None:
    dw = deploy_world
    dw.register_model()
    trigger(dw, dw.world.event("Approved", 1))
    [execution] = dw.world.executions()
    token = "AAAAKgAAAAIAAAAAAAAAA+Qx/y=token'with quote"  # noqa: S105 - a task token, shell-hostile on purpose
    step(dw, "request_approval", "prod", execution, task_token=token)
    message = dw.world.notifications()[-1][1]
    approve = next(line.strip() for line in message.splitlines() if "send-task-success" in line)
    refuse = next(line.strip() for line in message.splitlines() if "send-task-failure" in line)
    for command in (approve, refuse):
        argv = shlex.split(command)
        assert argv[argv.index("--task-token") + 1] == token  # survives the shell
        assert argv[argv.index("--region") + 1] == REGION
    assert json.loads(shlex.split(approve)[-1]) == {"approved": True}
    assert "24 hours" in message


def test_a_failed_smoke_test_stops_with_a_message_saying_what_stays_live_and_how_to_retry(
    deploy_world: DeployWorld,
) -> None:
    dw = deploy_world
    dw.register_model()
    trigger(dw, dw.world.event("Approved", 1))
    [execution] = dw.world.executions()
    dw.runtimes["staging"] = FakeRuntime(probability_offset=0.7)  # probabilities above 1
    with pytest.raises(SmokeTestFailed, match="probability"):
        step(dw, "smoke", "staging", execution)

    cause = json.dumps({"errorMessage": "smoke test failed: probability 1.2 is outside [0, 1]",
                        "errorType": "SmokeTestFailed"})  # fmt: skip
    step(dw, "notify", "staging", execution, outcome="failed", error={"Error": "SmokeTestFailed", "Cause": cause})
    subject, message = dw.world.notifications()[-1]
    assert "deployment to staging FAILED" in subject
    assert "SmokeTestFailed: smoke test failed: probability 1.2" in message
    retry = next(line.strip() for line in message.splitlines() if "start-execution" in line)
    argv = shlex.split(retry)
    assert argv[argv.index("--state-machine-arn") + 1] == dw.world.state_machine_arn
    assert json.loads(argv[argv.index("--input") + 1])["environments"] == ["staging", "prod"]


def test_a_malformed_task_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"request\.reason"):
        parse_task({"action": "deploy", "environment": "dev", "execution_name": "x",
                    "request": {"model_package_arn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1",
                                "version": 1, "reason": "because", "environments": ["dev"]}})  # fmt: skip

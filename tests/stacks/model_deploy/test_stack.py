"""The model-deploy stack, synthesized once with cdk-nag (conftest): the rule's pattern against real-shaped events,
the state machine's states in order per environment (approval token, retries, catches), the contract between the
definition and the functions' parsers, the roles the serving environments trust, and the encryption rules of
tests/deploy run on this template."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Capture, Match, Template
from model_deploy import errors as task_errors
from model_deploy import tasks as task_model
from model_deploy_trigger import events as trigger_model

from app import cdk_json_context
from stacks.model_deploy.stack import APPROVAL_TIMEOUT
from stacks.model_deploy.state_machine import STACK_BUSY
from stacks.serving.deployer_role import deploy_flow_roles
from tests.deploy.account import Cloud
from tests.deploy.cfn import Stack
from tests.deploy.rules import keys_admit_services
from tests.event_patterns import matches
from tests.lambdas.model_deploy_trigger import sample_events as samples
from tests.stacks.model_deploy.conftest import ACCOUNT, GROUP, PROD_ACCOUNT, REGION, SERVING, Synthesized, build

pytestmark = pytest.mark.xdist_group("synth")  # the synthesizing tests share a worker (jsii start-up)
EXECUTION_NAME = "v3-approved-0123456789ab"


#: What a Ref of these resource types gives: an ARN (the functions check that they get one).
REF_ARNS = {"AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{{}}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{{}}"}  # fmt: skip
TYPES: dict[str, str] = {}


def resolve(node: Any) -> Any:
    """Intrinsics made concrete enough to parse: pseudo parameters, Fn::Join, and other references as placeholders."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref":
            pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                      "AWS::URLSuffix": "amazonaws.com"}  # fmt: skip
            return pseudo.get(value) or REF_ARNS.get(TYPES.get(value, ""), "ref-{}").format(value)
        if key == "Fn::Join":
            return value[0].join(str(resolve(part)) for part in value[1])
        if key == "Fn::GetAtt":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{value[0]}"
    if isinstance(node, dict):
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    capture = Capture()
    Template.from_json(synthesized.template).has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {"StateMachineName": "mlops-dev-model-deploy", "DefinitionString": capture},
    )
    parsed: dict[str, Any] = json.loads(resolve(capture.as_object()))
    return parsed


def function_environment(synthesized: Synthesized, service: str) -> dict[str, str]:
    TYPES.update({k: r["Type"] for k, r in synthesized.template["Resources"].items()})
    [function] = [f for f in synthesized.resources("AWS::Lambda::Function").values()
                  if f["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME") == service]  # fmt: skip
    variables: dict[str, str] = resolve(function["Properties"]["Environment"]["Variables"])
    return variables


# ---- the rule ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pattern(synthesized: Synthesized) -> dict[str, Any]:
    [rule] = synthesized.resources("AWS::Events::Rule").values()
    found: dict[str, Any] = rule["Properties"]["EventPattern"]
    return found


@pytest.mark.parametrize(
    ("event", "delivered"),
    [
        (samples.APPROVED, True),
        (samples.REJECTED, True),
        (samples.METADATA_REFIRE, True),  # delivered: the function sees that the version is live and ignores it
        (samples.PENDING, False),  # a registration never deploys
        (samples.OTHER_GROUP, False),
        ({**samples.APPROVED, "detail-type": "SageMaker Model State Change"}, False),
        ({**samples.APPROVED, "source": "my.app"}, False),
    ],
)
def test_the_rule_delivers_approvals_and_rejections_of_this_group_only(
    pattern: dict[str, Any], event: dict[str, Any], delivered: bool
) -> None:
    assert matches(pattern, event) is delivered


def test_what_the_rule_delivers_the_function_parses(pattern: dict[str, Any]) -> None:
    for event in (samples.APPROVED, samples.REJECTED, samples.METADATA_REFIRE):
        assert matches(pattern, event)
        assert isinstance(trigger_model.parse_event(event, GROUP), trigger_model.PackageStateChange)


def test_undeliverable_approvals_reach_the_dead_letter_queue_and_its_alarm_the_topic(synthesized: Synthesized) -> None:
    template = Template.from_json(synthesized.template)
    queue = Capture()
    template.has_resource_properties("AWS::Events::Rule", {"Targets": [Match.object_like({
        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}, "RetryPolicy": Match.any_value()})]})  # fmt: skip
    template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue.as_string(), "Arn"]}}}})  # fmt: skip
    [topic] = synthesized.resources("AWS::SNS::Topic")
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue.as_string(), "QueueName"]}}],
        "AlarmActions": [{"Ref": topic}]})  # fmt: skip


# ---- the state machine ---------------------------------------------------------------------------------------


def walk(definition: dict[str, Any]) -> Iterator[str]:
    """The states of an execution that deploys everywhere and succeeds: every Choice takes its first branch."""
    name: str | None = definition["StartAt"]
    seen: set[str] = set()
    while name is not None:
        yield name
        state = definition["States"][name]
        if state["Type"] == "Choice":
            name = state["Choices"][0]["Next"]
            if name in seen:  # the stack-update loop: the done branch is the second way out
                name = state["Default"]
        else:
            name = state.get("Next")
        seen.add(name or "")


def test_each_environment_in_order_with_the_approval_before_prod(definition: dict[str, Any]) -> None:
    path = [name for name in walk(definition) if not name.startswith(("Include", "Deploy to", "Stack updated"))]
    expected = []
    for target in SERVING:
        env = target.name
        expected += ([f"Approve {env}"] if target.require_approval else []) + [
            f"Deploy {env}", f"Wait {env}", f"Check stack {env}", f"Smoke test {env}", f"Mark live {env}",
            f"Notify live {env}",
        ]  # fmt: skip
    assert path == [*expected, "Deployed"]


def test_an_environment_the_input_does_not_name_is_skipped(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for index, target in enumerate(SERVING):
        include = states[f"Include {target.name}?"]
        assert include["Parameters"] == {"value.$": f"States.ArrayContains($.environments, '{target.name}')"}
        choice = states[include["Next"]]
        assert choice["Choices"][0] == {"Variable": "$.included.value", "BooleanEquals": True,
                                        "Next": f"Approve {target.name}" if target.require_approval
                                        else f"Deploy {target.name}"}  # fmt: skip
        following = f"Include {SERVING[index + 1].name}?" if index + 1 < len(SERVING) else "Deployed"
        assert choice["Default"] == following
        assert states[f"Notify live {target.name}"]["Next"] == following


def test_the_stack_update_is_polled_until_done(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for target in SERVING:
        env = target.name
        assert states[f"Wait {env}"] == {"Type": "Wait", "Seconds": 60, "Next": f"Check stack {env}"}
        updated = states[states[f"Check stack {env}"]["Next"]]
        assert updated["Choices"] == [{"Variable": "$.stack.done", "BooleanEquals": True, "Next": f"Smoke test {env}"}]
        assert updated["Default"] == f"Wait {env}"


def test_the_approval_waits_for_a_task_token_with_a_timeout(definition: dict[str, Any]) -> None:
    approvals = {name: s for name, s in definition["States"].items() if name.startswith("Approve ")}
    assert list(approvals) == [f"Approve {t.name}" for t in SERVING if t.require_approval]
    for state in approvals.values():
        assert state["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
        assert state["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
        assert state["Parameters"]["Payload"]["action"] == "request_approval"
        assert state["TimeoutSeconds"] == APPROVAL_TIMEOUT.to_seconds()


def test_a_busy_stack_is_retried_and_every_failure_notifies_then_fails(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert task_errors.StackBusy.__name__ == STACK_BUSY
    assert STACK_BUSY in task_errors.RETRYABLE
    for target in SERVING:
        env = target.name
        busy = [r for r in states[f"Deploy {env}"]["Retry"] if r["ErrorEquals"] == [STACK_BUSY]]
        assert busy
        assert busy[0]["MaxAttempts"] >= 10
        steps = [f"Deploy {env}", f"Check stack {env}", f"Smoke test {env}", f"Mark live {env}", f"Notify live {env}"]
        steps += [f"Approve {env}"] if target.require_approval else []
        for step in steps:
            assert states[step]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                              "Next": f"Notify failure {env}"}], step  # fmt: skip
            assert any("Lambda.ServiceException" in r["ErrorEquals"] for r in states[step]["Retry"]), step
        notify = states[f"Notify failure {env}"]
        assert payload_of(notify)["error.$"] == "$.error"
        assert notify["Next"] == "Deployment failed"
        assert notify["Catch"][0]["Next"] == "Deployment failed"
    assert states["Deployment failed"] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def payload_of(state: dict[str, Any]) -> dict[str, Any]:
    """A Lambda task's payload: the whole Parameters when the function ARN is the resource (payload only)."""
    parameters: dict[str, Any] = state["Parameters"]
    return parameters["Payload"] if "FunctionName" in parameters else parameters


def concrete_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload a task state sends, with sample values for the paths it reads."""
    values = {
        "$$.Execution.Name": EXECUTION_NAME,
        "$$.Execution.Input": {"model_package_arn": samples.package_arn(3), "version": 3, "reason": "approved",
                               "environments": ["dev", "staging", "prod"], "rejected_arn": None},
        "$$.Task.Token": "token",
        "$.deployment": {"environment": "dev", "stack_name": "mlops-dev-serving", "changed": True,
                         "previous": "none", "client_request_token": "t", "started_at": "2026-12-01T17:00:00+00:00"},
        "$.smoke": {"summary": "smoke test passed", "rows": 20, "requests": 20, "p95_ms": 12.0},
        "$.error": {"Error": "SmokeTestFailed", "Cause": "{}"},
    }  # fmt: skip
    return {key.removesuffix(".$"): values[value] if key.endswith(".$") else value for key, value in payload.items()}


def test_every_task_sends_what_the_task_function_parses(definition: dict[str, Any]) -> None:
    actions = set()
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        task = task_model.parse_task(concrete_payload(payload_of(state)))
        assert task.environment == name.split()[-1]
        actions.add(task.action)
    assert actions == {"deploy", "wait", "smoke", "mark", "notify", "request_approval"}


# ---- the functions -------------------------------------------------------------------------------------------


def test_the_functions_settings_parse(synthesized: Synthesized) -> None:
    trigger = trigger_model.Settings.from_environ(function_environment(synthesized, "model-deploy-trigger"))
    tasks = task_model.Settings.from_environ(function_environment(synthesized, "model-deploy"))
    assert [t.name for t in trigger.targets] == [t.name for t in tasks.targets] == [t.name for t in SERVING]
    assert tasks.state_machine_arn == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:mlops-dev-model-deploy"
    prod = tasks.target("prod")
    assert prod.deployer_role_arn == f"arn:aws:iam::{PROD_ACCOUNT}:role/mlops-prod-model-deployer"
    assert prod.update_role_arn == f"arn:aws:iam::{PROD_ACCOUNT}:role/mlops-prod-serving-update"
    assert (prod.stack_name, prod.endpoint_name, prod.smoke_max_latency_p95_ms) == (
        "mlops-prod-serving", "mlops-prod-endpoint", 500)  # fmt: skip
    assert prod.parameter == "/mlops/prod/serving/live-model-package"
    assert tasks.live_model_cfn_parameter == "LiveModelPackage"
    assert trigger.group == tasks.group == GROUP


def statements_of(synthesized: Synthesized, role_name: str) -> list[dict[str, Any]]:
    [role_id] = [k for k, r in synthesized.resources("AWS::IAM::Role").items()
                 if r["Properties"].get("RoleName") == role_name]  # fmt: skip
    found = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found += resolve(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


@pytest.mark.parametrize("function", ["trigger", "tasks"])
def test_the_function_roles_are_the_ones_the_deployer_roles_trust_and_act_only_through_them(
    synthesized: Synthesized, function: str
) -> None:
    role_name = f"mlops-dev-model-deploy-{function}"
    for _target in SERVING:  # each serving stack trusts this pattern of the registry's account
        assert fnmatch.fnmatch(
            f"arn:aws:iam::{ACCOUNT}:role/{role_name}", deploy_flow_roles("aws", ACCOUNT, "mlops", "dev")
        )
    statements = statements_of(synthesized, role_name)
    assume = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    assert [a["Resource"] for a in assume] == [[f"arn:aws:iam::{t.account}:role/mlops-{t.name}-model-deployer"
                                                for t in SERVING]]  # fmt: skip
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if a.startswith(("ssm:", "cloudformation:", "iam:"))}, actions


def test_the_topic_and_queue_keys_admit_the_services_that_use_them(synthesized: Synthesized) -> None:
    storage = json.loads((synthesized.outdir / "storage.template.json").read_text())
    cloud = Cloud([Stack("dev/model-deploy", synthesized.stack_name, ACCOUNT, REGION, synthesized.template),
                   Stack("dev/storage", "storage", ACCOUNT, REGION, storage)])  # fmt: skip
    assert list(cloud.resources("AWS::SNS::Topic"))
    assert list(cloud.resources("AWS::SQS::Queue"))
    assert keys_admit_services(cloud) == []


@pytest.mark.parametrize(
    ("serving", "message"),
    [((), "registry of no serving environment"), ((SERVING[0], SERVING[0]), "more than once")],
)
def test_a_deploy_flow_without_or_with_repeated_environments_is_refused(serving: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(cdk.App(context=cdk_json_context()), serving)

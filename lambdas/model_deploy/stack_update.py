"""Deploy a model package to a serving environment: write its live-model parameter, update its serving stack, watch.

The serving stack takes the live package through a CloudFormation parameter of type
``AWS::SSM::Parameter::Value<String>`` (README "Serving"): CloudFormation resolves it at every stack operation. So
``deploy`` writes the parameter and calls UpdateStack with the previous template and every parameter's previous
value; CloudFormation re-resolves the value, and the endpoint update runs through SageMaker's deployment guardrails
and CloudFormation's rollback. ``cdk deploy`` of the app resolves the same parameter, so it keeps the live model.

``wait`` watches the update (the state machine polls it): done when UPDATE_COMPLETE; when CloudFormation rolled back
(or could not), the parameter is set back to the package the stack ran before, so that the next ``cdk deploy`` does
not retry the failed model, and the task fails with CloudFormation's reasons for the failed resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from model_deploy.errors import (
    DeploymentFailed,
    DeploymentTimedOut,
    NewerVersionLive,
    NotApproved,
    StackBusy,
    Superseded,
)
from model_deploy.tasks import DeployInput, Deployment, Target, package_version

#: A stack whose template creates named IAM roles (the deployer role) needs both to be updated.
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
NO_UPDATES = "No updates are to be performed"
#: The longest a stack update may take before the flow stops watching it (instance endpoints with linear traffic
#: shifting and a long bake take hours; CloudFormation's own timeouts end a stuck update before this).
MAX_WAIT = timedelta(hours=12)
#: How many failed resources a failure message names (CloudFormation's reasons can be long).
MAX_REASONS = 5
APPROVED = "Approved"

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def client_request_token(execution_name: str, environment: str) -> str:
    """The UpdateStack token of one execution's update of one environment: CloudFormation tags that operation's
    stack events with it (and treats a retried call with it as the same request)."""
    token = re.sub(r"[^a-zA-Z0-9-]", "-", f"{execution_name}-{environment}")
    return token[:128]


def require_approved(registry: Any, arn: str, environment: str) -> None:
    """Only Approved packages are deployed: a package rejected while its rollout waited stops here."""
    status = registry.describe_model_package(ModelPackageName=arn).get("ModelApprovalStatus")
    if status != APPROVED:
        raise NotApproved(f"{arn} is {status}, not Approved: it is not deployed to {environment}")


def describe_stack(cfn: Any, stack_name: str) -> dict[str, Any]:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise DeploymentFailed(f"cannot read the serving stack {stack_name}: {_code(error)}: {_message(error)} "
                               "(is the environment's serving stack deployed?)") from error  # fmt: skip
    return dict(stacks[0])


def resolved_value(stack: dict[str, Any], key: str) -> str | None:
    """The value CloudFormation resolved for the SSM-typed parameter ``key`` at the stack's last operation."""
    for parameter in stack.get("Parameters", []):
        if parameter.get("ParameterKey") == key:
            value = parameter.get("ResolvedValue")
            return str(value) if value else None
    return None


def read_parameter(ssm: Any, name: str, where: str) -> str:
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if _code(error) == "ParameterNotFound":
            raise DeploymentFailed(f"the live-model parameter {name} does not exist in {where}: deploy that "
                                   "environment's storage stack first") from error  # fmt: skip
        raise


def write_parameter(ssm: Any, name: str, value: str) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def check_replacement(request: DeployInput, current: str, environment: str) -> None:
    """An approved version never replaces a newer one of its group; a rollback only replaces the rejected one."""
    arn = request.model_package_arn
    if request.reason == "rollback":
        if current not in (request.rejected_arn, arn):
            raise Superseded(f"{request.rejected_arn} is no longer live in {environment} ({current} is): the "
                             f"rollback to {arn} is not needed there")  # fmt: skip
        return
    live = package_version(current)
    wanted = package_version(arn)
    if live is not None and wanted is not None and live[0] == wanted[0] and live[1] > wanted[1]:
        raise NewerVersionLive(
            f"v{live[1]} is live in {environment}, newer than v{wanted[1]}: an approved version does not replace a "
            f"newer one (reject v{live[1]} to roll back)"
        )


def deploy(
    request: DeployInput,
    target: Target,
    *,
    execution_name: str,
    cfn_parameter: str,
    registry: Any,
    ssm: Any,
    cfn: Any,
    now: Clock = utcnow,
) -> Deployment:
    """Make ``request``'s package the live model of ``target``: parameter, then UpdateStack."""
    arn, where = request.model_package_arn, f"{target.name} ({target.account}, {target.region})"
    require_approved(registry, arn, target.name)
    stack = describe_stack(cfn, target.stack_name)
    if str(stack["StackStatus"]).endswith("_IN_PROGRESS"):
        raise StackBusy(f"{target.stack_name} is {stack['StackStatus']}")
    current = read_parameter(ssm, target.parameter, where)
    check_replacement(request, current, target.name)
    previous = resolved_value(stack, cfn_parameter) or current
    token = client_request_token(execution_name, target.name)
    started = now()
    if current != arn:
        write_parameter(ssm, target.parameter, arn)
    # Every parameter keeps its previous value (CDK's BootstrapVersion too); SSM-typed ones are resolved again.
    keep = [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in stack.get("Parameters", [])]
    try:
        cfn.update_stack(
            StackName=target.stack_name,
            UsePreviousTemplate=True,
            Parameters=keep,
            RoleARN=target.update_role_arn,  # the only role the deployer role may pass
            Capabilities=CAPABILITIES,
            ClientRequestToken=token,
        )
        changed = True
    except ClientError as error:
        if _code(error) == "ValidationError" and NO_UPDATES in _message(error):
            changed = False  # the stack already runs this package
        else:
            if current != arn:
                write_parameter(ssm, target.parameter, current)
            if "_IN_PROGRESS state" in _message(error):
                raise StackBusy(f"{target.stack_name}: {_message(error)}") from error
            raise DeploymentFailed(f"UpdateStack of {target.stack_name} failed: {_code(error)}: {_message(error)}; "
                                   f"the live-model parameter is back to {current}") from error  # fmt: skip
    return Deployment(
        environment=target.name,
        stack_name=target.stack_name,
        changed=changed,
        previous=previous,
        client_request_token=token,
        started_at=started.isoformat(),
    )


def failure_reasons(cfn: Any, stack_name: str, token: str) -> list[str]:
    """``<resource>: <reason>`` of the resources that failed in the operation with ``token``, oldest first."""
    found: list[str] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_name):
        for event in page.get("StackEvents", []):
            if event.get("ClientRequestToken") != token:
                continue
            if str(event.get("ResourceStatus", "")).endswith("FAILED") and event.get("ResourceStatusReason"):
                found.append(f"{event.get('LogicalResourceId')}: {event['ResourceStatusReason']}")
    found.reverse()  # DescribeStackEvents lists the newest first
    return list(dict.fromkeys(found))[:MAX_REASONS]


def restore_parameter(ssm: Any, target: Target, arn: str, previous: str) -> str:
    """Set the live-model parameter back to ``previous`` if it still holds ``arn``; say what was done."""
    current = read_parameter(ssm, target.parameter, target.name)
    if current != arn:
        return f"the live-model parameter holds {current} (changed since), left as it is"
    write_parameter(ssm, target.parameter, previous)
    return f"the live-model parameter is back to {previous}"


def wait(
    request: DeployInput,
    deployment: Deployment,
    target: Target,
    *,
    ssm: Any,
    cfn: Any,
    now: Clock = utcnow,
    max_wait: timedelta = MAX_WAIT,
) -> dict[str, Any]:
    """``{"done": bool, "status": ...}``; raises when the update failed or takes too long."""
    if not deployment.changed:
        return {"done": True, "status": "unchanged"}
    stack = describe_stack(cfn, deployment.stack_name)
    status = str(stack["StackStatus"])
    if status == "UPDATE_COMPLETE":
        return {"done": True, "status": status}
    if status.endswith("_IN_PROGRESS"):
        waited = now() - datetime.fromisoformat(deployment.started_at)
        if waited > max_wait:
            raise DeploymentTimedOut(
                f"{deployment.stack_name} is still {status} after {waited}: the flow stops watching. CloudFormation "
                f"finishes or rolls back the update by itself; the live-model parameter holds "
                f"{request.model_package_arn} meanwhile (set it back to {deployment.previous} if the stack rolls back)"
            )
        return {"done": False, "status": status}
    reasons = failure_reasons(cfn, deployment.stack_name, deployment.client_request_token)
    why = "; ".join(reasons) or str(stack.get("StackStatusReason") or "no reason given")
    restored = restore_parameter(ssm, target, request.model_package_arn, deployment.previous)
    advice = (
        f" The stack could not roll back: run `aws cloudformation continue-update-rollback --stack-name "
        f"{deployment.stack_name}` once the cause is fixed."
        if status == "UPDATE_ROLLBACK_FAILED"
        else f" {deployment.previous} stays live."
    )
    raise DeploymentFailed(f"updating {deployment.stack_name} to {request.model_package_arn} ended {status}: {why}; "
                           f"{restored}.{advice}")  # fmt: skip

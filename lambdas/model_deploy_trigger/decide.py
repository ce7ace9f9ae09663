"""Decide what a model package state change means for the serving environments, and start the deploy flow.

Rules (README "Deploying a model"), and why:

- **Approved** deploys the version *named in the event* (never "the latest approved", which races) to every serving
  environment of this registry, in order, unless:
  - it is already live in one of them. SageMaker sends the event again whenever an approved package is updated - the
    deploy flow's own ``live_in_<env>`` mark included, and a rollback marks the version it restores - and may send
    each state change more than once. A version that went live somewhere has had its rollout; re-running it from a
    re-fire would deploy again (a rollback's mark would even roll that version forward to later environments). A
    rollout that stopped part-way is resumed by a person, with the command in the failure notification.
  - an execution for it is running (its rollout is under way, e.g. waiting for an approval).
  - a *newer* version of the group is live in one of them: approvals may be delivered out of order, and going back
    to an older model must be a decision (reject the newer one: that rolls back). The topic is told, not silence.
- **Rejected**: in every environment where this version is live, the newest *other approved* version with a lower
  version number is deployed (reason ``rollback``), through the same guarded path; with none, nothing is deployed
  and the topic is told that the rejected model stays live.
- Anything else (PendingManualApproval: the rule does not even match it) does nothing.

The execution name is ``v<version>-<reason>-<hash>``, the hash over the execution's input and the live versions it
starts from: a duplicate event finds the same name, and Step Functions starts an execution once per name
(StartExecution is idempotent for a running execution with the same name and input; a closed one answers
ExecutionAlreadyExists, a no-op here).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from model_deploy_trigger.events import (
    APPROVED,
    PENDING,
    REJECTED,
    PackageStateChange,
    Settings,
    Target,
    package_version,
)

#: The live-model parameter's value while nothing was ever deployed there (config.naming.NO_LIVE_MODEL).
NO_LIVE_MODEL = "none"
#: SNS subjects are at most 100 characters.
MAX_SUBJECT = 100

#: Reads the live-model parameter of one serving environment (in its account and region).
LiveReader = Callable[[Target], str]


@dataclass(frozen=True)
class Outcome:
    """What one event led to: started, skipped (and why), notified (and why)."""

    action: str
    reason: str
    execution_name: str | None = None
    execution_input: dict[str, Any] | None = field(default=None)


def live_versions(targets: Iterable[Target], read: LiveReader) -> dict[str, str]:
    """The live package ARN (or ``none``) of every target, by environment name."""
    return {target.name: read(target) for target in targets}


def execution_input(arn: str, reason: str, environments: list[str], rejected_arn: str | None) -> dict[str, Any]:
    """The deploy flow's input. Every key is always present: the state machine reads them by path."""
    version = package_version(arn)
    if version is None:
        raise ValueError(f"{arn!r} is not a versioned model package ARN")
    return {
        "model_package_arn": arn,
        "version": version[1],
        "reason": reason,
        "environments": environments,
        "rejected_arn": rejected_arn,
    }


def execution_name(payload: Mapping[str, Any], live: Mapping[str, str]) -> str:
    """``v<version>-<reason>-<hash>``: the same input from the same live state gives the same name (80 chars max)."""
    digest = hashlib.sha256(json.dumps({"input": payload, "live": live}, sort_keys=True).encode()).hexdigest()
    return f"v{payload['version']}-{payload['reason']}-{digest[:12]}"


def start_command(state_machine_arn: str, payload: Mapping[str, Any]) -> str:
    """The AWS CLI command that starts the deploy flow by hand with ``payload`` (shell-quoted)."""
    return (
        f"aws stepfunctions start-execution --state-machine-arn {shlex.quote(state_machine_arn)} "
        f"--input {shlex.quote(json.dumps(payload, separators=(',', ':')))}"
    )


def running_executions(sfn: Any, state_machine_arn: str) -> list[str]:
    """Names of the deploy flow's running executions."""
    names: list[str] = []
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    ):
        names += [execution["name"] for execution in page.get("executions", [])]
    return names


def previous_approved(sagemaker: Any, group: str, below: int) -> tuple[str, int] | None:
    """(ARN, version) of the newest Approved version of ``group`` numbered below ``below``, if any."""
    best: tuple[str, int] | None = None
    for page in sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, ModelApprovalStatus=APPROVED, ModelPackageType="Versioned"
    ):
        for summary in page.get("ModelPackageSummaryList", []):
            parsed = package_version(summary["ModelPackageArn"])
            if parsed is None or parsed[0] != group or summary.get("ModelApprovalStatus") != APPROVED:
                continue
            if parsed[1] < below and (best is None or parsed[1] > best[1]):
                best = (summary["ModelPackageArn"], parsed[1])
    return best


def notify(sns: Any, topic_arn: str, subject: str, message: str) -> None:
    sns.publish(TopicArn=topic_arn, Subject=subject[:MAX_SUBJECT], Message=message)


def start(sfn: Any, settings: Settings, payload: dict[str, Any], live: Mapping[str, str],
          running: Iterable[str]) -> Outcome:  # fmt: skip
    """Start the deploy flow once for this input and live state; a name already used is a no-op."""
    name = execution_name(payload, live)
    if name in running:  # StartExecution would answer success for it: say so instead of announcing a new start
        return Outcome("skipped", f"{name} is running already: a duplicate event", name, payload)
    try:
        sfn.start_execution(stateMachineArn=settings.state_machine_arn, name=name, input=json.dumps(payload))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        return Outcome(
            "already-started",
            f"execution {name} already ran for this input and live state (ExecutionAlreadyExists): nothing to do. "
            f"Its result was notified; to run it again: {start_command(settings.state_machine_arn, payload)}",
            name,
            payload,
        )
    return Outcome("started", f"started {name}", name, payload)


def decide(
    change: PackageStateChange, settings: Settings, *, read_live: LiveReader, sfn: Any, sagemaker: Any, sns: Any
) -> Outcome:
    """Act on one state change of this group's packages (see the module docstring for the rules)."""
    detail = change.detail
    if detail.status == APPROVED:
        return _approved(change, settings, read_live=read_live, sfn=sfn, sns=sns)
    if detail.status == REJECTED:
        return _rejected(change, settings, read_live=read_live, sfn=sfn, sagemaker=sagemaker, sns=sns)
    why = "a registration awaiting approval never deploys" if detail.status == PENDING else "not a deploy decision"
    return Outcome("skipped", f"v{detail.version} is {detail.status}: {why}")


def _approved(change: PackageStateChange, settings: Settings, *, read_live: LiveReader, sfn: Any,
              sns: Any) -> Outcome:  # fmt: skip
    detail = change.detail
    environments = [t.name for t in settings.targets]
    payload = execution_input(detail.arn, "approved", environments, None)
    live = live_versions(settings.targets, read_live)
    live_in = [name for name, arn in live.items() if arn == detail.arn]
    if live_in:
        return Outcome(
            "skipped",
            f"v{detail.version} is already live in {', '.join(live_in)}: this Approved event is a re-fire (the "
            "package was updated, e.g. marked live by the deploy flow) or a duplicate, so nothing is deployed. To "
            f"resume a rollout that stopped part-way: {start_command(settings.state_machine_arn, payload)} (with "
            "the remaining environments)",
        )
    running = running_executions(sfn, settings.state_machine_arn)
    deploying = [name for name in running if name.startswith(f"v{detail.version}-")]
    if deploying:
        return Outcome("skipped", f"v{detail.version} is being deployed by {', '.join(deploying)}: not started again")
    newer = {}
    for name, arn in live.items():
        parsed = package_version(arn)
        if parsed is not None and parsed[0] == detail.group and parsed[1] > detail.version:
            newer[name] = parsed[1]
    if newer:
        serving = ", ".join(f"v{version} in {name}" for name, version in newer.items())
        message = (
            f"Version {detail.version} of {detail.group} was approved, but a newer version is live ({serving}), "
            f"so it is not deployed: approvals can arrive out of order, and replacing a newer model by an older one "
            f"must be a decision.\n\nTo go back to an older version, reject the newer one in SageMaker Studio: the "
            f"deploy flow then rolls back to the newest approved version older than it. To deploy v{detail.version} "
            f"anyway (every environment, in order):\n{start_command(settings.state_machine_arn, payload)}"
        )
        notify(sns, settings.topic_arn, f"{detail.group} v{detail.version} approved but not deployed", message)
        return Outcome("notified", f"v{detail.version} is older than the live {serving}: not deployed")
    outcome = start(sfn, settings, payload, live, running)
    if outcome.action == "started":
        notify(
            sns,
            settings.topic_arn,
            f"{detail.group} v{detail.version}: deployment started",
            f"Version {detail.version} of {detail.group} ({detail.arn}) was approved: deploying it to "
            f"{', '.join(environments)}, in this order (execution {outcome.execution_name}).",
        )
    return outcome


def _rejected(change: PackageStateChange, settings: Settings, *, read_live: LiveReader, sfn: Any, sagemaker: Any,
              sns: Any) -> Outcome:  # fmt: skip
    detail = change.detail
    live = live_versions(settings.targets, read_live)
    live_in = [name for name, arn in live.items() if arn == detail.arn]
    if not live_in:
        return Outcome(
            "skipped",
            f"v{detail.version} was rejected and is live nowhere: nothing to roll back (a rollout of it still "
            "running stops at its next deploy step, which deploys approved packages only)",
        )
    previous = previous_approved(sagemaker, detail.group, detail.version)
    if previous is None:
        notify(
            sns,
            settings.topic_arn,
            f"{detail.group} v{detail.version} rejected: nothing to roll back to",
            f"Version {detail.version} of {detail.group} was rejected while live in {', '.join(live_in)}, and no "
            f"approved version older than it exists: the endpoint(s) keep serving v{detail.version}. Approve an "
            "earlier version, or a new one, to replace it.",
        )
        return Outcome("notified", f"v{detail.version} rejected, no earlier approved version: it stays live")
    arn, version = previous
    payload = execution_input(arn, "rollback", live_in, detail.arn)
    outcome = start(sfn, settings, payload, live, running_executions(sfn, settings.state_machine_arn))
    if outcome.action == "started":
        notify(
            sns,
            settings.topic_arn,
            f"{detail.group} v{detail.version} rejected: rolling back to v{version}",
            f"Version {detail.version} of {detail.group} was rejected while live in {', '.join(live_in)}: "
            f"redeploying v{version} ({arn}) there (execution {outcome.execution_name}).",
        )
    return outcome

"""The serving environments a registry environment deploys to, and the names the deploy flow's functions get."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from config.model import PlatformConfig
from config.naming import (
    LIVE_MODEL_CFN_PARAMETER,
    SERVING_COMPONENT,
    endpoint_name,
    live_model_parameter_name,
    model_deployer_role_name,
    serving_update_role_name,
    stack_name,
)
from config.serving import ServingSettings


@dataclass(frozen=True)
class ServingTarget:
    """One serving environment, as the deploy flow needs it (from ``environments.<env>.serving``)."""

    name: str
    account: str
    region: str
    require_approval: bool
    smoke_rows: int
    smoke_max_latency_p95_ms: int

    @classmethod
    def of(cls, name: str, *, account: str, region: str, serving: ServingSettings) -> ServingTarget:
        return cls(
            name=name,
            account=account,
            region=region,
            require_approval=serving.require_approval,
            smoke_rows=serving.smoke_test.rows,
            smoke_max_latency_p95_ms=serving.smoke_test.max_latency_p95_ms,
        )


def serving_targets(config: PlatformConfig, registry: str, account_of: Callable[[str], str]) -> list[ServingTarget]:
    """The environments that deploy ``registry``'s versions, in config (rollout) order; empty when it is the registry
    of none (then it gets no deploy flow). ``account_of`` gives an environment's account as the app resolved it."""
    targets = []
    for name in config.served_from(registry):
        serving = config.environments[name].serving
        if serving is None:  # served_from lists environments with a serving section only
            raise ValueError(f"environments.{name} has no serving section")
        targets.append(ServingTarget.of(name, account=account_of(name), region=config.environments[name].region,
                                        serving=serving))  # fmt: skip
    return targets


def role_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{name}"


def deployer_role_arns(partition: str, project: str, targets: Sequence[ServingTarget]) -> list[str]:
    return [role_arn(partition, t.account, model_deployer_role_name(project, t.name)) for t in targets]


def targets_variable(partition: str, project: str, targets: Sequence[ServingTarget], *, tasks: bool) -> str:
    """The functions' ``TARGETS`` environment variable (JSON, in rollout order); the task function also gets each
    environment's stack, endpoint, update role and smoke-test settings."""
    rows = []
    for t in targets:
        row: dict[str, object] = {
            "name": t.name,
            "account": t.account,
            "region": t.region,
            "parameter": live_model_parameter_name(project, t.name),
            "deployer_role_arn": role_arn(partition, t.account, model_deployer_role_name(project, t.name)),
        }
        if tasks:
            row |= {
                "stack_name": stack_name(project, t.name, SERVING_COMPONENT),
                "endpoint_name": endpoint_name(project, t.name),
                "update_role_arn": role_arn(partition, t.account, serving_update_role_name(project, t.name)),
                "smoke_rows": t.smoke_rows,
                "smoke_max_latency_p95_ms": t.smoke_max_latency_p95_ms,
            }
        rows.append(row)
    return json.dumps(rows, separators=(",", ":"))


__all__ = ["LIVE_MODEL_CFN_PARAMETER", "ServingTarget", "serving_targets", "targets_variable"]

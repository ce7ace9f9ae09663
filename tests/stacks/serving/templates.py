"""What the serving tests share: the config, the shapes of its endpoints and readers of the synthesized policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk.assertions import Template

from config.loader import DEFAULT_CONFIG_PATH, load_config
from config.serving import InstanceEndpoint, ServerlessEndpoint

CONFIG = load_config(DEFAULT_CONFIG_PATH)
SERVING = [name for name, env in CONFIG.environments.items() if env.serving is not None]
ENDPOINT_TYPES = (
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Endpoint",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
)


def endpoint_of(env_name: str) -> ServerlessEndpoint | InstanceEndpoint:
    settings = CONFIG.environments[env_name].serving
    assert settings is not None
    return settings.endpoint


def instance_envs() -> list[str]:
    return [name for name in SERVING if isinstance(endpoint_of(name), InstanceEndpoint)]


def serverless_envs() -> list[str]:
    return [name for name in SERVING if isinstance(endpoint_of(name), ServerlessEndpoint)]


def only(template: Template, kind: str, props: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind, {"Properties": props} if props else None)
    assert len(found) == 1, f"{len(found)} {kind}"
    ((logical_id, resource),) = found.items()
    return logical_id, dict(resource)


def role_id(template: Template, role_name: str) -> str:
    return only(template, "AWS::IAM::Role", {"RoleName": role_name})[0]


def statements_of(template: Template, role: str) -> list[dict[str, Any]]:
    """Every identity-policy statement attached to the role ``role`` (a logical id)."""
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements for action in as_list(s["Action"])}


def by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements}

"""The deploy flow's two functions share their shape: a named role (the serving environments' deployer roles trust
these names), their own log group, the public Powertools layer, the pinned runtime."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.common.powertools import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    POWERTOOLS_VERSION,
    function_code,
    powertools_layer,
)
from stacks.compliance import acknowledge


def deploy_function(
    scope: Construct,
    construct_id: str,
    *,
    function: str,
    role_name: str,
    description: str,
    environment: dict[str, str],
    timeout: cdk.Duration,
    log_retention: logs.RetentionDays,
    **kwargs: object,
) -> lambda_.Function:
    """A function of ``lambdas/<function>`` with a role named ``role_name`` that may write its own logs only."""
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    fn = lambda_.Function(
        scope,
        construct_id,
        role=role,
        description=description,
        runtime=LAMBDA_RUNTIME,
        architecture=LAMBDA_ARCHITECTURE,
        handler=f"{function}.handler.handler",
        code=function_code(function),
        layers=[powertools_layer(scope, f"{construct_id}Powertools")],
        timeout=timeout,
        memory_size=256,
        environment={"POWERTOOLS_METRICS_NAMESPACE": "mlops/model-deploy", **environment},
        log_group=log_group,
        **kwargs,  # type: ignore[arg-type]
    )
    log_group.grant_write(role)  # instead of the AWSLambdaBasicExecutionRole managed policy
    acknowledge(
        fn,
        "AwsSolutions-L1",
        f"Pinned to {LAMBDA_RUNTIME.name}, the runtime the pinned Powertools layer {POWERTOOLS_VERSION} is resolved "
        "for (its SSM parameter names the Python version); bump both together.",
    )
    return fn


def default_policy(fn: lambda_.Function) -> iam.Policy:
    """The default policy of ``fn``'s role (where grants and add_to_role_policy land), for acknowledgements."""
    policy = fn.role.node.find_child("DefaultPolicy") if fn.role else None
    if not isinstance(policy, iam.Policy):
        raise RuntimeError(f"{fn.node.path}: the function's role has no default policy")
    return policy

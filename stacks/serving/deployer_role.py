"""The role the registry environment's deploy flow assumes to put a model live here.

Trusted by the registry environment's account, narrowed by ``aws:PrincipalArn`` to the deploy flow's Lambda roles
(``<project>-<registry env>-model-deploy-*``): IAM rejects a wildcard in a role principal and a principal ARN of a
role that does not exist yet, so the account is the principal and the condition names the roles (the registry's
deploy stack may be deployed after this one).

It may write the live-model parameter, update this stack (only with the update role, see
:mod:`stacks.serving.update_role`) and watch the update, and describe and invoke the endpoint (the smoke test).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.naming import model_deploy_role_pattern
from stacks.compliance import acknowledge_wildcard_resource


def deploy_flow_roles(partition: str, account: str, project: str, registry_env: str) -> str:
    """The ARN pattern of the registry's deploy-flow Lambda roles (named after its state machine)."""
    return f"arn:{partition}:iam::{account}:role/{model_deploy_role_pattern(project, registry_env)}"


class ModelDeployerRole(Construct):
    """``role`` named ``role_name``, assumable by ``trusted_roles`` (an ARN pattern) of ``trusted_account``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        trusted_account: str,
        trusted_roles: str,
        parameter_arn: str,
        resolved_parameter_arns: list[str],
        endpoint_name: str,
        update_role_arn: str,
    ) -> None:
        """``resolved_parameter_arns``: the SSM parameters the stack's template resolves (an update resolves them
        again)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"The deploy flow puts a model live on {endpoint_name} as this role",
            assumed_by=iam.AccountPrincipal(trusted_account).with_conditions(
                {"ArnLike": {"aws:PrincipalArn": trusted_roles}}
            ),
        )
        self.role_arn = stack.format_arn(service="iam", region="", resource="role", resource_name=role_name)
        this_stack = stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{stack.stack_name}/*")
        endpoint = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name)
        policy = iam.Policy(
            self,
            "Deploy",
            statements=[
                iam.PolicyStatement(
                    sid="LiveModel", actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[parameter_arn]
                ),
                iam.PolicyStatement(
                    sid="ResolveParameters", actions=["ssm:GetParameters"], resources=resolved_parameter_arns
                ),
                iam.PolicyStatement(
                    sid="UpdateServingStack",
                    actions=["cloudformation:UpdateStack"],
                    resources=[this_stack],
                    conditions={"StringEquals": {"cloudformation:RoleArn": update_role_arn}},
                ),
                iam.PolicyStatement(
                    sid="WatchServingStack",
                    actions=["cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents"],
                    resources=[this_stack],
                ),
                iam.PolicyStatement(
                    sid="PassUpdateRole",
                    actions=["iam:PassRole"],
                    resources=[update_role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="SmokeTest",
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                    resources=[endpoint],
                ),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge_wildcard_resource(
            policy,
            this_stack,
            "A stack ARN ends with the id CloudFormation gave it at creation; this one stack by name.",
        )

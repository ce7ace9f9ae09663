"""The role in a registry's account that serving environments of other accounts assume to retrain: start and list
executions of the registry's training pipeline, nothing else.

Trusted by the serving accounts, narrowed to their retraining functions' roles by ``aws:PrincipalArn`` (those roles
belong to later stages and may not exist when this stack deploys; a role ARN as principal would be rejected).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct


class RetrainingStarterRole(Construct):
    """``role`` named ``role_name``, assumable by ``trusted_roles`` (role ARNs of other accounts)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, role_name: str, trusted_roles: Sequence[str], pipeline_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        if not trusted_roles:
            raise ValueError(f"{self.node.path}: no retraining role to trust")
        accounts = sorted({arn.split(":")[4] for arn in trusted_roles})
        principals: list[iam.IPrincipal] = [
            iam.AccountPrincipal(account).with_conditions({"ArnEquals": {"aws:PrincipalArn": sorted(trusted_roles)}})
            for account in accounts
        ]
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"Retraining functions of serving environments in other accounts start {pipeline_name} as "
            "this role",
            assumed_by=iam.CompositePrincipal(*principals) if len(principals) > 1 else principals[0],
            max_session_duration=cdk.Duration.hours(1),
        )
        stack = cdk.Stack.of(self)
        pipeline = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"], resources=[pipeline]
            )
        )

"""The role in an environment's account that the delivery pipeline's Train step assumes to start and watch the
environment's SageMaker pipeline (from the delivery account, possibly another one)."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.compliance import acknowledge_wildcard_resource


@dataclass(frozen=True)
class StarterTrust:
    """Who may assume the starter role: ``trusted_role_name`` in ``trusted_account`` (the Train step's role)."""

    role_name: str
    trusted_account: str
    trusted_role_name: str


class PipelineStarterRole(Construct):
    """``role``: start, list, describe and stop executions of ``pipeline_name``, nothing else; ``role_arn`` is a
    literal (the Train step reads it from the cloud assembly)."""

    def __init__(self, scope: Construct, construct_id: str, *, trust: StarterTrust, pipeline_name: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        trusted_arn = f"arn:{stack.partition}:iam::{trust.trusted_account}:role/{trust.trusted_role_name}"
        self.role = iam.Role(
            scope,  # keeps the role's logical id and name where the Train step's trust expects them
            "PipelineStarter",
            role_name=trust.role_name,
            description=f"The delivery pipeline's Train step starts and watches {pipeline_name} as this role",
            # Trust the account, narrowed to the Train step's role by a condition: IAM would reject a principal ARN
            # of a role that does not exist yet (the delivery stack may be deployed after this one).
            assumed_by=iam.AccountPrincipal(trust.trusted_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": trusted_arn}}
            ),
        )
        pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        executions = f"{pipeline_arn}/execution/*"
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"],
                resources=[pipeline_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:DescribePipelineExecution",
                    "sagemaker:DescribePipelineDefinitionForExecution",
                    "sagemaker:ListPipelineExecutionSteps",
                    "sagemaker:ListPipelineParametersForExecution",
                    "sagemaker:StopPipelineExecution",
                ],
                resources=[executions],
            )
        )
        acknowledge_wildcard_resource(
            self.role.node.find_child("DefaultPolicy"),
            executions,
            "Execution ids are assigned by SageMaker when the Train step starts an execution; limited to this "
            "pipeline's executions.",
        )
        self.role_arn = stack.format_arn(service="iam", region="", resource="role", resource_name=trust.role_name)

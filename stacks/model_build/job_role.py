"""The IAM role SageMaker processing and training jobs run as: pull the given images, write logs and metrics.

Data access (buckets, key, assets) is granted by the stack that wires the role to its data.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common.sagemaker_container import (
    acknowledge_container_baseline,
    container_baseline,
)
from stacks.compliance import acknowledge_wildcard_resource


class SageMakerJobRole(Construct):
    """A role assumable by SageMaker with the baseline every job needs and nothing else."""

    def __init__(self, scope: Construct, construct_id: str, *, images: list[str], description: str) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"), description=description
        )
        stack = cdk.Stack.of(self)
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        policy = iam.Policy(
            self,
            "JobBaseline",
            statements=container_baseline(
                images=images,
                partition=stack.partition,
                log_group=log_groups,
                pull_sid="PullJobImages",
                logs_sid="JobLogs",
                metrics_sid="JobMetrics",
            ),
        )
        policy.attach_to_role(self.role)
        acknowledge_container_baseline(policy)
        acknowledge_wildcard_resource(
            policy,
            log_groups,
            "SageMaker writes job logs to /aws/sagemaker/ProcessingJobs and /aws/sagemaker/TrainingJobs and creates "
            "the groups on first use; the role may only create and write groups under /aws/sagemaker/.",
        )
        acknowledge_wildcard_resource(
            policy,
            f"{log_groups}:log-stream:*",
            "Log streams are named per job at run time (<job name>/algo-1-<timestamp>); limited to the SageMaker "
            "job log groups of this account and region.",
        )

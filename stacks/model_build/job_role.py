"""The IAM role SageMaker processing and training jobs run as: pull the given images, write logs and metrics.

Data access (buckets, key, assets) is granted by the stack that wires the role to its data.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.compliance import acknowledge, acknowledge_wildcard_resource


def ecr_repository_arn(image_uri: str, partition: str) -> str:
    """``123.dkr.ecr.eu-west-1.amazonaws.com/repo:tag`` -> the repository ARN."""
    registry, _, rest = image_uri.partition("/")
    account, _, host = registry.partition(".dkr.ecr.")
    region = host.split(".", 1)[0]
    repository = rest.split(":", 1)[0].split("@", 1)[0]
    if not (account.isdigit() and region and repository):
        raise ValueError(f"not an ECR image URI: {image_uri!r}")
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


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
            statements=[
                iam.PolicyStatement(
                    sid="PullJobImages",
                    actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    resources=sorted({ecr_repository_arn(image, stack.partition) for image in images}),
                ),
                iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(
                    sid="JobLogs",
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[log_groups, f"{log_groups}:log-stream:*"],
                ),
                iam.PolicyStatement(
                    sid="JobMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
                ),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData do not support resource-level permissions; "
            "PutMetricData is limited to the /aws/sagemaker/* namespaces by a condition.",
        )
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

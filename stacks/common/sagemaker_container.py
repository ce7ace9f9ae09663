"""What every SageMaker container role needs, whatever it runs (a job or a hosted model): pull its images, log in to
ECR, write its logs and metrics. One definition for the model-build job role and the serving host role.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from stacks.compliance import acknowledge


def ecr_repository_arn(image_uri: str, partition: str) -> str:
    """``123.dkr.ecr.eu-west-1.amazonaws.com/repo:tag`` -> the repository ARN."""
    registry, _, rest = image_uri.partition("/")
    account, _, host = registry.partition(".dkr.ecr.")
    region = host.split(".", 1)[0]
    repository = rest.split(":", 1)[0].split("@", 1)[0]
    if not (account.isdigit() and region and repository):
        raise ValueError(f"not an ECR image URI: {image_uri!r}")
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def container_baseline(
    *, images: list[str], partition: str, log_group: str, pull_sid: str, logs_sid: str, metrics_sid: str
) -> list[iam.PolicyStatement]:
    """Pull ``images``, log in to ECR, write to ``log_group`` (an ARN, possibly ending in ``*``) and its streams, put
    metrics in the /aws/sagemaker/* namespaces. The sids name the statements in the caller's own words."""
    return [
        iam.PolicyStatement(
            sid=pull_sid,
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=sorted({ecr_repository_arn(image, partition) for image in images}),
        ),
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        iam.PolicyStatement(
            sid=logs_sid,
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group, f"{log_group}:log-stream:*"],
        ),
        iam.PolicyStatement(
            sid=metrics_sid,
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ),
    ]


def acknowledge_container_baseline(policy: iam.Policy) -> None:
    """The cdk-nag note of :func:`container_baseline`'s two statements that cannot name a resource."""
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken and cloudwatch:PutMetricData do not support resource-level permissions; "
        "PutMetricData is limited to the /aws/sagemaker/* namespaces by a condition.",
    )

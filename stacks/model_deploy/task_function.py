"""The deploy flow's task function (lambdas/model_deploy): deploy, watch, smoke-test, mark, notify, ask for
approval. In the serving environments it acts only through their deployer roles (this account's too), so its own
role holds the registry side: the group's packages, the test data and model archives, the topic."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.naming import LIVE_MODEL_CFN_PARAMETER
from stacks.compliance import GRANT_ACTIONS_READ, acknowledge, acknowledge_grant_actions, acknowledge_wildcard_resource
from stacks.model_build.package_group_cleanup import nag_resource
from stacks.model_deploy.functions import default_policy, deploy_function
from stacks.model_deploy.targets import ServingTarget, deployer_role_arns, targets_variable

FUNCTION = "model_deploy"
#: A step takes seconds; the smoke test sends up to 1000 rows (config bound) at ~0.1 s each in the worst case.
TIMEOUT = cdk.Duration.minutes(5)
READ_REASONS = {
    "s3:GetObject*": "Bucket.grant_read: the smoke test reads a package's test split and model archive under the "
    "model-build pipeline's prefix only.",
    "s3:GetBucket*": "Bucket.grant_read: of the artifacts bucket only.",
    "s3:List*": "Bucket.grant_read: listing the artifacts bucket (S3 answers NoSuchKey instead of AccessDenied).",
}


class DeployTaskFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        group_name: str,
        role_name: str,
        state_machine_arn: str,
        serving: Sequence[ServingTarget],
        topic: sns.ITopic,
        artifacts_bucket: s3.IBucket,
        artifacts_prefix: str,
        approval_timeout: cdk.Duration,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.function: lambda_.Function = deploy_function(
            self,
            "Function",
            function=FUNCTION,
            role_name=role_name,
            description=f"The deploy flow's steps for versions of {group_name}",
            environment={
                "POWERTOOLS_SERVICE_NAME": "model-deploy",
                "MODEL_PACKAGE_GROUP": group_name,
                "STATE_MACHINE_ARN": state_machine_arn,  # a literal ARN: the state machine refers to this function
                "TOPIC_ARN": topic.topic_arn,
                "LIVE_MODEL_CFN_PARAMETER": LIVE_MODEL_CFN_PARAMETER,
                "APPROVAL_TIMEOUT_HOURS": str(int(approval_timeout.to_hours())),
                "TARGETS": targets_variable(stack.partition, project, serving, tasks=True),
            },
            timeout=TIMEOUT,
            log_retention=log_retention,
        )
        packages = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group_name}/*")
        fn = self.function
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ActInServingEnvironments", actions=["sts:AssumeRole"],
            resources=deployer_role_arns(stack.partition, project, serving),
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ReadAndMarkPackages", actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
            resources=[packages],
        ))  # fmt: skip
        artifacts_bucket.grant_read(fn, artifacts_prefix)  # with kms:Decrypt on the bucket's key (the data key)
        topic.grant_publish(fn)
        policy = default_policy(fn)
        acknowledge_wildcard_resource(
            policy,
            nag_resource(stack, packages),
            f"Versions of {group_name} are numbered by SageMaker at registration; the function reads them and adds "
            "its live_in_<env> metadata entry (never the approval status).",
        )
        acknowledge_grant_actions(policy, GRANT_ACTIONS_READ, READ_REASONS)
        acknowledge_wildcard_resource(
            policy,
            nag_resource(stack, artifacts_bucket.arn_for_objects(artifacts_prefix)),
            "Test splits and model archives are written per pipeline execution under the model-build pipeline's "
            "prefix; read-only.",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Topic.grant_publish: SNS encrypts the function's notifications with the deploy flow's own key "
            "(the statement's resource is that key only).",
        )

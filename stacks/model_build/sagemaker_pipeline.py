"""The SageMaker Pipeline resource, its model package group, and the role SageMaker Pipelines runs it as."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from sagemaker_code.definition.build import Sentinels
from stacks.compliance import acknowledge_wildcard_resource
from stacks.model_build.package_group_cleanup import ModelPackageGroupCleanup

SENTINEL_MARK = "sentinel-"


def substitute_sentinels(definition: str, replacements: dict[str, str], sentinels: Sentinels) -> str:
    """Swap every sentinel in ``definition`` for its token; fail if a sentinel has no replacement."""
    values = sentinels.values()
    unknown = set(replacements) - set(values)
    if unknown:
        raise ValueError(f"replacements for unknown sentinels: {sorted(unknown)}")
    for name, sentinel in values.items():
        if sentinel in definition:
            if name not in replacements:
                raise ValueError(f"the pipeline definition uses sentinel {name!r} ({sentinel}) but no value was given")
            definition = definition.replace(sentinel, replacements[name])
    if SENTINEL_MARK in definition:
        raise ValueError("the pipeline definition still holds a sentinel value after substitution")
    return definition


def group_sharing_policy(stack: cdk.Stack, group_name: str, accounts: Sequence[str]) -> iam.PolicyDocument:
    """The group's resource policy for serving ``accounts``: describe the group, list and describe its versions and
    create a model from one (what CloudFormation does there as the serving stack's update role, or as the
    pipeline's deploy role). Never update or approve: approval stays with the registry's account."""
    principals: list[iam.IPrincipal] = [iam.AccountPrincipal(account) for account in sorted(set(accounts))]
    group = stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=group_name)
    versions = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group_name}/*")
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="ServingAccountsDescribeGroup",
                principals=principals,
                actions=["sagemaker:DescribeModelPackageGroup"],
                resources=[group],
            ),
            iam.PolicyStatement(
                sid="ServingAccountsUseVersions",
                principals=principals,
                actions=["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages", "sagemaker:CreateModel"],
                resources=[versions],
            ),
        ]
    )


class ModelBuildPipeline(Construct):
    """``AWS::SageMaker::Pipeline`` + ``AWS::SageMaker::ModelPackageGroup`` + the pipeline's execution role.

    The pipeline role may only start/describe/stop the jobs the pipeline runs (named ``pipelines-*`` by SageMaker),
    pass ``job_role`` to them, and register packages in this group. The stack grants it read access to the property
    files (evaluation and bias reports) in the artifacts bucket.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        model_package_group_name: str,
        definition: str,
        job_role: iam.IRole,
        volume_key: kms.IKey,
        retain: bool,
        consumer_accounts: Sequence[str] = (),
    ) -> None:
        """``consumer_accounts``: accounts of serving environments that deploy this group's versions from another
        account; the group's resource policy lets them read the versions and create models from them."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model_package_group_name,
            model_package_group_description=f"Models trained by the {pipeline_name} pipeline",
            model_package_group_policy=(
                group_sharing_policy(stack, model_package_group_name, consumer_accounts) if consumer_accounts else None
            ),
        )
        self.model_package_group.apply_removal_policy(cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY)
        # A group with versions cannot be deleted: empty it first when it goes with the stack. Kept for retained
        # groups too (it then does nothing), so that switching to retain_data: true never runs its Delete.
        self.cleanup = ModelPackageGroupCleanup(self, "ModelPackageGroupCleanup", group=self.model_package_group)

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker Pipelines runs {pipeline_name} as this role",
        )

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        group_arn = arn("model-package-group", model_package_group_name)
        packages_arn = arn("model-package", f"{model_package_group_name}/*")
        processing_jobs = arn("processing-job", "pipelines-*")
        training_jobs = arn("training-job", "pipelines-*")
        policy = iam.Policy(
            self,
            "RunPipeline",
            statements=[
                iam.PolicyStatement(
                    sid="RunSteps",
                    actions=[
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:CreateTrainingJob",
                        "sagemaker:DescribeTrainingJob",
                        "sagemaker:StopTrainingJob",
                        "sagemaker:AddTags",
                    ],
                    resources=[processing_jobs, training_jobs],
                ),
                iam.PolicyStatement(
                    sid="RegisterModels",
                    actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                    resources=[group_arn, packages_arn],
                ),
                iam.PolicyStatement(
                    sid="PassJobRole",
                    actions=["iam:PassRole"],
                    resources=[job_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="EncryptJobVolumes",
                    actions=["kms:CreateGrant", "kms:DescribeKey"],
                    resources=[volume_key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
            ],
        )
        policy.attach_to_role(self.role)
        job_reason = (
            "SageMaker Pipelines names each step's job pipelines-<execution id>-<step>-<suffix> at run time; the "
            "role is limited to jobs with that prefix in this account and region."
        )
        acknowledge_wildcard_resource(policy, processing_jobs, job_reason)
        acknowledge_wildcard_resource(policy, training_jobs, job_reason)
        acknowledge_wildcard_resource(
            policy,
            packages_arn,
            "Model package versions are numbered by SageMaker on registration; limited to this pipeline's group.",
        )

        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description="Preprocess, train (cost-optimal threshold), evaluate (metrics, bias report, gates), "
            "quality, cost and bias gates, register",
            pipeline_definition={"PipelineDefinitionBody": definition},
            role_arn=self.role.role_arn,
        )
        self.pipeline.node.add_dependency(policy)
        self.pipeline.node.add_dependency(self.model_package_group)

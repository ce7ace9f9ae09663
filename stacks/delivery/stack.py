"""Continuous delivery, in the delivery (tooling) account: the repository and its guard rails, the self-mutating
infrastructure pipeline that rolls every environment out in order and trains where config asks for it, and the
notifications of all of it."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from config.delivery import LOG_RETENTION_DAYS
from config.model import PlatformConfig, StorageSettings
from config.naming import (
    delivery_key_alias,
    delivery_log_group_prefix,
    delivery_pipeline_name,
    notifications_key_alias,
    starter_role_name,
)
from stacks.common.kms_access import admit_log_groups
from stacks.compliance import (
    GRANT_ACTIONS_READ,
    GRANT_ACTIONS_READ_WRITE,
    acknowledge_grant_actions,
    acknowledge_wildcard_resource,
)
from stacks.delivery.branch_protection import BranchProtection
from stacks.delivery.build_environment import BUILD_IMAGE, install_runtimes
from stacks.delivery.notifications import PipelineNotifications
from stacks.delivery.push_trigger import PushTrigger
from stacks.delivery.train_step import train_after_deploy_step
from stacks.environment_stage import EnvironmentStage
from stacks.storage.secure_bucket import SecureBucket

#: Why the wildcards in the roles that CodePipeline, CodeBuild and CDK Pipelines generate are acceptable.
PIPELINE_REASONS = {
    "artifacts": "CodePipeline stores each action's input and output artifacts under generated keys in this "
    "project's pipeline artifact bucket; access is limited to that bucket.",
    "*": "CDK Pipelines: the self-mutation and asset-publishing steps call sts:AssumeRole on the CDK bootstrap roles "
    "and cloudformation:DescribeStacks, which have no narrower resource form here.",
    "role": "CDK Pipelines assumes the CDK bootstrap roles (cdk-<qualifier>-*-role-<account>-<region>) of the "
    "target environments; their names are fixed by `cdk bootstrap`, in every partition of this account.",
    "report-group": "CodeBuild's default grant for test reports of this project (report groups are created on "
    "first use, named after the project).",
    "log-group": "CodeBuild's default grant for this project's log streams (named per build at run time).",
}
#: Why CDK's grant methods' wildcard actions are acceptable on the pipeline roles (the artifact bucket and its key).
PIPELINE_GRANT_REASONS = {
    "s3:GetObject*": "CodePipeline/CodeBuild read pipeline artifacts (source, cloud assembly) from the project's "
    "artifact bucket only: Bucket.grant_read's object actions.",
    "s3:GetBucket*": "Bucket.grant_read on the project's artifact bucket only (location and ACL checks before "
    "artifact transfers).",
    "s3:List*": "Bucket.grant_read on the project's artifact bucket only: listing artifacts of an execution.",
    "s3:DeleteObject*": "Bucket.grant_read_write on the artifact bucket only: CodePipeline replaces an action's "
    "output artifact when the action is retried.",
    "s3:Abort*": "Bucket.grant_read_write on the artifact bucket only: aborting multipart uploads of large artifacts.",
    "kms:GenerateDataKey*": "Artifacts are encrypted with the delivery key: data keys of that key only (the "
    "statement's resource is the key).",
    "kms:ReEncrypt*": "Artifacts are encrypted with the delivery key: re-encryption with that key only (the "
    "statement's resource is the key).",
}


def cast_cfn(construct: IConstruct) -> cdk.CfnResource:
    """The CloudFormation resource under an L2 construct."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return child


def codebuild_defaults(stack: cdk.Stack, project: cdk.CfnResource) -> list[str]:
    """The report-group and log-group resources CodeBuild grants every project, as cdk-nag writes them."""
    logical_id = stack.resolve(project.logical_id)
    prefix = f"arn:{stack.partition}"
    return [
        f"{prefix}:codebuild:{stack.region}:{stack.account}:report-group/<{logical_id}>-*",
        f"{prefix}:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/<{logical_id}>:*",
    ]


def acknowledge_findings(role: object, findings: list[str]) -> None:
    """Acknowledge IAM5 findings on a role's default policy (or on a policy construct itself)."""
    target = role.node.find_child("DefaultPolicy") if isinstance(role, iam.Role) else role
    if not isinstance(target, Construct):
        raise TypeError(f"cannot acknowledge on {role!r}")
    acknowledge_grant_actions(target, [f for f in findings if f in PIPELINE_GRANT_REASONS], PIPELINE_GRANT_REASONS)
    for finding in findings:
        if finding in PIPELINE_GRANT_REASONS:
            continue
        if finding == "*":
            reason = PIPELINE_REASONS["*"]
        elif ":iam::" in finding:
            reason = PIPELINE_REASONS["role"]
        elif ":report-group/" in finding:
            reason = PIPELINE_REASONS["report-group"]
        elif ":log-group:" in finding:
            reason = PIPELINE_REASONS["log-group"]
        else:
            reason = PIPELINE_REASONS["artifacts"]
        acknowledge_wildcard_resource(target, finding, reason)


def retention_days(days: int) -> logs.RetentionDays:
    """The RetentionDays member of ``days`` (the enum lists CloudWatch's periods in order, then INFINITE)."""
    periods = [member for member in logs.RetentionDays if member is not logs.RetentionDays.INFINITE]
    return dict(zip(LOG_RETENTION_DAYS, periods, strict=True))[days]


class DeliveryStack(cdk.Stack):
    """Repository, infrastructure pipeline (CDK Pipelines, self-mutating, with Train steps), notifications."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment_stages: dict[str, EnvironmentStage],
        cli_version: str,
        assets_version: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        delivery = config.delivery
        if delivery is None:
            raise ValueError("DeliveryStack needs config.delivery")
        prefix = config.project.name
        self.log_group_prefix = delivery_log_group_prefix(prefix)
        self.retention = retention_days(delivery.log_retention_days)

        self.key = kms.Key(
            self,
            "Key",
            alias=delivery_key_alias(prefix),
            description=f"{prefix}: repository, pipeline artifacts and build logs",
            enable_key_rotation=True,
        )
        admit_log_groups(self.key, self.log_group_prefix)
        logs_bucket = SecureBucket(
            self, "AccessLogs", bucket_name=None, settings=StorageSettings(), retain=True, encryption_key=None,
            access_logs_bucket=None, expiration_days=StorageSettings().access_log_expiration_days,
        ).bucket  # fmt: skip
        self.artifact_bucket = SecureBucket(
            self, "Artifacts", bucket_name=None, settings=StorageSettings(), retain=True, encryption_key=self.key,
            access_logs_bucket=logs_bucket, expiration_days=90,
        ).bucket  # fmt: skip
        #: How cdk-nag writes the artifact bucket's objects (``<LogicalId.Arn>/*``) in its IAM5 findings.
        self.artifact_objects_finding = f"<{self.resolve(cast_cfn(self.artifact_bucket).logical_id)}.Arn>/*"
        self.notifications = PipelineNotifications(
            self, "Notifications", emails=list(delivery.notification_emails), alias=notifications_key_alias(prefix)
        )

        source_settings = delivery.source
        self.repository: codecommit.IRepository | None = None
        if source_settings.repository_name:
            self.repository = codecommit.Repository(
                self,
                "Repository",
                repository_name=source_settings.repository_name,
                description=f"{prefix}: infrastructure and model code",
                kms_key=self.key,
            )
            self.repository.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        elif source_settings.existing_repository:
            self.repository = codecommit.Repository.from_repository_name(
                self, "Repository", source_settings.existing_repository
            )

        self.infrastructure = self._infrastructure_pipeline(config, environment_stages, cli_version, assets_version)
        self.notifications.on_pipeline_failure(self.infrastructure.pipeline)
        for env_name in delivery.notify_on_success:
            self.notifications.on_stage_success(self.infrastructure.pipeline, env_name)

        self.branch_protection: BranchProtection | None = None
        self.push_trigger: PushTrigger | None = None
        if self.repository is not None:
            self.push_trigger = PushTrigger(
                self,
                "PushTrigger",
                repository=self.repository,
                branch=delivery.branch,
                pipeline=self.infrastructure.pipeline,
                key=self.notifications.key,
            )
            self.notifications.on_alarm(self.push_trigger.alarm)
            self.branch_protection = BranchProtection(
                self,
                "BranchProtection",
                repository=self.repository,
                branch=delivery.branch,
                approvals=delivery.pull_request_approvals,
                name_prefix=prefix,
                log_group=self.log_group("CustomResourceLogs"),
            )
            BranchProtection.acknowledge_provider(self)
            cdk.CfnOutput(
                self,
                "DenyDirectChangesPolicyArn",
                value=self.branch_protection.deny_direct_changes.managed_policy_arn,
                description=f"Attach to developer roles: changes to {delivery.branch} only through approved pull "
                "requests",
            )

    def log_group(self, construct_id: str) -> logs.LogGroup:
        """A log group of this stack: named under the prefix the delivery key admits CloudWatch Logs for."""
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=f"{self.log_group_prefix}{construct_id}",
            retention=self.retention,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _infrastructure_pipeline(
        self,
        config: PlatformConfig,
        environment_stages: dict[str, EnvironmentStage],
        cli_version: str,
        assets_version: str,
    ) -> pipelines.CodePipeline:
        delivery = config.delivery
        if delivery is None:
            raise ValueError("the infrastructure pipeline needs config.delivery")
        if self.repository is not None:
            # The push trigger (with its dead-letter queue) starts the pipeline, not CodePipeline's own rule.
            source = pipelines.CodePipelineSource.code_commit(
                self.repository, delivery.branch, trigger=codepipeline_actions.CodeCommitTrigger.NONE
            )
        else:
            connection = delivery.source.connection
            if connection is None:
                raise ValueError("delivery.source has neither a CodeCommit repository nor a connection")
            source = pipelines.CodePipelineSource.connection(
                connection.repository, delivery.branch, connection_arn=connection.arn
            )
        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            commands=["make test", "make synth"],
            primary_output_directory="cdk.out",
            # Environments without an account in config are deployed to the delivery account.
            env={"CDK_DEFAULT_ACCOUNT": self.account, "CDK_DEFAULT_REGION": self.region},
            partial_build_spec=codebuild.BuildSpec.from_object(install_runtimes("python", "nodejs")),
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.LARGE
            ),
        )
        pipeline = pipelines.CodePipeline(
            self,
            "Infrastructure",
            pipeline_name=delivery_pipeline_name(config.project.name),
            synth=synth,
            self_mutation=True,
            cli_version=cli_version,
            cdk_assets_cli_version=assets_version,
            cross_account_keys=True,
            enable_key_rotation=True,
            use_pipeline_role_for_actions=True,
            artifact_bucket=self.artifact_bucket,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=codebuild.BuildSpec.from_object(install_runtimes("nodejs")),
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group("BuildLogs"))
                ),
            ),
        )
        self.train_steps: dict[str, pipelines.CodeBuildStep] = {}
        for env_name in config.pipeline_stages:
            stage = environment_stages[env_name]
            approval = (
                [pipelines.ManualApprovalStep(f"Approve-{env_name}", comment=f"Deploy {env_name}?")]
                if env_name in delivery.require_approval
                else None
            )
            post = None
            if config.environments[env_name].train_on_push:
                starter = starter_role_name(config.project.name, env_name)
                self.train_steps[env_name] = train_after_deploy_step(
                    self,
                    project=config.project.name,
                    env_name=env_name,
                    source=source,
                    synth=synth,
                    starter_role_arn=f"arn:{self.partition}:iam::{stage.account}:role/{starter}",
                    wait_seconds=stage.model_build.training_wait_seconds,
                )
                post = [self.train_steps[env_name]]
            pipeline.add_stage(stage, pre=approval, post=post)
        pipeline.build_pipeline()
        self._acknowledge_pipeline_findings(pipeline)
        return pipeline

    def _acknowledge_pipeline_findings(self, pipeline: pipelines.CodePipeline) -> None:
        """The IAM5 findings of the roles CDK Pipelines generates, each on its own policy with its reason."""
        artifacts = self.artifact_objects_finding
        root = self.node.find_child("Infrastructure")
        synth_project = cast_cfn(pipeline.synth_project)
        mutation_project = cast_cfn(pipeline.self_mutation_project)
        key_actions = ["kms:GenerateDataKey*", "kms:ReEncrypt*"]
        for policy, findings in (
            (pipeline.pipeline.role, [*GRANT_ACTIONS_READ_WRITE, artifacts]),
            (pipeline.synth_project.role, [*GRANT_ACTIONS_READ_WRITE, artifacts,
                                           *codebuild_defaults(self, synth_project)]),
            (pipeline.self_mutation_project.role, [*GRANT_ACTIONS_READ, *key_actions, artifacts, "*",
                                                   f"arn:*:iam::{self.account}:role/*",
                                                   *codebuild_defaults(self, mutation_project)]),
            (root.node.find_child("Assets").node.find_child("FileRole"),
             [*GRANT_ACTIONS_READ, artifacts, "*", f"arn:{self.partition}:codebuild:{self.region}:{self.account}:"
              "report-group/*", f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/aws/codebuild/*"]),
        ):  # fmt: skip
            acknowledge_findings(policy, findings)
        for step in self.train_steps.values():
            project = cast_cfn(step.project)
            acknowledge_findings(
                step.project.role, [*GRANT_ACTIONS_READ, *key_actions, artifacts, *codebuild_defaults(self, project)]
            )

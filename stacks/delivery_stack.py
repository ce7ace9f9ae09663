"""Continuous delivery, in the delivery (tooling) account: the repository, the self-mutating infrastructure
pipeline that rolls every environment out in order, the model-build CI pipelines, and their notifications."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from config.delivery import LOG_RETENTION_DAYS
from config.model import PlatformConfig, StorageSettings
from config.model_build import pipeline_name
from stacks.compliance import (
    GRANT_ACTION_REASONS,
    GRANT_ACTIONS_READ,
    GRANT_ACTIONS_READ_WRITE,
    acknowledge_grant_actions,
    acknowledge_wildcard_resource,
)
from stacks.components.model_build_ci import (
    BUILD_IMAGE,
    ModelBuildCi,
    TrainTarget,
    starter_role_name,
)
from stacks.components.pipeline_notifications import PipelineNotifications
from stacks.components.secure_bucket import SecureBucket
from stacks.environment_stage import EnvironmentStage

#: What the synth step installs before `make test` / `make synth` (the Makefile does the rest).
SYNTH_RUNTIME = {"phases": {"install": {"runtime-versions": {"python": "3.12", "nodejs": "20"}}}}


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


def acknowledge_findings(role: object, findings: list[str], reasons: dict[str, str]) -> None:
    """Acknowledge IAM5 findings on a role's default policy (or on a policy construct itself)."""
    target = role.node.find_child("DefaultPolicy") if isinstance(role, iam.Role) else role
    if not isinstance(target, Construct):
        raise TypeError(f"cannot acknowledge on {role!r}")
    actions = [f for f in findings if f in GRANT_ACTION_REASONS]
    acknowledge_grant_actions(target, actions)
    for finding in findings:
        if finding in GRANT_ACTION_REASONS:
            continue
        if finding == "*":
            reason = reasons["*"]
        elif ":iam::" in finding:
            reason = reasons["role"]
        elif ":report-group/" in finding:
            reason = reasons["report-group"]
        elif ":log-group:" in finding:
            reason = reasons["log-group"]
        else:
            reason = reasons["artifacts"]
        acknowledge_wildcard_resource(target, finding, reason)


def retention_days(days: int) -> logs.RetentionDays:
    """The RetentionDays member of ``days`` (the enum lists CloudWatch's periods in order, then INFINITE)."""
    periods = [member for member in logs.RetentionDays if member is not logs.RetentionDays.INFINITE]
    return dict(zip(LOG_RETENTION_DAYS, periods, strict=True))[days]


class DeliveryStack(cdk.Stack):
    """Repository, infrastructure pipeline (CDK Pipelines, self-mutating), model-build CI, notifications."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment_stages: dict[str, EnvironmentStage],
        cli_version: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        delivery = config.delivery
        if delivery is None:
            raise ValueError("DeliveryStack needs config.delivery")
        prefix = config.project.name
        retention = retention_days(delivery.log_retention_days)

        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{prefix}-delivery",
            description=f"{prefix}: pipeline artifacts, build logs and notifications",
            enable_key_rotation=True,
        )
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
            self, "Notifications", key=self.key, emails=list(delivery.notification_emails)
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

        self.infrastructure = self._infrastructure_pipeline(config, environment_stages, cli_version, retention)
        self.notifications.on_pipeline_failure(self.infrastructure.pipeline)
        for env_name in delivery.notify_on_success:
            self.notifications.on_stage_success(self.infrastructure.pipeline, env_name)

        self.model_build_ci: dict[str, ModelBuildCi] = {}
        for env_name, env in config.environments.items():
            if env.train_on_push is None:
                continue
            stage = environment_stages[env_name]
            ci = ModelBuildCi(
                self,
                f"ModelBuildCi-{env_name}",
                prefix=prefix,
                target=TrainTarget(
                    env_name=env_name,
                    pipeline_name=pipeline_name(prefix, env_name),
                    account=str(stage.account),
                    region=str(stage.region),
                    starter_role_name=starter_role_name(prefix, env_name),
                ),
                branch=env.train_on_push.branch,
                paths=list(env.train_on_push.paths),
                repository=self.repository,
                connection=source_settings.connection,
                artifact_bucket=self.artifact_bucket,
                key=self.key,
                log_retention=retention,
            )
            self.notifications.on_pipeline_failure(ci.pipeline)
            self.model_build_ci[env_name] = ci
            artifacts = self.artifact_objects_finding
            acknowledge_findings(ci.pipeline.role, [*GRANT_ACTIONS_READ_WRITE, artifacts], PIPELINE_REASONS)
            for project in (ci.test_project, ci.train_project):
                findings = [*GRANT_ACTIONS_READ, "kms:GenerateDataKey*", "kms:ReEncrypt*", artifacts,
                            *codebuild_defaults(self, cast_cfn(project))]  # fmt: skip
                acknowledge_findings(project.role, findings, PIPELINE_REASONS)

    def _infrastructure_pipeline(
        self,
        config: PlatformConfig,
        environment_stages: dict[str, EnvironmentStage],
        cli_version: str,
        retention: logs.RetentionDays,
    ) -> pipelines.CodePipeline:
        delivery = config.delivery
        if delivery is None:
            raise ValueError("the infrastructure pipeline needs config.delivery")
        if self.repository is not None:
            source = pipelines.CodePipelineSource.code_commit(self.repository, delivery.branch)
        else:
            connection = delivery.source.connection
            if connection is None:
                raise ValueError("delivery.source has neither a CodeCommit repository nor a connection")
            source = pipelines.CodePipelineSource.connection(
                connection.repository, delivery.branch, connection_arn=connection.arn
            )
        build_logs = logs.LogGroup(
            self, "InfrastructureBuildLogs", retention=retention, encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )  # fmt: skip
        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            commands=["make test", "make synth"],
            primary_output_directory="cdk.out",
            # Environments without an account in config are deployed to the delivery account.
            env={"CDK_DEFAULT_ACCOUNT": self.account, "CDK_DEFAULT_REGION": self.region},
            partial_build_spec=codebuild.BuildSpec.from_object(SYNTH_RUNTIME),
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.LARGE
            ),
        )
        pipeline = pipelines.CodePipeline(
            self,
            "Infrastructure",
            pipeline_name=f"{config.project.name}-infrastructure",
            synth=synth,
            self_mutation=True,
            cli_version=cli_version,
            cross_account_keys=True,
            enable_key_rotation=True,
            use_pipeline_role_for_actions=True,
            artifact_bucket=self.artifact_bucket,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=build_logs)),
            ),
        )
        for env_name in config.pipeline_stages:
            approval = (
                [pipelines.ManualApprovalStep(f"Approve-{env_name}", comment=f"Deploy {env_name}?")]
                if env_name in delivery.require_approval
                else None
            )
            pipeline.add_stage(environment_stages[env_name], pre=approval)
        pipeline.build_pipeline()
        self._acknowledge_pipeline_findings(pipeline)
        return pipeline

    def _acknowledge_pipeline_findings(self, pipeline: pipelines.CodePipeline) -> None:
        """The IAM5 findings of the roles CDK Pipelines generates, each on its own policy with its reason."""
        artifacts = self.artifact_objects_finding
        root = self.node.find_child("Infrastructure")
        synth_project = cast_cfn(pipeline.synth_project)
        mutation_project = cast_cfn(pipeline.self_mutation_project)
        for policy, findings in (
            (pipeline.pipeline.role, [*GRANT_ACTIONS_READ_WRITE, artifacts]),
            (pipeline.synth_project.role, [*GRANT_ACTIONS_READ_WRITE, artifacts,
                                           *codebuild_defaults(self, synth_project)]),
            (pipeline.self_mutation_project.role, [*GRANT_ACTIONS_READ, "kms:GenerateDataKey*", "kms:ReEncrypt*",
                                                   artifacts, "*", f"arn:*:iam::{self.account}:role/*",
                                                   *codebuild_defaults(self, mutation_project)]),
            (root.node.find_child("Assets").node.find_child("FileRole"),
             [*GRANT_ACTIONS_READ, artifacts, "*", f"arn:{self.partition}:codebuild:{self.region}:{self.account}:"
              "report-group/*", f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/aws/codebuild/*"]),
        ):  # fmt: skip
            acknowledge_findings(policy, findings, PIPELINE_REASONS)

"""The delivery pipeline: CDK Pipelines (self-mutating) that tests and synthesizes a commit, then deploys the
environments in order, with a manual approval where config asks for one and a Train step after each environment that
trains on push. Next to it, the cdk-nag acknowledgements of the roles CDK Pipelines generates."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from config.delivery import ConnectionSource
from config.naming import starter_role_name
from stacks.compliance import (
    GRANT_ACTIONS_READ,
    GRANT_ACTIONS_READ_WRITE,
    acknowledge_grant_actions,
    acknowledge_wildcard_resource,
)
from stacks.delivery.artifact_store import ArtifactStore
from stacks.delivery.build_environment import BUILD_IMAGE, install_runtimes
from stacks.delivery.train_step import train_after_deploy_step
from stacks.environment_stage import EnvironmentStage

#: What the Synth step runs: the README's two commands.
SYNTH_COMMANDS = ["make test", "make synth"]

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
KEY_ACTIONS = ["kms:GenerateDataKey*", "kms:ReEncrypt*"]


@dataclass(frozen=True)
class Rollout:
    """What the delivery pipeline deploys: the environments in order and which of them wait for an approval or
    train after their deployment."""

    project: str
    branch: str
    stages: list[EnvironmentStage]
    require_approval: frozenset[str]
    train_on_push: frozenset[str]


def cast_cfn(construct: IConstruct) -> cdk.CfnResource:
    """The CloudFormation resource under an L2 construct."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return child


class DeliveryPipeline(Construct):
    """``pipeline`` (CDK Pipelines) from ``repository`` (CodeCommit, started by the PushTrigger construct) or
    ``connection`` (CodeConnections, started by CodePipeline itself), its artifacts in ``store``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        rollout: Rollout,
        repository: codecommit.IRepository | None,
        connection: ConnectionSource | None,
        store: ArtifactStore,
        cli_version: str,
        assets_version: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        if repository is not None:
            # The push trigger (with its dead-letter queue) starts the pipeline, not CodePipeline's own rule.
            self.source = pipelines.CodePipelineSource.code_commit(
                repository, rollout.branch, trigger=codepipeline_actions.CodeCommitTrigger.NONE
            )
        elif connection is not None:
            self.source = pipelines.CodePipelineSource.connection(
                connection.repository, rollout.branch, connection_arn=connection.arn
            )
        else:
            raise ValueError(f"{self.node.path}: give a repository or a connection")
        self.synth = pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            commands=SYNTH_COMMANDS,
            primary_output_directory="cdk.out",
            # Environments without an account in config are deployed to the delivery account.
            env={"CDK_DEFAULT_ACCOUNT": stack.account, "CDK_DEFAULT_REGION": stack.region},
            partial_build_spec=codebuild.BuildSpec.from_object(install_runtimes("python", "nodejs")),
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.LARGE
            ),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            synth=self.synth,
            self_mutation=True,
            cli_version=cli_version,
            cdk_assets_cli_version=assets_version,
            cross_account_keys=True,
            enable_key_rotation=True,
            use_pipeline_role_for_actions=True,
            artifact_bucket=store.artifact_bucket,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=codebuild.BuildSpec.from_object(install_runtimes("nodejs")),
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=store.log_group("BuildLogs"))
                ),
            ),
        )
        self.train_steps: dict[str, pipelines.CodeBuildStep] = {}
        for stage in rollout.stages:
            env_name = stage.env_name
            approval = (
                [pipelines.ManualApprovalStep(f"Approve-{env_name}", comment=f"Deploy {env_name}?")]
                if env_name in rollout.require_approval
                else None
            )
            if env_name in rollout.train_on_push:
                starter = starter_role_name(rollout.project, env_name)
                self.train_steps[env_name] = train_after_deploy_step(
                    self,
                    project=rollout.project,
                    env_name=env_name,
                    source=self.source,
                    synth=self.synth,
                    starter_role_arn=f"arn:{stack.partition}:iam::{stage.account}:role/{starter}",
                    wait_seconds=stage.model_build.training_wait_seconds,
                )
            post = [self.train_steps[env_name]] if env_name in self.train_steps else None
            self.pipeline.add_stage(stage, pre=approval, post=post)
        self.pipeline.build_pipeline()
        self._acknowledge_generated_roles(store)

    def _acknowledge_generated_roles(self, store: ArtifactStore) -> None:
        """The IAM5 findings of the roles CDK Pipelines generates, each on its own policy with its reason."""
        stack = cdk.Stack.of(self)
        #: How cdk-nag writes the artifact bucket's objects (``<LogicalId.Arn>/*``) in its IAM5 findings.
        artifacts = f"<{stack.resolve(cast_cfn(store.artifact_bucket).logical_id)}.Arn>/*"
        pipeline = self.pipeline
        mutation = cast_cfn(pipeline.self_mutation_project)
        assets_role = self.node.find_child("Pipeline").node.find_child("Assets").node.find_child("FileRole")
        region, account, partition = stack.region, stack.account, stack.partition
        for role, findings in (
            (pipeline.pipeline.role, [*GRANT_ACTIONS_READ_WRITE, artifacts]),
            (pipeline.synth_project.role, [*GRANT_ACTIONS_READ_WRITE, artifacts,
                                           *codebuild_defaults(stack, cast_cfn(pipeline.synth_project))]),
            (pipeline.self_mutation_project.role, [*GRANT_ACTIONS_READ, *KEY_ACTIONS, artifacts, "*",
                                                   f"arn:*:iam::{account}:role/*",
                                                   *codebuild_defaults(stack, mutation)]),
            (assets_role, [*GRANT_ACTIONS_READ, artifacts, "*", f"arn:{partition}:codebuild:{region}:{account}:"
             "report-group/*", f"arn:{partition}:logs:{region}:{account}:log-group:/aws/codebuild/*"]),
            *((step.project.role, [*GRANT_ACTIONS_READ, *KEY_ACTIONS, artifacts,
                                   *codebuild_defaults(stack, cast_cfn(step.project))])
              for step in self.train_steps.values()),
        ):  # fmt: skip
            acknowledge_findings(role, findings)


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

"""The model-build CI pipeline of one environment: Source -> Test -> Train, started by pushes of model code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config.delivery import ConnectionSource
from stacks.compliance import acknowledge

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
#: Pinned CodeBuild image (Ubuntu standard 7.0: Python 3.12, Node 20).
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
#: The trigger function's runtime and the Powertools layer version (the one the tests run against).
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
POWERTOOLS_VERSION = "3.37.0"
SOURCE_ACTION = "Source"


@dataclass(frozen=True)
class TrainTarget:
    """The SageMaker pipeline a CI pipeline trains, and the role in its account that may start it."""

    env_name: str
    pipeline_name: str
    account: str
    region: str
    starter_role_name: str

    @property
    def starter_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.starter_role_name}"

    @property
    def pipeline_arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{self.pipeline_name}"


def powertools_layer(scope: Construct, construct_id: str) -> lambda_.ILayerVersion:
    """The public Powertools layer of the pinned version, resolved from its SSM parameter at deploy time."""
    arch = "x86_64"
    python = LAMBDA_RUNTIME.name.removeprefix("python")
    arn = ssm.StringParameter.value_for_string_parameter(
        scope, f"/aws/service/powertools/python/{arch}/python{python}/{POWERTOOLS_VERSION}"
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, construct_id, arn)


class ModelBuildCi(Construct):
    """CodePipeline (V2): Source -> Test (``make test-model``) -> Train (start + wait for the SageMaker pipeline).

    CodeCommit sources have no file-path trigger filters, so pushes reach a Lambda (through an EventBridge rule on
    the branch) that starts the pipeline on the pushed commit only when model code changed. CodeConnections sources
    use the V2 trigger with branch and file-path filters instead.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        target: TrainTarget,
        branch: str,
        paths: list[str],
        repository: codecommit.IRepository | None,
        connection: ConnectionSource | None,
        artifact_bucket: s3.IBucket,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        if (repository is None) == (connection is None):
            raise ValueError(f"{self.node.path}: give exactly one of repository and connection")
        name = f"{prefix}-{target.env_name}-model-build-ci"
        source_output = codepipeline.Artifact("Source")

        def project(step: str, buildspec: str, role_name: str | None = None) -> codebuild.PipelineProject:
            log_group = logs.LogGroup(
                self, f"{step}Logs", retention=log_retention, encryption_key=key,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )  # fmt: skip
            role = iam.Role(
                self,
                f"{step}Role",
                role_name=role_name,
                assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                description=f"CodeBuild {step} stage of {name}",
            )
            return codebuild.PipelineProject(
                self,
                step,
                project_name=f"{name}-{step.lower()}",
                role=role,
                build_spec=codebuild.BuildSpec.from_source_filename(buildspec),
                environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
                ),
                encryption_key=key,
                logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
                timeout=cdk.Duration.hours(5) if step == "Train" else cdk.Duration.minutes(60),
            )

        self.test_project = project("Test", "buildspecs/model-test.yml")
        self.train_project = project(
            "Train", "buildspecs/model-train.yml", role_name=train_role_name(prefix, target.env_name)
        )
        self.train_project.add_to_role_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[target.starter_role_arn])
        )

        if repository is not None:
            source: actions.Action = actions.CodeCommitSourceAction(
                action_name=SOURCE_ACTION, repository=repository, branch=branch, output=source_output,
                trigger=actions.CodeCommitTrigger.NONE,  # the trigger function starts it, on model-code changes only
            )  # fmt: skip
        elif connection is not None:
            owner, _, repo = connection.repository.partition("/")
            source = actions.CodeStarConnectionsSourceAction(
                action_name=SOURCE_ACTION, connection_arn=connection.arn, owner=owner, repo=repo, branch=branch,
                output=source_output, trigger_on_push=False,  # the V2 trigger below filters branch and paths
            )  # fmt: skip
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=name,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            artifact_bucket=artifact_bucket,
            use_pipeline_role_for_actions=True,
            restart_execution_on_update=False,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[source]),
                codepipeline.StageProps(
                    stage_name="Test",
                    actions=[
                        actions.CodeBuildAction(action_name="Test", project=self.test_project, input=source_output)
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="Train",
                    actions=[
                        actions.CodeBuildAction(
                            action_name="Train",
                            project=self.train_project,
                            input=source_output,
                            environment_variables={
                                "PIPELINE_NAME": codebuild.BuildEnvironmentVariable(value=target.pipeline_name),
                                "PIPELINE_REGION": codebuild.BuildEnvironmentVariable(value=target.region),
                                "STARTER_ROLE_ARN": codebuild.BuildEnvironmentVariable(value=target.starter_role_arn),
                            },
                        )
                    ],
                ),
            ],
            triggers=None
            if connection is None
            else [
                codepipeline.TriggerProps(
                    provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
                    git_configuration=codepipeline.GitConfiguration(
                        source_action=source,
                        push_filter=[codepipeline.GitPushFilter(branches_includes=[branch], file_paths_includes=paths)],
                    ),
                )
            ],
        )
        self.trigger: lambda_.Function | None = None
        if repository is not None:
            self.trigger = self._push_trigger(repository, branch, paths, log_retention, key)

    def _push_trigger(
        self,
        repository: codecommit.IRepository,
        branch: str,
        paths: list[str],
        log_retention: logs.RetentionDays,
        key: kms.IKey,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self, "TriggerLogs", retention=log_retention, encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        role = iam.Role(
            self,
            "TriggerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Push trigger of {self.pipeline.pipeline_name}: its own logs, one diff call, one start call",
        )
        log_group.grant_write(role)  # instead of the AWSLambdaBasicExecutionRole managed policy
        function = lambda_.Function(
            self,
            "Trigger",
            role=role,
            description=f"Starts {self.pipeline.pipeline_name} when a push to {branch} changes model code",
            runtime=LAMBDA_RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler="model_build_trigger.handler.handler",
            code=lambda_.Code.from_asset(
                str(LAMBDAS_DIR),
                exclude=[p.name for p in LAMBDAS_DIR.iterdir() if p.name != "model_build_trigger"] + ["**/__pycache__"],
            ),
            layers=[powertools_layer(self, "Powertools")],
            timeout=cdk.Duration.seconds(60),
            memory_size=256,
            environment={
                "PIPELINE_NAME": self.pipeline.pipeline_name,
                "BRANCH": branch,
                "PATH_PATTERNS": json.dumps(paths),
                "POWERTOOLS_SERVICE_NAME": "model-build-trigger",
            },
            log_group=log_group,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["codecommit:GetDifferences"], resources=[repository.repository_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["codepipeline:StartPipelineExecution"], resources=[self.pipeline.pipeline_arn])
        )
        rule = events.Rule(
            self,
            "OnPush",
            description=f"Pushes to {branch} of {repository.repository_name}",
            event_pattern=events.EventPattern(
                source=["aws.codecommit"],
                detail_type=["CodeCommit Repository State Change"],
                resources=[repository.repository_arn],
                detail={
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": [branch],
                },
            ),
        )
        rule.add_target(targets.LambdaFunction(function, retry_attempts=4, max_event_age=cdk.Duration.hours(2)))
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"Pinned to {LAMBDA_RUNTIME.name}, the runtime the pinned Powertools layer {POWERTOOLS_VERSION} is "
            "resolved for (its SSM parameter names the Python version); bump both together.",
        )
        return function


def train_role_name(prefix: str, env_name: str) -> str:
    """The Train project's role: named, so that the environment's starter role can trust exactly this role."""
    return f"{prefix}-{env_name}-model-build-train"


def starter_role_name(prefix: str, env_name: str) -> str:
    return f"{prefix}-{env_name}-pipeline-starter"

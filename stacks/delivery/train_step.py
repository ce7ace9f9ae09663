"""The Train step of an environment in the delivery pipeline: after the pipeline deployed commit X there, train on X.

Lineage by construction: the step runs after the environment's stacks of X are deployed, reads the expected
fingerprint of X's model-build inputs from the cloud assembly synthesized from X (an artifact of the same pipeline
execution, never the pipeline's current definition), and the tool checks that the execution it started carries that
fingerprint (tools/run_sagemaker_pipeline.py). It trains only when the fingerprint has not been trained yet.
"""

from __future__ import annotations

import math

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from config.loader import ConfigError
from config.naming import train_role_name
from stacks.delivery.build_environment import BUILD_IMAGE, install_runtimes
from stacks.model_build.runtime import BUILD_MARGIN_SECONDS, CODEBUILD_MAX_TIMEOUT_SECONDS

#: Where the cloud assembly of the commit lands in the step's working directory.
ASSEMBLY_DIR = "cdk.out"


def train_after_deploy_step(
    scope: Construct,
    *,
    project: str,
    env_name: str,
    source: pipelines.CodePipelineSource,
    synth: pipelines.IFileSetProducer,
    starter_role_arn: str,
    wait_seconds: int,
) -> pipelines.CodeBuildStep:
    """A CodeBuild step running the Train tool as a named role that may only assume the environment's starter role."""
    timeout_minutes = math.ceil((wait_seconds + BUILD_MARGIN_SECONDS) / 60)
    if timeout_minutes * 60 > CODEBUILD_MAX_TIMEOUT_SECONDS:
        raise ConfigError(
            [
                f"environments.{env_name}.train_on_push: one execution of the {env_name} pipeline may take up to "
                f"{wait_seconds / 3600:.1f} h (the sum of its steps' maximum runtimes, model_build.max_runtime_minutes"
                f" each), longer than the {CODEBUILD_MAX_TIMEOUT_SECONDS // 3600} h a CodeBuild step may wait; lower "
                "model_build.max_runtime_minutes"
            ]
        )
    role = iam.Role(
        scope,
        f"Train{env_name.capitalize()}Role",
        role_name=train_role_name(project, env_name),
        assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
        description=f"Train step of {env_name} in the delivery pipeline: may only assume {env_name}'s starter role",
    )
    role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[starter_role_arn]))
    return pipelines.CodeBuildStep(
        f"Train-{env_name}",
        input=source,
        additional_inputs={ASSEMBLY_DIR: synth},
        env={"COMMIT_ID": source.source_attribute("CommitId")},
        install_commands=["pip install --quiet --require-hashes --requirement requirements-train.txt"],
        commands=[
            f"python -m tools.run_sagemaker_pipeline --cloud-assembly {ASSEMBLY_DIR} --stage {env_name} "
            '--commit "$COMMIT_ID"'
        ],
        partial_build_spec=codebuild.BuildSpec.from_object(install_runtimes("python")),
        build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.SMALL),
        role=role,
        timeout=cdk.Duration.minutes(timeout_minutes),
    )

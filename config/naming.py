"""Physical names and the deploy-time contract shared by the stacks and the tools, computed in one place.

Pure functions of config values (no CDK, no pydantic), so that the delivery pipeline's Train step, which runs with
boto3 only, imports the same names the stacks were synthesized with.
"""

from __future__ import annotations

#: Outputs of an environment's model-build stack that the Train step reads from the cloud assembly of the commit it
#: trains (tools/run_sagemaker_pipeline.py). Each is a literal string in the template.
PIPELINE_NAME_OUTPUT = "PipelineName"
FINGERPRINT_OUTPUT = "ModelBuildFingerprint"
STARTER_ROLE_OUTPUT = "PipelineStarterRoleArn"
WAIT_SECONDS_OUTPUT = "TrainingWaitSeconds"
#: The SageMaker pipeline parameter whose default is the fingerprint of the deployed definition.
FINGERPRINT_PARAMETER = "ModelBuildFingerprint"


def stack_name(project: str, env_name: str, component: str) -> str:
    return f"{project}-{env_name}-{component}"


def train_role_name(project: str, env_name: str) -> str:
    """The delivery pipeline's Train step role for ``env_name``: named, so the environment's starter role can trust
    exactly this role (a role ARN in a trust policy must exist; a name in a condition need not)."""
    return f"{project}-{env_name}-model-train"


def starter_role_name(project: str, env_name: str) -> str:
    """The role in the environment's account that the Train step assumes to start and watch the pipeline."""
    return f"{project}-{env_name}-pipeline-starter"


def delivery_log_group_prefix(project: str) -> str:
    """Every log group of the delivery stack is named under this prefix (its key admits CloudWatch Logs for it)."""
    return f"/{project}/delivery/"

"""Every physical name of the platform (stacks, buckets, keys, roles, pipelines, groups, log groups) and the
deploy-time contract of the stacks with the tools, computed in one place.

Pure functions of config values (no CDK, no pydantic), so that the delivery pipeline's Train step, which runs with
boto3 only, imports the same names the stacks were synthesized with. "Pipeline" alone is ambiguous here: the
*delivery pipeline* is the CodePipeline that deploys and trains, the *model-build pipeline* is an environment's
SageMaker Pipeline.
"""

from __future__ import annotations

import re

#: Outputs of an environment's model-build stack that the Train step reads from the cloud assembly of the commit it
#: trains (tools/run_sagemaker_pipeline.py). Each is a literal string in the template.
PIPELINE_NAME_OUTPUT = "PipelineName"
FINGERPRINT_OUTPUT = "ModelBuildFingerprint"
STARTER_ROLE_OUTPUT = "PipelineStarterRoleArn"
WAIT_SECONDS_OUTPUT = "TrainingWaitSeconds"
#: The SageMaker pipeline parameter whose default is the fingerprint of the deployed definition.
FINGERPRINT_PARAMETER = "ModelBuildFingerprint"


#: The stage (and its stack) that holds the repository and the delivery pipeline; no environment may be named so.
DELIVERY_STAGE = "delivery"
#: The purposes of an environment's buckets (each is part of the bucket name); the longest bounds the name length.
BUCKET_PURPOSES = ("artifacts", "data", "capture", "logs")
#: S3's limit on bucket names.
MAX_BUCKET_NAME = 63


def environment_prefix(project: str, env_name: str) -> str:
    """``<project>-<env>``: the prefix of every name an environment's resources carry."""
    return f"{project}-{env_name}"


def stack_name(project: str, env_name: str, component: str) -> str:
    return f"{environment_prefix(project, env_name)}-{component}"


def delivery_stack_name(project: str) -> str:
    return f"{project}-{DELIVERY_STAGE}"


def bucket_name(project: str, env_name: str, purpose: str, account: str, region: str) -> str:
    """``<project>-<env>-<purpose>-<account>-<region>``: unique per environment, account and region, so other stacks
    reference a bucket by name (no CloudFormation export pins the storage stack)."""
    if purpose not in BUCKET_PURPOSES:
        raise ValueError(f"unknown bucket purpose {purpose!r}, expected one of {BUCKET_PURPOSES}")
    return f"{environment_prefix(project, env_name)}-{purpose}-{account}-{region}"


def longest_bucket_name(project: str, env_name: str, region: str) -> str:
    """The longest bucket name of an environment (any 12-digit account), to check against S3's limit up front."""
    return bucket_name(project, env_name, max(BUCKET_PURPOSES, key=len), "0" * 12, region)


def data_key_alias(project: str, env_name: str) -> str:
    return f"alias/{environment_prefix(project, env_name)}-data"


def model_build_pipeline_name(project: str, env_name: str) -> str:
    """The environment's SageMaker Pipeline."""
    return f"{environment_prefix(project, env_name)}-model-build"


def pipeline_data_prefix(project: str, env_name: str) -> str:
    """Where the environment's pipeline writes in its artifacts bucket (every execution, model data included)."""
    return f"pipelines/{model_build_pipeline_name(project, env_name)}/"


#: SageMaker's limit and pattern of model package group names (CreateModelPackageGroup).
MAX_MODEL_PACKAGE_GROUP_NAME = 63
MODEL_PACKAGE_GROUP_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def model_package_group_name(project: str, env_name: str, model_name: str) -> str:
    """``<project>-<env>-<model>``: one group per model, so that models of different datasets never share versions
    (the model name is ``model_build.model_name``, by default the dataset spec's name)."""
    return f"{environment_prefix(project, env_name)}-{model_name}"


def model_package_group_problem(project: str, env_name: str, model_name: str) -> str | None:
    """Why ``model_name`` cannot name the environment's model package group (None when it can)."""
    name = model_package_group_name(project, env_name, model_name)
    if len(name) > MAX_MODEL_PACKAGE_GROUP_NAME:
        return (
            f"the model package group name {name!r} would be {len(name)} characters, SageMaker allows "
            f"{MAX_MODEL_PACKAGE_GROUP_NAME}: set a shorter model_build.model_name (at most "
            f"{MAX_MODEL_PACKAGE_GROUP_NAME - len(environment_prefix(project, env_name)) - 1} characters here)"
        )
    if not MODEL_PACKAGE_GROUP_NAME_RE.fullmatch(name):
        return (
            f"the model package group name {name!r} is not a SageMaker name (letters, digits and '-', starting and "
            "ending with a letter or digit): set model_build.model_name"
        )
    return None


def delivery_pipeline_name(project: str) -> str:
    """The CodePipeline that deploys every environment (and trains where config asks for it)."""
    return f"{project}-delivery"


def delivery_key_alias(project: str) -> str:
    return f"alias/{project}-delivery"


def notifications_key_alias(project: str) -> str:
    return f"alias/{project}-notifications"


def train_role_name(project: str, env_name: str) -> str:
    """The delivery pipeline's Train step role for ``env_name``: named, so the environment's starter role can trust
    exactly this role (a role ARN in a trust policy must exist; a name in a condition need not)."""
    return f"{environment_prefix(project, env_name)}-model-train"


def starter_role_name(project: str, env_name: str) -> str:
    """The role in the environment's account that the Train step assumes to start and watch the pipeline."""
    return f"{environment_prefix(project, env_name)}-pipeline-starter"


def delivery_log_group_prefix(project: str) -> str:
    """Every log group of the delivery stack is named under this prefix (its key admits CloudWatch Logs for it)."""
    return f"/{project}/delivery/"


# ---- serving and the deploy flow (issue 10; see the README's "Serving" section) ----------------------------------
#: The serving stack's component name: stack ``<project>-<env>-serving``.
SERVING_COMPONENT = "serving"
MONITORING_COMPONENT = "monitoring"
#: The deploy flow's component name: stack ``<project>-<env>-model-deploy`` in a registry environment.
MODEL_DEPLOY_COMPONENT = "model-deploy"
#: The serving stack's CloudFormation parameter that resolves the live model package ARN from SSM at every deploy.
LIVE_MODEL_CFN_PARAMETER = "LiveModelPackage"
#: The live-model parameter's value while no model was ever deployed (the serving stack then has no endpoint).
NO_LIVE_MODEL = "none"


def live_model_parameter_name(project: str, env_name: str) -> str:
    """The SSM parameter holding the ARN of the model package version live in ``env_name`` (or ``none``): created by
    the storage stack, read by the serving stack at every deploy, written by the deploy flow."""
    return f"/{project}/{env_name}/serving/live-model-package"


def endpoint_name(project: str, env_name: str) -> str:
    return f"{environment_prefix(project, env_name)}-endpoint"


def model_host_role_name(project: str, env_name: str) -> str:
    """The role SageMaker assumes to host the environment's model (pull the image, read the model data)."""
    return f"{environment_prefix(project, env_name)}-model-host"


def model_deployer_role_name(project: str, env_name: str) -> str:
    """The role in a serving environment's account that the registry environment's deploy flow assumes."""
    return f"{environment_prefix(project, env_name)}-model-deployer"


def model_deploy_state_machine_name(project: str, env_name: str) -> str:
    """The deploy flow (Step Functions) of a registry environment."""
    return f"{environment_prefix(project, env_name)}-model-deploy"


def serving_update_role_name(project: str, env_name: str) -> str:
    """The role the deploy flow passes to ``UpdateStack`` of the serving stack (``RoleARN``)."""
    return f"{environment_prefix(project, env_name)}-serving-update"


def model_deploy_role_name(project: str, registry_env: str, function: str) -> str:
    """``<state machine name>-<function>``: a deploy-flow Lambda's role. The serving environments' deployer roles
    trust exactly the pattern :func:`model_deploy_role_pattern` of these names."""
    return f"{model_deploy_state_machine_name(project, registry_env)}-{function}"


def model_deploy_role_pattern(project: str, registry_env: str) -> str:
    """The role-name pattern (``*`` for the function) of every deploy-flow Lambda role of a registry environment."""
    return model_deploy_role_name(project, registry_env, "*")


def serving_model_name_prefix(project: str, env_name: str) -> str:
    """What every SageMaker Model of the serving stack is named with, before the live package's version."""
    return f"{environment_prefix(project, env_name)}-model-v"


def serving_model_name(project: str, env_name: str, version: str) -> str:
    """``<project>-<env>-model-v<version>``: the serving stack's Model of the live package version ``version`` (the
    last segment of its ARN; a CloudFormation token in the stack). Deterministic, so the batch-scoring function names
    the model from the live-model parameter without a lookup; a new version gets a new name, so CloudFormation's
    replacement of the Model (create the new one, then delete the old one) never collides."""
    return f"{serving_model_name_prefix(project, env_name)}{version}"


#: The UTC time stamp of a batch-scoring run in its job name and output prefix (a schedule time is to the minute).
BATCH_RUN_STAMP = "%Y%m%dT%H%MZ"
#: SageMaker's limit of a transform job name.
MAX_TRANSFORM_JOB_NAME = 63


def batch_transform_job_prefix(project: str, env_name: str) -> str:
    """``<project>-<env>-batch-``: every batch-scoring transform job of the environment is named this + the run's
    :data:`BATCH_RUN_STAMP` (one job per schedule time; its function may create and describe these only)."""
    return f"{environment_prefix(project, env_name)}-batch-"


#: The capture bucket's prefix for endpoints (SageMaker appends <endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/).
CAPTURE_PREFIX = "endpoints"
#: The data bucket's prefix of ground truth (README: ground-truth layout): <prefix>/<endpoint>/<yyyy>/<mm>/<dd>/<hh>/.
GROUND_TRUTH_PREFIX = "ground-truth"
#: The artifacts bucket's prefix of the monitoring reports: <prefix>/<execution id>/.
MONITORING_REPORT_PREFIX = "monitoring"


def capture_uri(project: str, env_name: str, account: str, region: str) -> str:
    """Every captured request of the environment's endpoint (all variants) is under this S3 URI."""
    bucket = bucket_name(project, env_name, "capture", account, region)
    return f"s3://{bucket}/{CAPTURE_PREFIX}/{endpoint_name(project, env_name)}/"


def ground_truth_uri(project: str, env_name: str, account: str, region: str) -> str:
    bucket = bucket_name(project, env_name, "data", account, region)
    return f"s3://{bucket}/{GROUND_TRUTH_PREFIX}/{endpoint_name(project, env_name)}/"


def monitoring_pipeline_name(project: str, env_name: str) -> str:
    return f"{environment_prefix(project, env_name)}-monitoring"


def monitor_job_role_name(project: str, env_name: str) -> str:
    """The monitoring job's role: named, because a registry in another account grants it read access by name."""
    return f"{environment_prefix(project, env_name)}-monitor-job"


def monitoring_namespace(project: str) -> str:
    """The CloudWatch namespace of the monitoring job's metrics (dimensions Environment, Endpoint, ...)."""
    return f"{project}/Monitoring"


def retraining_function_name(project: str, env_name: str) -> str:
    return f"{environment_prefix(project, env_name)}-retraining"


def retraining_starter_role_name(project: str, registry_env: str) -> str:
    """The role in the registry's account that retraining functions of other accounts assume to start its pipeline."""
    return f"{environment_prefix(project, registry_env)}-retraining-starter"

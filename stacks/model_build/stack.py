"""Per-environment model build: the SageMaker Pipeline, its model package group, step code and roles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config.monitoring import DATASETS_PREFIX
from config.naming import FINGERPRINT_OUTPUT, PIPELINE_NAME_OUTPUT, STARTER_ROLE_OUTPUT, WAIT_SECONDS_OUTPUT
from sagemaker_code.definition.build import PipelineSettings
from stacks.compliance import (
    GRANT_ACTIONS_READ,
    GRANT_ACTIONS_READ_WRITE,
    acknowledge_grant_actions,
    acknowledge_wildcard_resource,
)
from stacks.model_build.job_role import SageMakerJobRole
from stacks.model_build.retraining_starter import RetrainingStarterRole
from stacks.model_build.runtime import training_wait_seconds
from stacks.model_build.sagemaker_pipeline import ModelBuildPipeline, substitute_sentinels
from stacks.model_build.starter_role import PipelineStarterRole, StarterTrust
from stacks.model_build.step_code import StepCode
from stacks.storage.stack import StorageStack

#: Why CDK's grant methods' wildcard actions are acceptable on the SageMaker job role (data and artifacts).
JOB_GRANT_REASONS = {
    "s3:GetObject*": "Bucket.grant_read: GetObject, GetObjectVersion, GetObjectTagging, ... on the granted prefix "
    "only; the jobs read their inputs and upstream step outputs.",
    "s3:GetBucket*": "Bucket.grant_read: GetBucketLocation/Acl/... of the granted bucket only; SageMaker checks the "
    "bucket's region before it transfers data.",
    "s3:List*": "Bucket.grant_read: listing the granted bucket; SageMaker lists S3Prefix inputs to download them.",
    "s3:DeleteObject*": "Bucket.grant_read_write: overwriting/removing outputs under the granted prefix only (step "
    "retries rewrite their output folder).",
    "s3:Abort*": "Bucket.grant_read_write: aborting SageMaker's multipart uploads of large outputs under the granted "
    "prefix only.",
    "kms:GenerateDataKey*": "Key.grant_encrypt_decrypt / bucket grants: encrypting objects and job volumes with the "
    "project's data key only (the statement's resource is that key).",
    "kms:ReEncrypt*": "Key.grant_encrypt_decrypt: re-encryption between data keys of the project's own key only (the "
    "statement's resource is that key).",
}
#: ... and on the role SageMaker Pipelines runs as, which only reads the steps' property files.
PIPELINE_GRANT_REASONS = {
    "s3:GetObject*": "Bucket.grant_read: SageMaker Pipelines reads each step's property file (evaluation.json, "
    "gates) under this pipeline's prefix only.",
    "s3:GetBucket*": "Bucket.grant_read: SageMaker Pipelines checks the artifacts bucket's location before it reads "
    "property files; this bucket only.",
    "s3:List*": "Bucket.grant_read: listing this pipeline's prefix of the artifacts bucket to find property files.",
}


def images_in(definition: dict[str, Any]) -> list[str]:
    """Every container image a pipeline definition runs (processing, training and the registered model)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"ImageUri", "TrainingImage", "Image"} and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(definition["Steps"])
    return sorted(found)


class ModelBuildStack(cdk.Stack):
    """The SageMaker Pipeline that turns a dataset into a registered, gated model package."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PipelineSettings,
        definition: str,
        dataset_spec: dict[str, Any],
        sample_data: Path | None,
        input_data_prefix: str | None,
        storage: StorageStack,
        retain_data: bool,
        starter: StarterTrust | None = None,
        consumer_accounts: Sequence[str] = (),
        retraining_starter: tuple[str, Sequence[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        artifacts_bucket = storage.reference_bucket(self, "artifacts")
        data_bucket = storage.reference_bucket(self, "data")
        data_key = storage.data_key
        if (sample_data is None) == (input_data_prefix is None):
            raise ValueError(f"{self.node.path}: give exactly one of sample_data and input_data_prefix")

        step_code = StepCode(
            self,
            "StepCode",
            dataset_spec=dataset_spec,
            hyperparameters=settings.hyperparameter_table,
            sample_data=sample_data,
        )
        #: Lineage: recorded as the default of the pipeline's fingerprint parameter and as a stack output.
        self.fingerprint = step_code.fingerprint(definition, input_data_prefix)
        #: How long the delivery pipeline's Train step may wait for one execution (longer than its worst case).
        self.training_wait_seconds = training_wait_seconds(json.loads(definition))

        job = SageMakerJobRole(
            self,
            "JobRole",
            images=images_in(json.loads(definition)),
            description=f"Processing and training jobs of the {settings.pipeline_name} pipeline",
        )
        run_prefix = f"pipelines/{settings.pipeline_name}/*"
        artifacts_bucket.grant_read_write(job.role, run_prefix)
        data_bucket.grant_read(job.role, f"{input_data_prefix or DATASETS_PREFIX}*")
        data_key.grant_encrypt_decrypt(job.role)  # job volumes and outputs are encrypted with the data key
        step_code.grant_read(job.role)

        replacements = {
            "job_role_arn": job.role.role_arn,
            "artifacts_bucket": artifacts_bucket.bucket_name,
            "data_bucket": data_bucket.bucket_name,
            "kms_key_arn": data_key.key_arn,
            "code_uri": step_code.code.s3_object_url,
            "model_build_fingerprint": self.fingerprint,
        }
        if step_code.sample:
            replacements["sample_data_uri"] = step_code.sample.s3_object_url
        self.pipeline = ModelBuildPipeline(
            self,
            "ModelBuild",
            pipeline_name=settings.pipeline_name,
            model_package_group_name=settings.model_package_group_name,
            definition=substitute_sentinels(definition, replacements, settings.sentinels),
            job_role=job.role,
            volume_key=data_key,
            retain=retain_data,
            consumer_accounts=consumer_accounts,
        )
        artifacts_bucket.grant_read(self.pipeline.role, run_prefix)  # property files: evaluation and bias reports
        self.job_role = job.role

        run_objects = artifacts_bucket.arn_for_objects(run_prefix)
        datasets = data_bucket.arn_for_objects(f"{input_data_prefix or DATASETS_PREFIX}*")
        for role, actions, reasons, reason in (
            (
                job.role,
                GRANT_ACTIONS_READ_WRITE,
                JOB_GRANT_REASONS,
                "Every execution writes under pipelines/<pipeline>/<execution id>/<step>/; execution ids exist only "
                "at run time, so the jobs may use this pipeline's prefix of the artifacts bucket.",
            ),
            (
                self.pipeline.role,
                GRANT_ACTIONS_READ,
                PIPELINE_GRANT_REASONS,
                "SageMaker Pipelines reads each step's property file (evaluation.json, analysis.json) from "
                "pipelines/<pipeline>/<execution id>/...; read-only, this pipeline's prefix only.",
            ),
        ):
            policy = role.node.find_child("DefaultPolicy")
            acknowledge_grant_actions(policy, actions, reasons)
            acknowledge_wildcard_resource(policy, run_objects, reason)
        acknowledge_wildcard_resource(
            job.role.node.find_child("DefaultPolicy"),
            datasets,
            "Preprocess reads the dataset chosen per execution (InputDataUri) from this prefix of the data bucket; "
            "read-only.",
        )

        cdk.CfnOutput(self, PIPELINE_NAME_OUTPUT, value=settings.pipeline_name)
        cdk.CfnOutput(self, "ModelPackageGroupName", value=settings.model_package_group_name)
        cdk.CfnOutput(self, FINGERPRINT_OUTPUT, value=self.fingerprint)
        cdk.CfnOutput(self, WAIT_SECONDS_OUTPUT, value=str(self.training_wait_seconds))
        if retraining_starter is not None:  # (role name, the retraining function roles of other accounts)
            RetrainingStarterRole(
                self,
                "RetrainingStarter",
                role_name=retraining_starter[0],
                trusted_roles=retraining_starter[1],
                pipeline_name=settings.pipeline_name,
            )
        if starter is not None:
            starter_role = PipelineStarterRole(self, "Starter", trust=starter, pipeline_name=settings.pipeline_name)
            cdk.CfnOutput(self, STARTER_ROLE_OUTPUT, value=starter_role.role_arn)

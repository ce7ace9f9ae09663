"""Per-environment storage: the project's data key and its S3 buckets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config.model import StorageSettings
from config.naming import (
    BUCKET_PURPOSES,
    bucket_name,
    data_key_alias,
    environment_prefix,
    live_model_parameter_name,
    pipeline_data_prefix,
)
from stacks.common.model_consumer import ModelConsumer
from stacks.storage.live_model_parameter import LiveModelParameter
from stacks.storage.model_readers import CrossAccountModelReaders
from stacks.storage.secure_bucket import SecureBucket


class StorageStack(cdk.Stack):
    """One customer-managed KMS key and the artifacts, data, data-capture and access-log buckets.

    Bucket names derive from the project, environment, account and region (see :func:`bucket_name`), so two
    environments in one account never collide and other stacks reference a bucket by its literal name
    (:meth:`reference_bucket`): literal ARNs in their policies and no CloudFormation export that would pin this
    stack. The key is exposed as ``data_key`` (a cross-stack reference).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        env_name: str,
        settings: StorageSettings,
        retain_data: bool,
        serving: bool = False,
        model_consumers: Sequence[ModelConsumer] = (),
        **kwargs: Any,
    ) -> None:
        """``serving``: the environment has an endpoint; this stack then creates its live-model parameter (here, so
        that it exists before the serving stack resolves it; see :mod:`stacks.storage.live_model_parameter`).
        ``model_consumers``: serving environments in other accounts that deploy this environment's models; the
        artifacts bucket and the data key let their host roles read the model data."""
        super().__init__(scope, construct_id, **kwargs)
        self.bucket_names = {
            purpose: bucket_name(project, env_name, purpose, self.account, self.region) for purpose in BUCKET_PURPOSES
        }
        removal = cdk.RemovalPolicy.RETAIN if retain_data else cdk.RemovalPolicy.DESTROY

        self.data_key = kms.Key(
            self,
            "DataKey",
            description=f"{environment_prefix(project, env_name)}: encrypts datasets, model-build artifacts, models "
            "and captured data",
            alias=data_key_alias(project, env_name),
            enable_key_rotation=True,
            removal_policy=removal,
        )

        self.access_logs_bucket: s3.IBucket = SecureBucket(
            self,
            "AccessLogs",
            bucket_name=self.bucket_names["logs"],
            settings=settings,
            retain=retain_data,
            encryption_key=None,
            access_logs_bucket=None,
            expiration_days=settings.access_log_expiration_days,
        ).bucket

        def data_bucket(construct_id: str, purpose: str, expiration_days: int | None = None) -> s3.IBucket:
            return SecureBucket(
                self,
                construct_id,
                bucket_name=self.bucket_names[purpose],
                settings=settings,
                retain=retain_data,
                encryption_key=self.data_key,
                access_logs_bucket=self.access_logs_bucket,
                expiration_days=expiration_days,
            ).bucket

        #: Pipeline outputs, model artifacts, evaluation and bias reports.
        self.artifacts_bucket = data_bucket("Artifacts", "artifacts")
        #: Raw and processed datasets.
        self.data_bucket = data_bucket("Data", "data")
        #: Endpoint data capture (request/response records), read by Model Monitor.
        self.data_capture_bucket = data_bucket("DataCapture", "capture", settings.data_capture_expiration_days)

        if model_consumers:
            CrossAccountModelReaders(
                self,
                "CrossAccountModelReaders",
                consumers=model_consumers,
                bucket=self.artifacts_bucket,
                key=self.data_key,
                bucket_name=self.bucket_names["artifacts"],
                model_data_prefix=pipeline_data_prefix(project, env_name),
            )

        for name, bucket in (
            ("ArtifactsBucketName", self.artifacts_bucket),
            ("DataBucketName", self.data_bucket),
            ("DataCaptureBucketName", self.data_capture_bucket),
            ("AccessLogsBucketName", self.access_logs_bucket),
        ):
            cdk.CfnOutput(self, name, value=bucket.bucket_name)
        cdk.CfnOutput(self, "DataKeyArn", value=self.data_key.key_arn)

        #: The live-model parameter of a serving environment (None when the environment serves nothing).
        self.live_model_parameter = (
            LiveModelParameter(
                self, "LiveModel", parameter_name=live_model_parameter_name(project, env_name), retain=retain_data
            )
            if serving
            else None
        )

    def reference_bucket(self, scope: Construct, purpose: str) -> s3.IBucket:
        """This environment's ``purpose`` bucket, for use in another stack: by name, with its encryption key."""
        return s3.Bucket.from_bucket_attributes(
            scope,
            f"{purpose.capitalize()}Bucket",
            bucket_name=self.bucket_names[purpose],
            encryption_key=None if purpose == "logs" else self.data_key,
        )

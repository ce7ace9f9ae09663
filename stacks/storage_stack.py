"""Per-environment storage: the project's data key and its S3 buckets."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config.model import StorageSettings
from stacks.components.secure_bucket import SecureBucket


class StorageStack(cdk.Stack):
    """One customer-managed KMS key and the artifacts, data, data-capture and access-log buckets.

    Later stacks take the typed attributes (``data_key``, ``artifacts_bucket``, ...) as constructor arguments;
    CDK turns the references into cross-stack exports.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resource_prefix: str,
        settings: StorageSettings,
        retain_data: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = cdk.RemovalPolicy.RETAIN if retain_data else cdk.RemovalPolicy.DESTROY

        self.data_key = kms.Key(
            self,
            "DataKey",
            description=f"{resource_prefix}: encrypts datasets, pipeline artifacts, models and captured data",
            alias=f"alias/{resource_prefix}-data",
            enable_key_rotation=True,
            removal_policy=removal,
        )

        self.access_logs_bucket: s3.IBucket = SecureBucket(
            self,
            "AccessLogs",
            settings=settings,
            retain=retain_data,
            encryption_key=None,
            access_logs_bucket=None,
            expiration_days=settings.access_log_expiration_days,
        ).bucket

        def data_bucket(construct_id: str, expiration_days: int | None = None) -> s3.IBucket:
            return SecureBucket(
                self,
                construct_id,
                settings=settings,
                retain=retain_data,
                encryption_key=self.data_key,
                access_logs_bucket=self.access_logs_bucket,
                expiration_days=expiration_days,
            ).bucket

        #: Pipeline outputs, model artifacts, evaluation and bias reports.
        self.artifacts_bucket = data_bucket("Artifacts")
        #: Raw and processed datasets.
        self.data_bucket = data_bucket("Data")
        #: Endpoint data capture (request/response records), read by Model Monitor.
        self.data_capture_bucket = data_bucket("DataCapture", settings.data_capture_expiration_days)

        for name, bucket in (
            ("ArtifactsBucketName", self.artifacts_bucket),
            ("DataBucketName", self.data_bucket),
            ("DataCaptureBucketName", self.data_capture_bucket),
            ("AccessLogsBucketName", self.access_logs_bucket),
        ):
            cdk.CfnOutput(self, name, value=bucket.bucket_name)
        cdk.CfnOutput(self, "DataKeyArn", value=self.data_key.key_arn)

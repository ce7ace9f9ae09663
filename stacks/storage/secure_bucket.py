"""An S3 bucket with the project's security and lifecycle defaults."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config.model import StorageSettings


class SecureBucket(Construct):
    """Versioned, private, TLS-only bucket with lifecycle rules and server access logging.

    With ``encryption_key`` the bucket uses SSE-KMS with that key (and an S3 Bucket Key to cut KMS calls). Without
    ``access_logs_bucket`` the bucket *is* the access-log sink: SSE-S3 (the only encryption S3 server access logging
    can write to) and no logging of its own (that would log its own log deliveries; cdk-nag's S1 rule accepts a
    bucket that is another bucket's log destination).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str | None,
        settings: StorageSettings,
        retain: bool,
        encryption_key: kms.IKey | None,
        access_logs_bucket: s3.IBucket | None,
        expiration_days: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (encryption_key is None) != (access_logs_bucket is None):
            raise ValueError(
                f"{self.node.path}: give both encryption_key and access_logs_bucket (a data bucket) "
                "or neither (the access-log bucket)"
            )
        lifecycle = [
            s3.LifecycleRule(
                id="noncurrent-versions-and-incomplete-uploads",
                noncurrent_version_expiration=cdk.Duration.days(settings.noncurrent_version_expiration_days),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(
                    settings.abort_incomplete_multipart_upload_days
                ),
                expired_object_delete_marker=expiration_days is None,
            )
        ]
        if expiration_days is not None:
            lifecycle.append(s3.LifecycleRule(id="expire-objects", expiration=cdk.Duration.days(expiration_days)))

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=lifecycle,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=f"{construct_id}/" if access_logs_bucket else None,
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=not retain,
        )

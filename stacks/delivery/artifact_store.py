"""The delivery account's key, its buckets and its log groups: what the repository, the delivery pipeline and the
builds write into."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config.delivery import LOG_RETENTION_DAYS
from config.model import StorageSettings
from stacks.common.kms_access import admit_log_groups
from stacks.storage.secure_bucket import SecureBucket

#: Delivery artifacts (sources, cloud assemblies) are kept this long.
ARTIFACT_EXPIRATION_DAYS = 90


def retention_days(days: int) -> logs.RetentionDays:
    """The RetentionDays member of ``days`` (the enum lists CloudWatch's periods in order, then INFINITE)."""
    periods = [member for member in logs.RetentionDays if member is not logs.RetentionDays.INFINITE]
    return dict(zip(LOG_RETENTION_DAYS, periods, strict=True))[days]


class ArtifactStore(Construct):
    """``key`` (rotated; admits CloudWatch Logs for the log groups named under ``log_group_prefix``), the artifact
    bucket encrypted with it, the access-log bucket of that bucket, and ``log_group()`` for every build log."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key_alias: str,
        description: str,
        log_group_prefix: str,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group_prefix = log_group_prefix
        self.retention = retention_days(log_retention_days)
        self.key = kms.Key(self, "Key", alias=key_alias, description=description, enable_key_rotation=True)
        admit_log_groups(self.key, log_group_prefix)
        defaults = StorageSettings()
        access_logs = SecureBucket(
            self, "AccessLogs", bucket_name=None, settings=defaults, retain=True, encryption_key=None,
            access_logs_bucket=None, expiration_days=defaults.access_log_expiration_days,
        ).bucket  # fmt: skip
        self.artifact_bucket: s3.IBucket = SecureBucket(
            self, "Artifacts", bucket_name=None, settings=defaults, retain=True, encryption_key=self.key,
            access_logs_bucket=access_logs, expiration_days=ARTIFACT_EXPIRATION_DAYS,
        ).bucket  # fmt: skip

    def log_group(self, construct_id: str) -> logs.LogGroup:
        """A log group named under the prefix the key admits CloudWatch Logs for, encrypted with the key."""
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=f"{self.log_group_prefix}{construct_id}",
            retention=self.retention,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

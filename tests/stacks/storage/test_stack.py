"""The storage stack: one rotated KMS key, four private, TLS-only, versioned, logged buckets with lifecycle rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Capture, Match, Template

from config.loader import DEFAULT_CONFIG_PATH, load_config
from tests.conftest import SynthesizedApp

CONFIG = load_config(DEFAULT_CONFIG_PATH)
ENVS = list(CONFIG.environments)


def buckets(template: Template) -> Mapping[str, Mapping[str, Any]]:
    return template.find_resources("AWS::S3::Bucket")


def logs_bucket_id(template: Template) -> str:
    found = template.find_resources(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                }
            }
        },
    )
    assert len(found) == 1, "exactly one SSE-S3 bucket (the access-log sink) expected"
    return next(iter(found))


@pytest.fixture(params=ENVS)
def env_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(synthesized_app: SynthesizedApp, env_name: str) -> Template:
    return synthesized_app.template(env_name, "storage")


def test_one_customer_managed_key_with_rotation(storage: Template, env_name: str) -> None:
    storage.resource_count_is("AWS::KMS::Key", 1)
    storage.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    storage.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/mlops-{env_name}-data"})


def test_four_buckets_named_by_project_environment_account_and_region(storage: Template, env_name: str) -> None:
    names = sorted(b["Properties"]["BucketName"] for b in buckets(storage).values())
    region = CONFIG.environments[env_name].region
    assert names == sorted(
        f"mlops-{env_name}-{p}-123456789012-{region}" for p in ("artifacts", "data", "capture", "logs")
    )


def test_data_buckets_use_sse_kms_with_the_project_key(storage: Template) -> None:
    key = Capture()
    kms_buckets = storage.find_resources(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "BucketKeyEnabled": True,
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
                            },
                        }
                    ]
                }
            }
        },
    )
    assert len(kms_buckets) == 3
    assert key.as_string() in storage.find_resources("AWS::KMS::Key")


def test_every_bucket_blocks_public_access_and_is_versioned(storage: Template) -> None:
    for logical_id, bucket in buckets(storage).items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, logical_id


def test_every_bucket_policy_denies_plain_http_and_old_tls(storage: Template) -> None:
    policies = storage.find_resources("AWS::S3::BucketPolicy")
    covered = set()
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        conditions = [s["Condition"] for s in statements if s["Effect"] == "Deny"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions
        covered.add(policy["Properties"]["Bucket"]["Ref"])
    assert covered == set(buckets(storage))


def test_data_buckets_log_to_the_access_log_bucket(storage: Template) -> None:
    logs = logs_bucket_id(storage)
    logged = storage.find_resources(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "LoggingConfiguration": {"DestinationBucketName": {"Ref": logs}, "LogFilePrefix": Match.any_value()}
            }
        },
    )
    assert set(logged) == set(buckets(storage)) - {logs}
    assert "LoggingConfiguration" not in buckets(storage)[logs]["Properties"]
    # S3 log delivery writes through the bucket policy (no ACLs), limited to this account's buckets
    storage.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": logs},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                            }
                        )
                    ]
                )
            },
        },
    )


def test_lifecycle_follows_config(storage: Template, env_name: str) -> None:
    settings = CONFIG.environments[env_name].storage
    for logical_id, bucket in buckets(storage).items():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        versions = next(r for r in rules if r["Id"] == "noncurrent-versions-and-incomplete-uploads")
        assert versions["NoncurrentVersionExpiration"] == {
            "NoncurrentDays": settings.noncurrent_version_expiration_days
        }, logical_id
        assert versions["AbortIncompleteMultipartUpload"] == {
            "DaysAfterInitiation": settings.abort_incomplete_multipart_upload_days
        }, logical_id
    logs = buckets(storage)[logs_bucket_id(storage)]
    assert {"Id": "expire-objects", "Status": "Enabled", "ExpirationInDays": settings.access_log_expiration_days} in (
        logs["Properties"]["LifecycleConfiguration"]["Rules"]
    )


def test_retention_follows_config(storage: Template, env_name: str) -> None:
    retain = CONFIG.environments[env_name].retain_data
    policy = "Retain" if retain else "Delete"
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for logical_id, resource in storage.find_resources(resource_type).items():
            assert resource["DeletionPolicy"] == policy, logical_id
            assert resource["UpdateReplacePolicy"] == policy, logical_id
    # throw-away environments empty their buckets on deletion; retained ones never do
    storage.resource_count_is("Custom::S3AutoDeleteObjects", 0 if retain else 4)


def test_staging_and_prod_differ_in_retention_as_configured(synthesized_app: SynthesizedApp) -> None:
    assert CONFIG.environments["staging"].retain_data is False
    assert CONFIG.environments["prod"].retain_data is True
    synthesized_app.template("prod", "storage").all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    synthesized_app.template("staging", "storage").all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})


def test_buckets_and_key_are_exposed_as_typed_attributes(synthesized_app: SynthesizedApp) -> None:
    storage = synthesized_app.stages["dev"].storage
    assert isinstance(storage.data_key, kms.Key)
    for bucket in (
        storage.artifacts_bucket,
        storage.data_bucket,
        storage.data_capture_bucket,
        storage.access_logs_bucket,
    ):
        assert isinstance(bucket, s3.Bucket)
    assert len({b.node.path for b in (storage.artifacts_bucket, storage.data_bucket, storage.data_capture_bucket)}) == 3

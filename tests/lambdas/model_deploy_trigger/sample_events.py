"""Model package state-change events shaped like the example of the SageMaker developer guide ("Events that Amazon
SageMaker AI sends to Amazon EventBridge", model package state change): the envelope, and the detail as
DescribeModelPackage shows the package (group, version, ARN, inference specification, statuses, metadata, times)."""

from __future__ import annotations

import copy
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "123456789012"
GROUP = "mlops-dev-german-credit"
IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0"


def package_arn(version: int, group: str = GROUP, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version}"


def package_event(
    status: str,
    version: int,
    *,
    group: str = GROUP,
    event_id: str = "844e2571-85d4-695f-b930-0153b71dcb42",
    last_modified: str = "2026-12-01T17:00:14Z",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The event SageMaker sends when version ``version`` of ``group`` changes to (or is updated with) ``status``."""
    arn = package_arn(version, group)
    return copy.deepcopy(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": last_modified,
            "region": REGION,
            "resources": [arn],
            "detail": {
                "ModelPackageGroupName": group,
                "ModelPackageVersion": version,
                "ModelPackageArn": arn,
                "CreationTime": "2026-12-01T16:58:02Z",
                "InferenceSpecification": {
                    "Containers": [
                        {
                            "Image": IMAGE,
                            "ImageDigest": "sha256:4dc8a7e4a010a19bb9e0a6b063f355393f6e623603361bd8b105f554d4f0c004",
                            "ModelDataUrl": f"s3://mlops-dev-artifacts-{ACCOUNT}-{REGION}/pipelines/"
                            f"mlops-dev-model-build/x{version}/Train/output/model.tar.gz",
                        }
                    ],
                    "SupportedContentTypes": ["text/csv", "application/json"],
                    "SupportedResponseMIMETypes": ["text/csv", "application/json"],
                },
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "CertifyForMarketplace": False,
                "ModelApprovalStatus": status,
                "MetadataProperties": {
                    "GeneratedBy": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/mlops-dev-model-build/execution/"
                    f"x{version}"
                },
                "CustomerMetadataProperties": metadata or {"decision_threshold": "0.91"},
                "LastModifiedTime": last_modified,
            },
        }
    )


APPROVED = package_event("Approved", 3)
PENDING = package_event("PendingManualApproval", 3)
REJECTED = package_event("Rejected", 3)
OTHER_GROUP = package_event("Approved", 3, group="mlops-dev-other-model")
#: The deploy flow's own UpdateModelPackage (metadata live_in_dev) re-fires the event with the same status.
METADATA_REFIRE = package_event(
    "Approved", 3, last_modified="2026-12-01T17:20:00Z",
    metadata={"decision_threshold": "0.91", "live_in_dev": "2026-12-01T17:19:58+00:00"},
)  # fmt: skip

"""The registry side of a deployment: the smoke test's inputs from the package, and the ``live_in_<env>`` mark.

The package's metadata (written at registration, README "The ML pipeline") carries ``test_data_uri`` (the held-out
test split's raw CSV) and ``decision_threshold``; its model archive's ``transform.json`` names the label. The smoke
test itself is ``smoke_test.run_smoke_test``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from model_deploy.errors import DeployError
from model_deploy.smoke_test import Invoke, SmokeReport, label_from_model_archive, run_smoke_test
from model_deploy.tasks import Target

#: The metadata key of the time a package went live in an environment (``live_in_<env>``).
LIVE_IN_PREFIX = "live_in_"

SmokeRunner = Callable[..., SmokeReport]


def _s3_location(uri: str, what: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise DeployError(f"{what} {uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def smoke(
    arn: str,
    target: Target,
    *,
    registry: Any,
    s3: Any,
    invoke: Invoke,
    run: SmokeRunner = run_smoke_test,
) -> dict[str, Any]:
    """Run the smoke test of ``arn`` against ``target``'s endpoint (through ``invoke``); raises SmokeTestFailed."""
    package = registry.describe_model_package(ModelPackageName=arn)
    metadata = package.get("CustomerMetadataProperties") or {}
    missing = [key for key in ("test_data_uri", "decision_threshold") if not metadata.get(key)]
    if missing:
        raise DeployError(f"{arn} has no {' and no '.join(missing)} metadata: it was not registered by this "
                          "platform's pipeline, so it cannot be smoke-tested")  # fmt: skip
    try:
        threshold = float(metadata["decision_threshold"])
    except ValueError:
        threshold = math.nan
    if not 0 < threshold < 1:
        raise DeployError(f"{arn}: metadata decision_threshold {metadata['decision_threshold']!r} is not in (0, 1)")
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if not containers or not containers[0].get("ModelDataUrl"):
        raise DeployError(f"{arn} has no model data (InferenceSpecification.Containers[0].ModelDataUrl)")
    bucket, key = _s3_location(containers[0]["ModelDataUrl"], "ModelDataUrl")
    label = label_from_model_archive(s3.get_object(Bucket=bucket, Key=key)["Body"])
    bucket, key = _s3_location(metadata["test_data_uri"], "metadata test_data_uri")
    test_csv = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    report = run(
        invoke,
        test_csv,
        label=label,
        threshold=threshold,
        rows=target.smoke_rows,
        max_p95_ms=float(target.smoke_max_latency_p95_ms),
    )
    return {
        "summary": report.summary(),
        "rows": report.rows,
        "requests": report.requests,
        "p95_ms": report.p95_ms,
    }


def mark_live(registry: Any, arn: str, environment: str, at: datetime) -> dict[str, str]:
    """Record on the package when it went live in ``environment`` (metadata ``live_in_<env>``).

    UpdateModelPackage without ``ModelApprovalStatus``: passing the status would re-approve a package a person
    rejected meanwhile. This update makes SageMaker send the package's state-change event again (status Approved):
    the trigger ignores it because the version is live.
    """
    package = registry.describe_model_package(ModelPackageName=arn)
    metadata = dict(package.get("CustomerMetadataProperties") or {})
    key = f"{LIVE_IN_PREFIX}{environment}"
    metadata[key] = at.isoformat(timespec="seconds")
    registry.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties=metadata)
    return {key: metadata[key]}

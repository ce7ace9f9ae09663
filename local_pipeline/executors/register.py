"""``RegisterModel``: a new version in the local model registry (:mod:`local_pipeline.registry`).

The version holds the resolved package as the cloud registry would, plus what a developer wants to read next to it:
the local file of each ``ModelDataUrl`` and of every report the metrics and baselines point at (with the content of
the JSON ones), and the execution that registered it.
"""

from __future__ import annotations

from local_pipeline.errors import S3Error, StepError
from local_pipeline.execution import Execution, RegisteredPackage, arn
from local_pipeline.executors.base import Executor, StepOutcome, string_map, text
from local_pipeline.expressions import Json, now, resolve
from local_pipeline.plan import StepNode
from local_pipeline.s3 import LocalS3

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")


def _with_reports(node: Json, s3: LocalS3, where: str) -> Json:
    """Each ``{"S3Uri": ...}`` in a metrics tree, with the object's local path and (JSON) content added."""
    if isinstance(node, list):
        return [_with_reports(item, s3, f"{where}[{index}]") for index, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out = {key: _with_reports(value, s3, f"{where}.{key}") for key, value in node.items()}
    if "S3Uri" in node:
        uri = text(node["S3Uri"], f"{where}.S3Uri")
        try:
            path = s3.get(uri)
        except S3Error as exc:
            raise StepError(f"{where}: {exc}") from None
        out["LocalPath"] = str(path)
        if "json" in str(node.get("ContentType", "")) or path.suffix == ".json":
            try:
                out["Content"] = s3.read_json(uri)
            except S3Error as exc:
                raise StepError(f"{where}: {exc}") from None
    return out


def run_register(node: StepNode, run: Execution) -> StepOutcome:
    arguments = resolve(node.arguments, run.scope)
    group = arguments.get("ModelPackageGroupName")
    if not isinstance(group, str):
        raise StepError("only versioned model packages (with a ModelPackageGroupName) are supported locally")
    status = arguments.get("ModelApprovalStatus", "PendingManualApproval")
    if status not in APPROVAL_STATUSES:
        raise StepError(f"ModelApprovalStatus must be one of {APPROVAL_STATUSES}, got {status!r}")
    specification = dict(arguments.get("InferenceSpecification") or {})
    containers = []
    for index, container in enumerate(specification.get("Containers", [])):
        uri = container.get("ModelDataUrl")
        try:
            local = {"ModelDataLocalPath": str(run.s3.get(uri))} if uri is not None else {}
        except S3Error as exc:
            raise StepError(f"InferenceSpecification.Containers[{index}].ModelDataUrl: {exc}") from None
        containers.append({**container, **local})
    specification["Containers"] = containers
    package: dict[str, Json] = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": status,
        "CreationTime": now(),
        "ModelPackageDescription": arguments.get("ModelPackageDescription", ""),
        "InferenceSpecification": specification,
        "ModelMetrics": _with_reports(arguments.get("ModelMetrics", {}), run.s3, "ModelMetrics"),
        "DriftCheckBaselines": _with_reports(arguments.get("DriftCheckBaselines", {}), run.s3, "DriftCheckBaselines"),
        "CustomerMetadataProperties": string_map(
            arguments.get("CustomerMetadataProperties"), "CustomerMetadataProperties"
        ),
        "PipelineExecutionId": run.execution_id,
        "PipelineExecutionArn": run.scope.execution["PipelineExecutionArn"],
        "PipelineName": run.pipeline_name,
        "Step": node.name,
    }
    version, path = run.registry.register(group, package)
    run.registered = RegisteredPackage(group, version, status, path)
    properties = {"ModelPackageArn": arn("model-package", f"{group}/{version}"), "ModelPackageVersion": version}
    return StepOutcome(properties, f"{group} version {version} ({status})")


EXECUTOR = Executor("RegisterModel", run_register)

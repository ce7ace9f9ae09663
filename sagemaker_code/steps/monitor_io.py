"""AWS access of the monitor step behind one small interface: boto3 in the cloud, files on a laptop.

The monitor needs six calls: ssm:GetParameter, sagemaker:DescribeModelPackage, s3:ListBucket (ListObjectsV2, with a
delimiter for the variants), s3:GetObject and cloudwatch:PutMetricData. With ``MLOPS_LOCAL_AWS_ROOT=<folder>`` they go
to files instead (the local runner's workspace layout, see the issue 11 interfaces):

    s3://b/k                                   <root>/s3/b/k
    SSM parameter /a/b/c                       <root>/ssm/a/b/c (the file holds the value)
    arn:...:model-package/<group>/<n>          <root>/registry/<group>/version-<nnnn>.json
    PutMetricData                              one JSON object per datum appended to <root>/cloudwatch/metrics.jsonl

Capture and ground truth are listed **by the UTC hour prefixes of the window only** (``yyyy/mm/dd/hh/``), never the
whole history under the endpoint: the cost of a run is the window's objects, not the endpoint's age.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sagemaker_code.steps.contract import LOCAL_AWS_ROOT

#: Data per PutMetricData call (the API takes up to 1,000).
METRICS_PER_CALL = 500
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/?(.*)$")
_PACKAGE_ARN = re.compile(r"^arn:[^:]+:sagemaker:[^:]*:[^:]*:model-package/([^/]+)/(\d+)$")


class AwsError(RuntimeError):
    """An AWS call failed or found nothing; the message names the call and the resource."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # a key or a prefix ("" = the bucket's root)

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        match = _S3_URI.match(uri.strip())
        if not match:
            raise ValueError(f"not an S3 URI (s3://bucket/key): {uri!r}")
        return cls(match.group(1), match.group(2))

    def child(self, suffix: str) -> S3Location:
        prefix = self.key if not self.key or self.key.endswith("/") else f"{self.key}/"
        return S3Location(self.bucket, prefix + suffix)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class Aws(Protocol):
    def parameter(self, name: str) -> str: ...

    def model_package(self, arn: str) -> dict[str, Any]: ...

    def prefixes(self, location: S3Location) -> list[S3Location]:
        """The "folders" directly under a prefix (ListObjectsV2 with Delimiter="/")."""
        ...

    def keys(self, location: S3Location) -> list[str]:
        """Every key under a prefix, sorted."""
        ...

    def read(self, location: S3Location) -> bytes: ...

    def put_metrics(self, namespace: str, data: Sequence[dict[str, Any]]) -> None: ...


def hour_prefixes(start: datetime, end: datetime) -> list[str]:
    """``yyyy/mm/dd/hh/`` of every UTC hour that overlaps [start, end), oldest first."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour < end:
        prefixes.append(hour.strftime("%Y/%m/%d/%H/"))
        hour += timedelta(hours=1)
    return prefixes


def window_objects(aws: Aws, root: S3Location, hours: Sequence[str], *, variants: bool) -> Iterator[S3Location]:
    """The objects of the given hour prefixes under ``root`` (under each variant folder of it when ``variants``)."""
    bases = aws.prefixes(root) if variants else [root]
    for base in bases:
        for hour in hours:
            for key in aws.keys(base.child(hour)):
                yield S3Location(root.bucket, key)


class Boto3Aws:
    """The cloud: boto3 clients of the job's role and region (created on first use)."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            config = Config(retries={"max_attempts": 10, "mode": "adaptive"})
            self._clients[service] = boto3.client(service, config=config)
        return self._clients[service]

    def _call(self, what: str, call: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(f"{what}: {exc}") from None

    def parameter(self, name: str) -> str:
        response = self._call(f"SSM parameter {name}", self._client("ssm").get_parameter, Name=name)
        return str(response["Parameter"]["Value"])

    def model_package(self, arn: str) -> dict[str, Any]:
        client = self._client("sagemaker")
        response: dict[str, Any] = self._call(
            f"model package {arn}", client.describe_model_package, ModelPackageName=arn
        )
        return response

    def prefixes(self, location: S3Location) -> list[S3Location]:
        prefix = location.child("").key
        pages = self._client("s3").get_paginator("list_objects_v2")
        found: list[S3Location] = []
        for page in self._call(f"listing {location.uri}", pages.paginate, Bucket=location.bucket, Prefix=prefix,
                               Delimiter="/"):  # fmt: skip
            found.extend(S3Location(location.bucket, item["Prefix"]) for item in page.get("CommonPrefixes", []))
        return found

    def keys(self, location: S3Location) -> list[str]:
        pages = self._client("s3").get_paginator("list_objects_v2")
        try:
            return sorted(
                item["Key"]
                for page in pages.paginate(Bucket=location.bucket, Prefix=location.key)
                for item in page.get("Contents", [])
            )
        except Exception as exc:  # botocore's errors surface while paging
            raise AwsError(f"listing {location.uri}: {exc}") from None

    def read(self, location: S3Location) -> bytes:
        response = self._call(location.uri, self._client("s3").get_object, Bucket=location.bucket, Key=location.key)
        body: bytes = response["Body"].read()
        return body

    def put_metrics(self, namespace: str, data: Sequence[dict[str, Any]]) -> None:
        client = self._client("cloudwatch")
        for start in range(0, len(data), METRICS_PER_CALL):
            chunk = list(data[start : start + METRICS_PER_CALL])
            self._call(f"PutMetricData {namespace}", client.put_metric_data, Namespace=namespace, MetricData=chunk)


class LocalAws:
    """The file stand-in of :class:`Boto3Aws` (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _s3(self, location: S3Location) -> Path:
        return self.root / "s3" / location.bucket / location.key

    def parameter(self, name: str) -> str:
        path = self.root / "ssm" / name.lstrip("/")
        if not path.is_file():
            raise AwsError(f"SSM parameter {name}: not found ({path})")
        return path.read_text(encoding="utf-8").strip()

    def model_package(self, arn: str) -> dict[str, Any]:
        match = _PACKAGE_ARN.match(arn)
        if not match:
            raise AwsError(f"model package {arn}: not a model package version ARN (...:model-package/<group>/<n>)")
        path = self.root / "registry" / match.group(1) / f"version-{int(match.group(2)):04d}.json"
        if not path.is_file():
            raise AwsError(f"model package {arn}: not found ({path})")
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AwsError(f"model package {arn}: {path} is not JSON: {exc}") from None
        return data

    def prefixes(self, location: S3Location) -> list[S3Location]:
        folder = self._s3(location.child(""))
        if not folder.is_dir():
            return []
        return [location.child(f"{path.name}/") for path in sorted(folder.iterdir()) if path.is_dir()]

    def keys(self, location: S3Location) -> list[str]:
        folder = self._s3(location)
        if not folder.is_dir():
            return []
        base = self.root / "s3" / location.bucket
        return sorted(path.relative_to(base).as_posix() for path in folder.rglob("*") if path.is_file())

    def read(self, location: S3Location) -> bytes:
        path = self._s3(location)
        if not path.is_file():
            raise AwsError(f"{location.uri}: not found ({path})")
        return path.read_bytes()

    def put_metrics(self, namespace: str, data: Sequence[dict[str, Any]]) -> None:
        path = self.root / "cloudwatch" / "metrics.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as file:
            for datum in data:
                stamp = datum["Timestamp"]
                moment = stamp.isoformat() if isinstance(stamp, datetime) else str(stamp)
                file.write(json.dumps({"Namespace": namespace, **datum, "Timestamp": moment}) + "\n")


def aws_from_environment() -> Aws:
    """Files under ``$MLOPS_LOCAL_AWS_ROOT`` when it is set, else boto3."""
    root = os.environ.get(LOCAL_AWS_ROOT)
    return LocalAws(Path(root)) if root else Boto3Aws()

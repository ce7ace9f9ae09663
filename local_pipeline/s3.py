"""S3 as a folder: ``s3://bucket/key`` is ``<root>/bucket/key``, except for objects mapped to files elsewhere.

The mapped objects are the CDK assets staged in ``cdk.out`` (step code, sample data) and a local ``--input``: the
runner serves them where they are instead of copying them. Downloads follow SageMaker's ``S3Prefix`` semantics (every
object under the prefix, paths kept relative to it), which is what the steps' input folders look like in the cloud.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_pipeline.errors import S3Error


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); anything else is an :class:`S3Error`."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise S3Error(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or any(part in {".", ".."} for part in key.split("/")):
        raise S3Error(f"malformed S3 URI: {uri!r}")
    return bucket, key


def relative_key(prefix: str, key: str) -> str:
    """Where the object ``key`` lands under the local folder of an S3Prefix input of ``prefix``.

    Paths stay relative to the prefix when the key continues it at a ``/`` (``data/train`` + ``data/train/a.csv``
    -> ``a.csv``); an exact key (or a key that continues the prefix's last name) lands relative to the prefix's
    folder, i.e. as its basename (``x/model.tar.gz`` -> ``model.tar.gz``).
    """
    if key != prefix and (prefix == "" or prefix.endswith("/") or key[len(prefix)] == "/"):
        return key[len(prefix) :].lstrip("/")
    return key[len(prefix.rpartition("/")[0]) :].lstrip("/")


@dataclass
class LocalS3:
    """S3 as a folder: ``s3://bucket/key`` is ``<root>/bucket/key``; ``objects`` maps single objects elsewhere."""

    root: Path
    objects: dict[str, Path] = field(default_factory=dict)

    def local_path(self, uri: str) -> Path:
        """Where the object ``uri`` is (or would be written): its override, else its file under the root."""
        bucket, key = split_s3_uri(uri)
        return self.objects.get(uri, self.root / bucket / key)

    def get(self, uri: str) -> Path:
        """The local file of the existing object ``uri``."""
        path = self.local_path(uri)
        if uri in self.objects and path.is_dir():
            raise S3Error(f"{uri} is mapped to the folder {path}; an S3 object must be a file")
        if not path.is_file():
            raise S3Error(f"{uri}: no such object in the local S3 ({path})")
        return path

    def list_objects(self, prefix: str) -> dict[str, Path]:
        """Every object whose URI starts with ``prefix`` -> its local file, sorted by URI."""
        bucket, key_prefix = split_s3_uri(prefix)
        found: dict[str, Path] = {}
        bucket_dir = self.root / bucket
        search = bucket_dir / key_prefix.rpartition("/")[0]
        if search.is_dir():
            for path in search.rglob("*"):
                key = path.relative_to(bucket_dir).as_posix()
                if path.is_file() and key.startswith(key_prefix):
                    found[f"s3://{bucket}/{key}"] = path
        found.update({uri: path for uri, path in self.objects.items() if uri.startswith(f"s3://{bucket}/{key_prefix}")})
        return dict(sorted(found.items()))

    def download(self, uri: str, destination: Path) -> list[Path]:
        """S3Prefix semantics: copy every object under ``uri`` into ``destination`` (see :func:`relative_key`)."""
        objects = self.list_objects(uri)
        if not objects:
            raise S3Error(f"no object at or under {uri} in the local S3 ({self.root})")
        _, prefix = split_s3_uri(uri)
        copied = []
        destination.mkdir(parents=True, exist_ok=True)
        for object_uri in objects:
            target = destination / relative_key(prefix, split_s3_uri(object_uri)[1])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.get(object_uri), target)
            copied.append(target)
        return copied

    def put_file(self, source: Path, uri: str) -> None:
        target = self.local_path(uri)
        if uri in self.objects:
            raise S3Error(f"{uri} is mapped to {target}; the runner does not overwrite mapped objects")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def put_tree(self, source: Path, prefix: str) -> list[str]:
        """Copy every file under the folder ``source`` to ``prefix/<relative path>``; return the URIs."""
        base = prefix.rstrip("/")
        uris = []
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            uri = f"{base}/{path.relative_to(source).as_posix()}"
            self.put_file(path, uri)
            uris.append(uri)
        return uris

    def seed(self, uri: str, source: Path) -> list[str]:
        """Copy a local file (to ``uri``, or ``uri<name>`` when it ends with ``/``) or folder (under ``uri``)."""
        if source.is_dir():
            return self.put_tree(source, uri)
        if not source.is_file():
            raise S3Error(f"cannot seed {uri}: {source} is neither a file nor a folder")
        target = uri + source.name if uri.endswith("/") else uri
        self.put_file(source, target)
        return [target]

    def map_objects(self, uri: str, source: Path) -> str:
        """Map a local file or folder into the S3 namespace without copying it; return the URI of the data."""
        split_s3_uri(uri)
        if source.is_dir():
            prefix = uri.rstrip("/")
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                self.objects[f"{prefix}/{path.relative_to(source).as_posix()}"] = path
            return prefix + "/"
        if not source.is_file():
            raise S3Error(f"cannot map {uri}: {source} is neither a file nor a folder")
        target = uri + source.name if uri.endswith("/") else uri
        self.objects[target] = source
        return target

    def read_json(self, uri: str) -> Any:
        path = self.get(uri)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise S3Error(f"{uri} ({path}) is not valid JSON: {exc}") from None

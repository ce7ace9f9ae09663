"""The local model registry: model package groups as folders, one JSON file per version, never overwritten.

``<root>/<group>/version-0001.json``, ``version-0002.json``, ...: a RegisterModel step writes the group's next
version with everything the package carries (the resolved inference specification, metrics and baselines with
each report's local path and content, the metadata and the execution that registered it), so that a developer can
read what the cloud registry would hold. Runs that share a workspace share the registry, and versions keep counting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_pipeline.errors import StepError

_GROUP_NAME = re.compile(r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$")
_VERSION_FILE = re.compile(r"^version-(\d{4,})\.json$")


@dataclass(frozen=True)
class LocalModelRegistry:
    """Model package groups as folders: ``<root>/<group>/version-0001.json``, ... (versions count from 1)."""

    root: Path

    def versions(self, group: str) -> list[int]:
        folder = self.root / group
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION_FILE.match(p.name)))

    def path(self, group: str, version: int) -> Path:
        return self.root / group / f"version-{version:04d}.json"

    def load(self, group: str, version: int) -> Any:
        return json.loads(self.path(group, version).read_text(encoding="utf-8"))

    def register(self, group: str, package: dict[str, Any]) -> tuple[int, Path]:
        """Write ``package`` as the group's next version (never overwriting one); return (version, file)."""
        if not _GROUP_NAME.match(group):
            raise StepError(f"ModelPackageGroupName {group!r} is not a valid model package group name")
        (self.root / group).mkdir(parents=True, exist_ok=True)
        version = (self.versions(group) or [0])[-1] + 1
        while True:
            path = self.path(group, version)
            try:
                with path.open("x", encoding="utf-8") as out:
                    json.dump({**package, "ModelPackageVersion": version}, out, indent=2, sort_keys=True)
                    out.write("\n")
            except FileExistsError:  # another run registered this version meanwhile
                version += 1
                continue
            return version, path

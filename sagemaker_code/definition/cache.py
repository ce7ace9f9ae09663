"""Pipeline definitions for the synth: built by the SageMaker SDK in a background process, memoized on disk.

Importing the SDK and building a definition costs ~4 s, as much as the rest of a synth. So the app starts one
background process for all environments before it loads aws-cdk-lib (:func:`DefinitionBuilds.start`), and the
model-build stacks collect the result (:meth:`DefinitionBuilds.get`) when they need it. Results are stored under a
key that covers everything a definition depends on: the settings (pure config, the hyperparameter table included),
the source of every module the definition is built from (:func:`definition_sources`) and the versions of the SDK's
packages; a later synth with the same key reads the file instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from sagemaker_code.definition import build
from sagemaker_code.definition.monitoring import MonitorPipelineSettings
from sagemaker_code.definition.settings import PipelineSettings
from tools.offline import offline_environ

AnySettings = PipelineSettings | MonitorPipelineSettings

#: The distributions that build a definition: the SageMaker Python SDK 3.x (``sagemaker`` only pins the others) and
#: botocore, whose SageMaker enums (instance types, approval statuses) the parameter check lists.
SDK_DISTRIBUTIONS = ("sagemaker", "sagemaker-core", "sagemaker-mlops", "sagemaker-serve", "sagemaker-train", "botocore")
REPO_ROOT = Path(build.__file__).resolve().parents[2]


def definition_sources() -> list[Path]:
    """Every module a definition is built from: this package's, and the project modules it imports (the step-code
    contract and hyperparameter table, config's naming and hyperparameter model). A test checks the list against the
    package's imports."""
    package = Path(build.__file__).resolve().parent
    steps, config = REPO_ROOT / "sagemaker_code" / "steps", REPO_ROOT / "config"
    return [
        *sorted(package.glob("*.py")),
        steps / "contract.py",
        steps / "hyperparameters.py",
        config / "naming.py",
        config / "model_build.py",
    ]


def sdk_versions() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in SDK_DISTRIBUTIONS]


def cache_key(settings: AnySettings) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(settings.to_dict(), sort_keys=True).encode())
    for source in definition_sources():
        digest.update(source.read_bytes())
    for version in sdk_versions():
        digest.update(version.encode())
    return digest.hexdigest()[:32]


class DefinitionBuildError(RuntimeError):
    """The SageMaker SDK could not build a pipeline definition."""


@dataclass
class DefinitionBuilds:
    """Definitions of several pipelines, from the cache or from one background builder process."""

    cache_dir: Path
    settings: dict[str, AnySettings] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    _workdir: tempfile.TemporaryDirectory[str] | None = None

    def path(self, settings: AnySettings) -> Path:
        return self.cache_dir / f"{settings.pipeline_name}-{cache_key(settings)}.json"

    @classmethod
    def start(cls, settings: list[AnySettings], cache_dir: Path) -> DefinitionBuilds:
        """Start building every definition that is not cached yet; returns at once."""
        builds = cls(cache_dir=cache_dir, settings={s.pipeline_name: s for s in settings})
        missing = [s for s in settings if not builds.path(s).is_file()]
        if missing:
            builds._workdir = tempfile.TemporaryDirectory(prefix="pipeline-definitions-")
            work = Path(builds._workdir.name)
            (work / "settings.json").write_text(json.dumps([s.to_dict() for s in missing]))
            builds._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                [
                    sys.executable,
                    "-m",
                    build.__name__,
                    str(work / "settings.json"),
                    str(work / "out.json"),
                ],
                cwd=REPO_ROOT,
                env=offline_environ(os.environ),  # nothing in the builder calls AWS
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        return builds

    def _collect(self) -> None:
        if self._process is None or self._workdir is None:
            return
        _, stderr = self._process.communicate()
        process, self._process = self._process, None
        work = Path(self._workdir.name)
        try:
            if process.returncode != 0:
                raise DefinitionBuildError(
                    f"building the SageMaker pipeline definitions failed (exit {process.returncode}):\n"
                    + stderr.decode(errors="replace")[-4000:]
                )
            built: dict[str, object] = json.loads((work / "out.json").read_text())
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            for name, definition in built.items():
                target = self.path(self.settings[name])
                partial = target.with_suffix(f".{os.getpid()}.tmp")
                partial.write_text(json.dumps(definition, sort_keys=True))
                partial.replace(target)  # atomic: a concurrent synth never reads half a file
        finally:
            self._workdir.cleanup()
            self._workdir = None

    def get(self, pipeline_name: str) -> str:
        """The definition JSON (with sentinels) of one pipeline; waits for the builder if it is still running."""
        if pipeline_name not in self.settings:
            raise KeyError(f"no definition was requested for pipeline {pipeline_name!r}")
        path = self.path(self.settings[pipeline_name])
        if not path.is_file():
            self._collect()
        return path.read_text()

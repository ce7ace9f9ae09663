"""A version of the local model registry, found, unpacked and loaded with the serving code it was packaged with.

The local pipeline (``local_pipeline``) registers versions as ``WORKSPACE/registry/<group>/version-NNNN.json``; the
entry's container names its ``model.tar.gz`` twice: ``ModelDataLocalPath`` (the file when it was registered) and
``ModelDataUrl`` (its S3 URI, which the local S3 maps to ``WORKSPACE/s3/<bucket>/<key>``). The archive is unpacked
into a temporary folder, as SageMaker unpacks it into ``/opt/ml/model``.

The handlers are the archive's own ``code/inference.py`` (``SAGEMAKER_PROGRAM``) with the ``code/sagemaker_code``
modules packed next to it - what the cloud container runs for this version - not the working tree's copy, which may
have changed since the model was trained (a warning says so when it differs; run the pipeline again to serve it).
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from local_pipeline.errors import S3Error
from local_pipeline.registry import LocalModelRegistry
from local_pipeline.s3 import LocalS3

logger = logging.getLogger(__name__)

#: The working tree's serving code, to tell the developer when the package's copy differs.
WORKING_TREE_INFERENCE = Path(__file__).resolve().parent.parent / "sagemaker_code" / "steps" / "inference.py"
#: Where the container finds the program (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code) when the entry does not say.
CODE_FOLDER = "code"
DEFAULT_PROGRAM = "inference.py"
_PACKAGE = "sagemaker_code"
_loads = itertools.count(1)


class EndpointError(Exception):
    """The endpoint cannot start: the message names what is missing or wrong and where (exit status 2)."""


@dataclass(frozen=True)
class RegisteredVersion:
    """One entry of the local model registry and the local files it points at."""

    group: str
    version: int
    entry_path: Path
    entry: dict[str, Any]
    model_data: Path
    #: The held-out test rows (metadata ``test_data_uri``) when they are in the local S3.
    test_data: Path | None

    @property
    def metadata(self) -> dict[str, str]:
        metadata: dict[str, str] = self.entry.get("CustomerMetadataProperties") or {}
        return metadata

    @property
    def program(self) -> str:
        environment = self._container().get("Environment") or {}
        return str(environment.get("SAGEMAKER_PROGRAM") or DEFAULT_PROGRAM)

    def _container(self) -> dict[str, Any]:
        container: dict[str, Any] = self.entry["InferenceSpecification"]["Containers"][0]
        return container


def find_version(workspace: Path, group: str | None = None, version: int | None = None) -> RegisteredVersion:
    """The registry entry (default: the newest version of the only group) and its model archive."""
    if not workspace.is_dir():
        raise EndpointError(f"no workspace at {workspace}: run `make local-pipeline` first, or pass --workspace")
    registry = LocalModelRegistry(workspace / "registry")
    groups = (
        sorted(p.name for p in registry.root.iterdir() if registry.versions(p.name)) if registry.root.is_dir() else []
    )
    if not groups:
        raise EndpointError(
            f"no model is registered in {registry.root}: run `make local-pipeline` (a run registers a model when "
            "every gate passes; the shipped sample's model fails the bias gate on purpose, so for a first try: "
            'make local-pipeline ARGS="--param DisparateImpactLower=0.4")'
        )
    if group is None:
        if len(groups) > 1:
            raise EndpointError(f"{registry.root} has several model package groups: choose one with --group: {groups}")
        group = groups[0]
    elif group not in groups:
        raise EndpointError(f"no model package group {group!r} in {registry.root}; the groups are {groups}")
    versions = registry.versions(group)
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise EndpointError(f"{group} has no version {version} in {registry.root}; its versions are {versions}")
    entry_path = registry.path(group, version)
    try:
        entry = registry.load(group, version)
        container = entry["InferenceSpecification"]["Containers"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise EndpointError(f"{entry_path} is not a readable model package entry: {exc!r}") from None
    s3 = LocalS3(workspace / "s3")
    model_data = _local_object(s3, container.get("ModelDataLocalPath"), container.get("ModelDataUrl"))
    if model_data is None:
        raise EndpointError(
            f"{entry_path}: the model archive is neither at ModelDataLocalPath {container.get('ModelDataLocalPath')} "
            f"nor in the local S3 at ModelDataUrl {container.get('ModelDataUrl')} (was the workspace cleaned?)"
        )
    metadata = entry.get("CustomerMetadataProperties") or {}
    test_data = _local_object(s3, None, metadata.get("test_data_uri"))
    return RegisteredVersion(group, version, entry_path, entry, model_data, test_data)


def _local_object(s3: LocalS3, local_path: object, uri: object) -> Path | None:
    """The registered local file, else the S3 URI's file in this workspace's local S3 (a moved workspace)."""
    if isinstance(local_path, str) and Path(local_path).is_file():
        return Path(local_path)
    if isinstance(uri, str):
        try:
            path = s3.local_path(uri)
        except S3Error:
            return None
        if path.is_file():
            return path
    return None


@dataclass
class LoadedModel:
    """The unpacked archive, its handlers module and what its ``model_fn`` returned."""

    version: RegisteredVersion
    model_dir: Path
    handlers: ModuleType
    model: Any
    _workdir: tempfile.TemporaryDirectory[str]

    def close(self) -> None:
        self._workdir.cleanup()


def load_model(version: RegisteredVersion) -> LoadedModel:
    """Unpack the archive into a temporary folder, import its serving code, and call ``model_fn`` on it."""
    workdir = tempfile.TemporaryDirectory(prefix="local-endpoint-")
    try:
        model_dir = Path(workdir.name) / "model"
        try:
            with tarfile.open(version.model_data, "r:gz") as archive:
                archive.extractall(model_dir, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise EndpointError(f"cannot unpack the model archive {version.model_data}: {exc}") from None
        program = model_dir / CODE_FOLDER / version.program
        if not program.is_file():
            raise EndpointError(f"the model archive {version.model_data} has no {CODE_FOLDER}/{version.program}")
        _warn_if_changed(program)
        where = f"{CODE_FOLDER}/{version.program} of {version.model_data}"
        try:
            handlers = import_handlers(program)
        except EndpointError:
            raise
        except Exception as exc:
            raise EndpointError(f"cannot import {where}: {type(exc).__name__}: {exc}") from exc
        missing = [name for name in ("model_fn", "transform_fn", "InvalidInputError") if not hasattr(handlers, name)]
        if missing:
            raise EndpointError(f"{where} does not define {missing}")
        try:
            model = handlers.model_fn(str(model_dir))
        except Exception as exc:
            raise EndpointError(f"model_fn of {where} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        workdir.cleanup()
        raise
    return LoadedModel(version, model_dir, handlers, model, workdir)


def import_handlers(program: Path) -> ModuleType:
    """Import ``program`` as the container does, with its folder first on the path, so that its ``sagemaker_code``
    imports resolve to the packed copies. The working tree's ``sagemaker_code`` modules already imported (the local
    pipeline's, in tests) are set aside while it imports and put back afterwards: the handlers keep references to
    the packed modules, and the rest of the process keeps the working tree's."""
    ours = {name: module for name, module in sys.modules.items() if name == _PACKAGE or name.startswith(_PACKAGE + ".")}
    for name in ours:
        del sys.modules[name]
    folder = str(program.parent)
    sys.path.insert(0, folder)
    name = f"local_endpoint_program_{next(_loads)}"
    try:
        spec = importlib.util.spec_from_file_location(name, program)
        if spec is None or spec.loader is None:
            raise EndpointError(f"cannot import {program}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is created
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
        for loaded in [n for n in sys.modules if n == _PACKAGE or n.startswith(_PACKAGE + ".")]:
            del sys.modules[loaded]
        sys.modules.update(ours)
    return module


def _warn_if_changed(program: Path) -> None:
    if WORKING_TREE_INFERENCE.is_file() and WORKING_TREE_INFERENCE.read_bytes() != program.read_bytes():
        logger.warning(
            "the package's %s differs from the working tree's %s: serving the package's (what the cloud serves for "
            "this version); run the pipeline again to serve your changes",
            program.name,
            WORKING_TREE_INFERENCE,
        )

"""Run a SageMaker Pipeline *definition* (the JSON the cloud runs) on this machine: no Docker, no AWS, seconds.

The runner follows the definition, not a fixed sequence: the step order comes from the data dependencies of each
step (every ``Get: Steps.X...``, including the property files that ``Std:JsonGet`` reads) and ``DependsOn``;
condition steps decide which of their ``IfSteps``/``ElseSteps`` run. Everything is checked before the first step
starts (step types, references to steps, parameters and property files, cycles); a problem found while running
ends the run ``Failed`` with a message that names the step and what is wrong.

What each step type does here:

- ``Processing``: the step's container is emulated by an entry of :data:`IMAGE_EMULATORS` (keyed by the ECR
  repository of ``ImageUri``). For the XGBoost framework image the ``ContainerEntrypoint`` + ``ContainerArguments``
  run for real, with every ``/opt/ml`` path rewritten to a per-step folder (``<workspace>/steps/<step>/opt/ml``)
  and ``python3`` on ``PATH`` running this interpreter. Inputs are copied from the local S3 before the step, output
  folders are copied to their ``S3Uri`` after it, property files are read from the output folders. Images without
  an emulator (SageMaker Clarify, any custom image) stop the step with a message naming the image.
- ``Training``: XGBoost script mode: ``sagemaker_submit_directory`` is unpacked into ``opt/ml/code`` and
  ``python3 <sagemaker_program> --<name> <value> ...`` runs there with the ``SM_*`` variables of the SageMaker
  training toolkit; the model folder becomes ``<S3OutputPath>/<job name>/output/model.tar.gz``.
- ``Condition``: the conditions (an AND) are evaluated; the outcome and the compared values are recorded.
- ``Fail``: the run ends ``Failed`` with the resolved ``ErrorMessage``.
- ``RegisterModel``: a new version in a local, file-based model registry (:class:`LocalModelRegistry`).

Not emulated: step caching (``CacheConfig`` is ignored, every step runs), retries, parallel steps (steps run one at
a time), more than one instance, Pipe input mode, manifest inputs, and every other step type (Transform, Tuning,
Model, Lambda, Callback, QualityCheck, ClarifyCheck, EMR, ...), which is reported before anything runs.

S3 is a folder (:class:`LocalS3`): ``s3://bucket/key`` is ``<root>/bucket/key``, except for objects mapped to files
elsewhere (the CDK assets in ``cdk.out``, a local ``--input``).

Usage: ``python -m local_pipeline.runner --help``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import operator
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

#: A JSON value of the definition (object, array, string, number, boolean or null).
Json = Any

CONTAINER_ROOT = "/opt/ml"
DEFAULT_PIPELINE_NAME = "local-pipeline"
#: Stand-ins for the account and region of the ARNs the execution variables and step properties carry.
LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"
LOG_TAIL_LINES = 30
SUCCEEDED, FAILED = "Succeeded", "Failed"
APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "StartDateTime",
    "CurrentDateTime",
)


# ---- errors ----------------------------------------------------------------------------------------------------


class LocalRunnerError(Exception):
    """Base class of the runner's errors; every message names what is wrong and where."""


class DefinitionError(LocalRunnerError):
    """The definition cannot run here (found before any step starts): bad structure, reference or step type."""


class ParameterError(LocalRunnerError):
    """A parameter override does not fit the definition (unknown name, wrong type)."""


class StepError(LocalRunnerError):
    """A step failed while running; the run ends Failed with this message."""


class S3Error(StepError):
    """A local S3 object or prefix is missing or malformed."""


class ExpressionError(StepError):
    """An expression of the definition cannot be evaluated (missing property, path or value of the wrong type)."""


class _PipelineFailed(Exception):  # noqa: N818 - a control-flow signal, not an error of the runner
    """Raised by a Fail step: ends the run Failed with the resolved error message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---- local S3 --------------------------------------------------------------------------------------------------


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

    def read_json(self, uri: str) -> Json:
        path = self.get(uri)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise S3Error(f"{uri} ({path}) is not valid JSON: {exc}") from None


# ---- parameters ------------------------------------------------------------------------------------------------


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in {"true", "false"}:
        raise ValueError(text)
    return lowered == "true"


_PARAMETER_PARSERS: dict[str, tuple[str, Callable[[str], Json]]] = {
    "String": ("a string", str),
    "Integer": ("an integer", int),
    "Float": ("a number", _finite_float),
    "Boolean": ("true or false", _boolean),
}


def parse_parameter(name: str, kind: str, value: Json) -> Json:
    """``value`` (an override's text, or a default from the definition) as a value of the declared ``kind``."""
    if kind not in _PARAMETER_PARSERS:
        raise DefinitionError(f"parameter {name}: unknown Type {kind!r} (known: {', '.join(_PARAMETER_PARSERS)})")
    expected, parse = _PARAMETER_PARSERS[kind]
    if kind == "Boolean" and isinstance(value, bool):
        return value
    if isinstance(value, bool) or (kind != "String" and not isinstance(value, str | int | float)):
        raise ParameterError(f"parameter {name} is {kind}: expected {expected}, got {value!r}")
    text = value if isinstance(value, str) else json.dumps(value)
    if kind == "Integer" and isinstance(value, float) and value.is_integer():
        text = str(int(value))
    try:
        return parse(text if kind == "String" else text.strip())
    except ValueError:
        raise ParameterError(f"parameter {name} is {kind}: expected {expected}, got {value!r}") from None


def resolve_parameters(declared: Sequence[Json], overrides: Mapping[str, str]) -> dict[str, Json]:
    """The value of every declared parameter: its override (type-checked) or its DefaultValue."""
    values: dict[str, Json] = {}
    kinds: dict[str, str] = {}
    for index, item in enumerate(declared):
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise DefinitionError(f"Parameters[{index}]: expected an object with a Name, got {item!r}")
        kinds[item["Name"]] = item.get("Type", "String")
    unknown = sorted(set(overrides) - set(kinds))
    if unknown:
        raise ParameterError(
            f"unknown parameter {', '.join(unknown)}; the definition declares: {', '.join(sorted(kinds)) or 'none'}"
        )
    for item in declared:
        name, kind = item["Name"], kinds[item["Name"]]
        if name in overrides:
            value = parse_parameter(name, kind, overrides[name])
        elif "DefaultValue" in item:
            try:
                value = parse_parameter(name, kind, item["DefaultValue"])
            except ParameterError as exc:
                raise DefinitionError(f"DefaultValue of {exc}") from None
        else:
            raise ParameterError(f"parameter {name} has no default value in the definition: give it a value")
        enum = item.get("EnumValues")
        if isinstance(enum, list) and enum and value not in enum:
            raise ParameterError(f"parameter {name} must be one of {enum}, got {value!r}")
        values[name] = value
    return values


# ---- expressions -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathToken:
    """One step of a property path: ``.Name``, ``[0]`` or ``['name']``."""

    kind: Literal["attr", "index", "key"]
    value: str | int

    def __str__(self) -> str:
        if self.kind == "attr":
            return f".{self.value}"
        return f"[{self.value}]" if self.kind == "index" else f"['{self.value}']"


_PROPERTY_TOKEN = re.compile(
    r"\.(?P<attr>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>\d+)\]|\['(?P<key>[^']*)'\]|\[\"(?P<dkey>[^\"]*)\"\]"
)
_JSON_PATH_TOKEN = re.compile(r"(?:^|\.)(?P<attr>[^.\[\]]+)|\[(?P<index>\d+)\]")
_STEP_REFERENCE = re.compile(r"^Steps\.(?P<step>[A-Za-z0-9_-]+)(?P<path>.*)$")


def _tokenize(text: str, pattern: re.Pattern[str], what: str) -> list[PathToken]:
    tokens: list[PathToken] = []
    position = 0
    while position < len(text):
        match = pattern.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"{what} {text!r}: cannot parse from position {position} ({text[position:]!r})")
        groups = match.groupdict()
        if groups.get("index") is not None:
            tokens.append(PathToken("index", int(groups["index"])))
        elif groups.get("attr") is not None:
            tokens.append(PathToken("attr", groups["attr"]))
        else:
            tokens.append(PathToken("key", groups["key"] if groups["key"] is not None else groups["dkey"]))
        position = match.end()
    return tokens


def parse_property_path(text: str) -> list[PathToken]:
    """``.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri`` -> tokens (the part after ``Steps.<name>``)."""
    return _tokenize(text, _PROPERTY_TOKEN, "property path")


def parse_json_path(text: str) -> list[PathToken]:
    """The ``Path`` of ``Std:JsonGet``: names separated by dots, ``[i]`` indexes (``a.b[0].c``)."""
    if not text:
        raise ExpressionError("Std:JsonGet: empty Path")
    return _tokenize(text, _JSON_PATH_TOKEN, "Std:JsonGet Path")


class _PathMiss(Exception):  # noqa: N818 - internal: the caller turns it into a message with its context
    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where or '(root)'}: {detail}")


_NAME_FIELDS = ("OutputName", "ChannelName", "InputName")


def _element_name(element: Json) -> str | None:
    """The name of a list element: its OutputName, ChannelName or InputName, else its first other ``*Name`` field."""
    if not isinstance(element, dict):
        return None
    for key in (*_NAME_FIELDS, *(key for key in element if key.endswith("Name"))):
        if isinstance(element.get(key), str):
            return str(element[key])
    return None


def walk(value: Json, tokens: Sequence[PathToken]) -> Json:
    """Follow ``tokens`` into ``value``; ``['x']`` on a list picks the element whose ``*Name`` field is ``x``."""
    for position, token in enumerate(tokens):
        where = "".join(str(t) for t in tokens[:position]).lstrip(".")
        if isinstance(value, list) and token.kind == "key":
            matches = [element for element in value if _element_name(element) == token.value]
            if not matches:
                names = [_element_name(element) for element in value]
                raise _PathMiss(where, f"no element named {token.value!r} (names: {names})")
            value = matches[0]
        elif isinstance(value, list) and token.kind == "index":
            if not isinstance(token.value, int) or token.value >= len(value):
                raise _PathMiss(where, f"index {token.value} is out of range (length {len(value)})")
            value = value[token.value]
        elif isinstance(value, dict) and token.kind != "index":
            if token.value not in value:
                raise _PathMiss(where, f"no {token.value!r} (has: {', '.join(sorted(map(str, value)))})")
            value = value[token.value]
        else:
            raise _PathMiss(where, f"cannot apply {token} to a {type(value).__name__}")
    return value


@dataclass(frozen=True)
class PropertyFileRef:
    """What ``Get: Steps.<step>.PropertyFiles.<name>`` evaluates to: only ``Std:JsonGet`` can read it."""

    step: str
    name: str


@dataclass
class Scope:
    """What expressions can read: parameters, execution variables, and the steps that ran so far."""

    parameters: Mapping[str, Json]
    execution: Mapping[str, str]
    steps: dict[str, dict[str, Json]] = field(default_factory=dict)
    property_files: dict[tuple[str, str], Json] = field(default_factory=dict)
    s3: LocalS3 | None = None

    def get(self, reference: str) -> Json:
        namespace, _, name = reference.partition(".")
        if namespace == "Parameters":
            if name not in self.parameters:
                raise ExpressionError(f"Get {reference}: no parameter {name!r} (declared: {sorted(self.parameters)})")
            return self.parameters[name]
        if namespace == "Execution":
            if name == "CurrentDateTime":
                return _now()
            if name not in self.execution:
                raise ExpressionError(f"Get {reference}: unknown execution variable (known: {EXECUTION_VARIABLES})")
            return self.execution[name]
        match = _STEP_REFERENCE.match(reference)
        if match is None:
            raise ExpressionError(f"Get {reference!r}: expected Parameters.<name>, Execution.<name> or Steps.<name>...")
        step, path = match["step"], match["path"]
        if path.startswith(".PropertyFiles."):
            file_name = path.removeprefix(".PropertyFiles.")
            if (step, file_name) not in self.property_files:
                raise ExpressionError(f"Get {reference}: step {step} has not produced property file {file_name}")
            return PropertyFileRef(step, file_name)
        if step not in self.steps:
            raise ExpressionError(f"Get {reference}: step {step} has not run")
        try:
            return walk(self.steps[step], parse_property_path(path))
        except _PathMiss as miss:
            raise ExpressionError(f"Get {reference}: step {step} has no such property: {miss}") from None

    def json_get(self, arguments: Json) -> Json:
        if not isinstance(arguments, dict) or not isinstance(arguments.get("Path"), str):
            raise ExpressionError(f"Std:JsonGet: expected PropertyFile (or S3Uri) and a Path string, got {arguments!r}")
        path = arguments["Path"]
        if "PropertyFile" in arguments:
            reference = resolve(arguments["PropertyFile"], self)
            if not isinstance(reference, PropertyFileRef):
                raise ExpressionError(f"Std:JsonGet {path!r}: PropertyFile must be Steps.<step>.PropertyFiles.<name>")
            data = self.property_files[(reference.step, reference.name)]
            where = f"property file {reference.name} of step {reference.step}"
        elif "S3Uri" in arguments and self.s3 is not None:
            uri = resolve(arguments["S3Uri"], self)
            data, where = self.s3.read_json(uri), f"the JSON file {uri}"
        else:
            raise ExpressionError(f"Std:JsonGet {path!r}: no PropertyFile (or S3Uri) to read")
        try:
            return walk(data, parse_json_path(path))
        except _PathMiss as miss:
            raise ExpressionError(f"Std:JsonGet: {where} has no value at {path!r} ({miss})") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def as_text(value: Json) -> str:
    """How a value reads inside ``Std:Join`` and messages: strings as they are, anything else as JSON."""
    if isinstance(value, PropertyFileRef):
        raise ExpressionError(f"property file {value.name} of step {value.step} can only be read with Std:JsonGet")
    return value if isinstance(value, str) else json.dumps(value)


FUNCTIONS = ("Get", "Std:Join", "Std:JsonGet")


def resolve(node: Json, scope: Scope) -> Json:
    """Evaluate every ``Get``, ``Std:Join`` and ``Std:JsonGet`` in ``node`` (a JSON value of the definition)."""
    if isinstance(node, list):
        return [resolve(item, scope) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Get":
            if not isinstance(value, str):
                raise ExpressionError(f"Get: expected a reference string, got {value!r}")
            return scope.get(value)
        if key == "Std:Join":
            if not isinstance(value, dict) or not isinstance(value.get("Values"), list):
                raise ExpressionError(f"Std:Join: expected On and a Values list, got {value!r}")
            return str(value.get("On", "")).join(as_text(resolve(item, scope)) for item in value["Values"])
        if key == "Std:JsonGet":
            return scope.json_get(value)
        if key.startswith("Std:"):
            raise ExpressionError(f"unsupported function {key} (supported: {', '.join(FUNCTIONS)})")
    return {key: resolve(value, scope) for key, value in node.items()}


# ---- conditions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionOutcome:
    """One evaluated condition: its type, the values compared, a readable form and the outcome."""

    type: str
    values: tuple[Json, ...]
    text: str
    outcome: bool


_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualTo": (">=", operator.ge),
    "GreaterThan": (">", operator.gt),
    "LessThanOrEqualTo": ("<=", operator.le),
    "LessThan": ("<", operator.lt),
}
CONDITION_TYPES = (*_COMPARISONS, "Equals", "In", "Not", "Or")


def _is_number(value: Json) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Json, right: Json) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(float(left) == float(right))
    return type(left) is type(right) and bool(left == right)


def evaluate_condition(condition: Json, scope: Scope) -> ConditionOutcome:
    """Evaluate one condition of a ConditionStep (comparisons need numbers on both sides)."""
    kind = condition.get("Type") if isinstance(condition, dict) else None
    if kind in _COMPARISONS:
        symbol, compare = _COMPARISONS[kind]
        left, right = resolve(condition.get("LeftValue"), scope), resolve(condition.get("RightValue"), scope)
        if not (_is_number(left) and _is_number(right)):
            raise ExpressionError(f"condition {kind} compares numbers, got {left!r} and {right!r}")
        return ConditionOutcome(kind, (left, right), f"{as_text(left)} {symbol} {as_text(right)}", compare(left, right))
    if kind == "Equals":
        left, right = resolve(condition.get("LeftValue"), scope), resolve(condition.get("RightValue"), scope)
        return ConditionOutcome(kind, (left, right), f"{as_text(left)} == {as_text(right)}", _equal(left, right))
    if kind == "In":
        query, values = resolve(condition.get("QueryValue"), scope), resolve(condition.get("Values", []), scope)
        outcome = any(_equal(query, value) for value in values)
        return ConditionOutcome(kind, (query, *values), f"{as_text(query)} in {as_text(values)}", outcome)
    if kind == "Not":
        inner = evaluate_condition(condition.get("Expression"), scope)
        return ConditionOutcome(kind, inner.values, f"not ({inner.text})", not inner.outcome)
    if kind == "Or":
        inners = [evaluate_condition(item, scope) for item in condition.get("Conditions", [])]
        text = " or ".join(f"({inner.text})" for inner in inners)
        return ConditionOutcome(
            kind, tuple(v for inner in inners for v in inner.values), text, any(i.outcome for i in inners)
        )
    raise ExpressionError(f"unsupported condition {kind!r} (supported: {', '.join(CONDITION_TYPES)})")


# ---- the plan: steps, dependencies, order ----------------------------------------------------------------------


@dataclass(frozen=True)
class StepNode:
    """A step of the definition, wherever it is nested, with everything it waits for."""

    name: str
    type: str
    body: dict[str, Json]
    parent: str | None  # the condition step whose branch holds this step
    branch: str | None  # "IfSteps" or "ElseSteps"
    depends_on: tuple[str, ...]

    @property
    def arguments(self) -> dict[str, Json]:
        arguments = self.body.get("Arguments", {})
        if not isinstance(arguments, dict):
            raise DefinitionError(f"step {self.name}: Arguments must be an object")
        return arguments


def _own_expressions(step: dict[str, Json]) -> Json:
    """The part of a step that it evaluates itself (a condition step's branches are steps of their own)."""
    arguments = step.get("Arguments", {})
    if step.get("Type") == "Condition" and isinstance(arguments, dict):
        return arguments.get("Conditions", [])
    return arguments


def _scan(node: Json) -> Iterator[tuple[str, str]]:
    """Every ``Get`` reference and function name in an expression tree: ("Get", ref) / ("function", name)."""
    if isinstance(node, list):
        for item in node:
            yield from _scan(item)
    elif isinstance(node, dict):
        if len(node) == 1 and isinstance(node.get("Get"), str):
            yield "Get", node["Get"]
            return
        for key, value in node.items():
            if key.startswith("Std:"):
                yield "function", key
            yield from _scan(value)


def _flatten(
    steps: Json, parent: str | None = None, branch: str | None = None
) -> Iterator[tuple[dict[str, Json], str | None, str | None]]:
    if not isinstance(steps, list):
        raise DefinitionError(f"{f'{parent}.{branch}' if parent else 'Steps'}: expected a list of steps")
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("Name"), str) or not isinstance(step.get("Type"), str):
            where = f"{parent}.{branch}" if parent else "Steps"
            raise DefinitionError(f"{where}: every step needs a Name and a Type, got {str(step)[:200]}")
        yield step, parent, branch
        if step["Type"] == "Condition":
            arguments = step.get("Arguments", {})
            for name in ("IfSteps", "ElseSteps"):
                yield from _flatten(arguments.get(name, []), step["Name"], name)


def _check_reference(
    step: str, reference: str, parameters: Mapping[str, Json], steps: Mapping[str, dict[str, Json]]
) -> str | None:
    """The step ``reference`` reads (None for a parameter or execution variable); a bad reference is an error."""
    namespace, _, name = reference.partition(".")
    if namespace == "Parameters":
        if name not in parameters:
            raise DefinitionError(
                f"step {step} reads parameter {name!r}, which the definition does not declare "
                f"(declared: {', '.join(sorted(parameters))})"
            )
        return None
    if namespace == "Execution":
        if name not in EXECUTION_VARIABLES:
            raise DefinitionError(
                f"step {step} reads unknown execution variable {name!r} (known: {EXECUTION_VARIABLES})"
            )
        return None
    match = _STEP_REFERENCE.match(reference)
    if match is None:
        raise DefinitionError(f"step {step}: cannot read {reference!r} (expected Parameters., Execution. or Steps.)")
    target = match["step"]
    if target not in steps:
        raise DefinitionError(
            f"step {step} reads {reference}, but the definition has no step {target!r} (steps: {', '.join(steps)})"
        )
    if target == step:
        raise DefinitionError(f"step {step} reads its own property {reference}")
    if match["path"].startswith(".PropertyFiles."):
        file_name = match["path"].removeprefix(".PropertyFiles.")
        declared = [item.get("PropertyFileName") for item in steps[target].get("PropertyFiles", [])]
        if file_name not in declared:
            raise DefinitionError(
                f"step {step} reads property file {file_name!r} of step {target}, which declares "
                f"{declared or 'no property files'}"
            )
    else:
        try:
            parse_property_path(match["path"])
        except ExpressionError as exc:
            raise DefinitionError(f"step {step} reads {reference}: {exc}") from None
    return target


SUPPORTED_STEP_TYPES = ("Processing", "Training", "Condition", "Fail", "RegisterModel")


def plan(definition: Mapping[str, Json], parameters: Mapping[str, Json]) -> list[StepNode]:
    """Every step of ``definition`` in an order that respects its dependencies (definition order among equals).

    Checks, before anything runs: names are unique, types supported, every reference names a declared parameter,
    a known execution variable, an existing step and property file; ``DependsOn`` names existing steps; no cycle.
    """
    flat = list(_flatten(definition.get("Steps")))
    by_name: dict[str, dict[str, Json]] = {}
    for step, _, _ in flat:
        if step["Name"] in by_name:
            raise DefinitionError(f"two steps are named {step['Name']!r}")
        by_name[step["Name"]] = step
    nodes: list[StepNode] = []
    for step, parent, branch in flat:
        name, kind = step["Name"], step["Type"]
        if kind not in SUPPORTED_STEP_TYPES:
            raise DefinitionError(
                f"step {name} has type {kind!r}, which the local runner does not support "
                f"(it runs {', '.join(SUPPORTED_STEP_TYPES)})"
            )
        depends: list[str] = [parent] if parent else []
        for kind_of, value in _scan(_own_expressions(step)):
            if kind_of == "function" and value not in FUNCTIONS:
                raise DefinitionError(f"step {name} uses function {value}, which the local runner does not support")
            target = _check_reference(name, value, parameters, by_name) if kind_of == "Get" else None
            if target is not None and target not in depends:
                depends.append(target)
        for target in step.get("DependsOn", []) or []:
            if target not in by_name:
                raise DefinitionError(f"step {name} DependsOn {target!r}, which is not a step of the definition")
            if target not in depends:
                depends.append(target)
        nodes.append(StepNode(name, kind, step, parent, branch, tuple(depends)))
    return _order(nodes)


def _order(nodes: list[StepNode]) -> list[StepNode]:
    ordered: list[StepNode] = []
    placed: set[str] = set()
    waiting = list(nodes)
    while waiting:
        ready = next((node for node in waiting if set(node.depends_on) <= placed), None)
        if ready is None:
            cycle = ", ".join(
                f"{node.name} (waits for {', '.join(sorted(set(node.depends_on) - placed))})" for node in waiting
            )
            raise DefinitionError(f"the steps depend on each other in a cycle: {cycle}")
        ordered.append(ready)
        placed.add(ready.name)
        waiting.remove(ready)
    return ordered


# ---- containers: path mapping, image emulators, processes -------------------------------------------------------

_CONTAINER_PATH = re.compile(r"(?<![\w./-])/opt/ml(?![\w.-])")
_SAFE_ROOT = re.compile(r"^[A-Za-z0-9_./+-]+$")


def rewrite_container_paths(text: str, root: Path) -> str:
    """Every ``/opt/ml`` path in ``text`` -> the same path under ``root`` (the step's stand-in for ``/``)."""
    return _CONTAINER_PATH.sub(lambda match: f"{root}{match.group(0)}", text)


def image_repository(image_uri: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` (or ``@sha256:...``) -> ``<repository>``."""
    path = image_uri.split("/", 1)[1] if "/" in image_uri else image_uri
    return path.split("@", 1)[0].split(":", 1)[0]


@dataclass(frozen=True)
class Command:
    """A process to start: argv, working folder, variables added to the environment."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessingJob:
    """A processing step's resolved arguments, as the container sees them, plus its local root."""

    step: str
    image: str
    entrypoint: list[str]
    arguments: list[str]
    environment: dict[str, str]
    root: Path  # stands for the container's "/"

    def local(self, container_path: str) -> Path:
        if container_path != CONTAINER_ROOT and not container_path.startswith(f"{CONTAINER_ROOT}/"):
            raise StepError(f"{container_path!r} is not under {CONTAINER_ROOT}, which is all the runner maps")
        return self.root / container_path.lstrip("/")


@dataclass(frozen=True)
class TrainingJob:
    step: str
    image: str
    program: str
    hyperparameters: dict[str, Json]  # decoded, without the sagemaker_* ones
    channels: list[str]
    environment: dict[str, str]
    root: Path


@dataclass(frozen=True)
class ImageEmulator:
    """How the runner stands in for one container image (by ECR repository)."""

    description: str
    processing: Callable[[ProcessingJob], Command] | None = None
    training: Callable[[TrainingJob], Command] | None = None


SCRIPT_PROGRAMS = frozenset({"sh", "bash", "python", "python3"})


def _entrypoint_command(job: ProcessingJob) -> Command:
    """A framework image runs the step's own command: ContainerEntrypoint + ContainerArguments."""
    if not job.entrypoint:
        raise StepError(
            f"image {job.image} without a ContainerEntrypoint would run the image's own program, "
            "which the local runner cannot; give the step an explicit command"
        )
    program = job.entrypoint[0].rsplit("/", 1)[-1]
    if program not in SCRIPT_PROGRAMS:
        raise StepError(
            f"image {job.image}: the local runner runs entrypoints of {sorted(SCRIPT_PROGRAMS)}, "
            f"not {job.entrypoint[0]!r}"
        )
    argv = [rewrite_container_paths(item, job.root) for item in [*job.entrypoint, *job.arguments]]
    env = {name: rewrite_container_paths(value, job.root) for name, value in job.environment.items()}
    return Command(argv, job.root, env)


def _script_mode_command(job: TrainingJob) -> Command:
    """The SageMaker training toolkit's script mode: ``python3 <program> --name value ...`` with the SM_* variables."""
    ml = job.root / "opt" / "ml"
    cli: list[str] = []
    for name in sorted(job.hyperparameters):
        value = job.hyperparameters[name]
        cli += [f"--{name}", value if isinstance(value, str) else json.dumps(value)]
    env = {
        "SM_MODEL_DIR": str(ml / "model"),
        "SM_OUTPUT_DATA_DIR": str(ml / "output" / "data"),
        "SM_OUTPUT_DIR": str(ml / "output"),
        "SM_INPUT_DIR": str(ml / "input"),
        "SM_INPUT_DATA_CONFIG": json.dumps({channel: {} for channel in job.channels}),
        "SM_CHANNELS": json.dumps(sorted(job.channels)),
        "SM_HPS": json.dumps(job.hyperparameters, sort_keys=True),
        "SM_USER_ENTRY_POINT": job.program,
        "SM_MODULE_DIR": str(ml / "code"),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        **{f"SM_CHANNEL_{channel.upper()}": str(ml / "input" / "data" / channel) for channel in job.channels},
        **{f"SM_HP_{name.upper()}": _hp_text(value) for name, value in job.hyperparameters.items()},
        **{name: rewrite_container_paths(value, job.root) for name, value in job.environment.items()},
    }
    return Command(["python3", job.program, *cli], ml / "code", env)


def _hp_text(value: Json) -> str:
    return value if isinstance(value, str) else json.dumps(value)


#: The images the runner can stand in for, by ECR repository name.
IMAGE_EMULATORS: dict[str, ImageEmulator] = {
    "sagemaker-xgboost": ImageEmulator(
        "XGBoost framework image: explicit processing commands and script-mode training, run with this interpreter",
        processing=_entrypoint_command,
        training=_script_mode_command,
    ),
}


def _emulator(image: str, use: Literal["processing", "training"]) -> ImageEmulator:
    emulator = IMAGE_EMULATORS.get(image_repository(image))
    if emulator is None or getattr(emulator, use) is None:
        able = [name for name, each in IMAGE_EMULATORS.items() if getattr(each, use) is not None]
        raise StepError(
            f"cannot run image {image} locally for {use} "
            f"(the runner emulates {use} with the images of {', '.join(able)})"
        )
    return emulator


def _python_shim(bin_dir: Path) -> Path:
    """``python3``/``python`` that run this interpreter (a script, not a symlink: a symlink loses the virtualenv)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        shim.chmod(0o755)
    return bin_dir


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_command(command: Command, *, log: Path, bin_dir: Path, timeout: float | None) -> None:
    """Run ``command`` with this interpreter as ``python3``; stdout and stderr go to ``log``; failure -> StepError."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **command.env,
        "PATH": os.pathsep.join([str(bin_dir), command.env.get("PATH", os.environ.get("PATH", ""))]),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        out.write(f"$ cd {shlex.quote(str(command.cwd))} && {shlex.join(command.argv)}\n")
        out.flush()
        try:
            completed = subprocess.run(  # noqa: S603 - the definition's own container command, run as the container would
                command.argv,
                cwd=command.cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StepError(
                f"stopped after {timeout:g} s (StoppingCondition.MaxRuntimeInSeconds); last lines of {log}:\n"
                f"{log_tail(log)}"
            ) from None
        except OSError as exc:
            raise StepError(f"cannot start {command.argv[0]}: {exc}") from None
    if completed.returncode != 0:
        raise StepError(f"exited with status {completed.returncode}; last lines of {log}:\n{log_tail(log)}")


def _extract(archive: Path, destination: Path, what: str) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise StepError(f"{what} {archive} is not a readable .tar.gz archive: {exc}") from None


def _pack(folder: Path, archive: Path) -> None:
    """``folder``'s files as a gzip tar (names relative to the folder, sorted), like SageMaker's model.tar.gz."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)


# ---- results ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    name: str
    type: str
    status: str
    seconds: float
    message: str = ""
    log: Path | None = None

    def line(self) -> str:
        first = self.message.splitlines()[0] if self.message else ""
        return f"  {self.name:<22} {self.type:<14} {self.status:<10} {self.seconds:6.1f} s  {first}".rstrip()


@dataclass(frozen=True)
class GateDecision:
    """A condition step's outcome: every condition (an AND) and the branch that ran."""

    step: str
    outcome: bool
    branch: str
    conditions: tuple[ConditionOutcome, ...]


@dataclass(frozen=True)
class RegisteredPackage:
    group: str
    version: int
    status: str
    path: Path


@dataclass(frozen=True)
class RunResult:
    """What one execution did: status, failure reason, step records, gates, metrics, the registered package."""

    execution_id: str
    pipeline_name: str
    status: str
    failure_reason: str | None
    steps: tuple[StepRecord, ...]
    gates: tuple[GateDecision, ...]
    not_executed: tuple[str, ...]
    metrics: Json | None
    gate_messages: tuple[tuple[str, str], ...]  # (gate, message) of a property file named Gates, if any
    registered: RegisteredPackage | None
    properties: Mapping[str, dict[str, Json]]
    workspace: Path
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"step {name} did not run (ran: {[record.name for record in self.steps]})")

    def summary(self) -> str:
        lines = [
            f"Pipeline {self.pipeline_name}, execution {self.execution_id}: {self.status} in {self.seconds:.1f} s",
            *(record.line() for record in self.steps),
        ]
        if self.not_executed:
            lines.append(f"  not executed: {', '.join(self.not_executed)}")
        lines += [
            f"Gate {gate.step}: {gate.branch} ({'; '.join(c.text for c in gate.conditions)})" for gate in self.gates
        ]
        lines += [f"  {name}: {message}" for name, message in self.gate_messages]
        if self.metrics is not None:
            values = metric_values(self.metrics)
            lines.append("Evaluation: " + (", ".join(f"{k}={as_text(v)}" for k, v in values.items()) or "(no values)"))
        if self.registered is not None:
            package = self.registered
            lines.append(f"Registered {package.group} version {package.version} ({package.status}): {package.path}")
        if self.failure_reason:
            lines.append(f"Failure: {self.failure_reason}")
        lines.append(f"Workspace: {self.workspace} (step logs in {self.workspace / 'logs'})")
        return "\n".join(lines)


def gate_messages(gates: Json) -> tuple[tuple[str, str], ...]:
    """``{"gate": {"message": "..."}}`` (the Evaluate step's gates.json) -> ((gate, message), ...)."""
    if not isinstance(gates, dict):
        return ()
    return tuple(
        (name, entry["message"])
        for name, entry in gates.items()
        if isinstance(entry, dict) and isinstance(entry.get("message"), str)
    )


def metric_values(metrics: Json) -> dict[str, Json]:
    """``{"section": {"metric": {"value": v}}}`` (SageMaker's model-quality format) -> ``{"metric": v}``."""
    values: dict[str, Json] = {}
    if isinstance(metrics, dict):
        for section in metrics.values():
            if isinstance(section, dict):
                for name, metric in section.items():
                    if isinstance(metric, dict) and "value" in metric:
                        values[name] = metric["value"]
    return values


# ---- local model registry --------------------------------------------------------------------------------------

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

    def load(self, group: str, version: int) -> Json:
        return json.loads(self.path(group, version).read_text(encoding="utf-8"))

    def register(self, group: str, package: dict[str, Json]) -> tuple[int, Path]:
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


# ---- the execution ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepOutcome:
    properties: dict[str, Json]
    message: str = ""


@dataclass
class _Execution:
    execution_id: str
    pipeline_name: str
    workspace: Path
    s3: LocalS3
    registry: LocalModelRegistry
    scope: Scope
    bin_dir: Path
    gates: list[GateDecision] = field(default_factory=list)
    decisions: dict[str, str] = field(default_factory=dict)  # condition step -> the branch it chose
    registered: RegisteredPackage | None = None

    def step_root(self, step: str) -> Path:
        root = self.workspace / "steps" / step
        if root.exists():
            shutil.rmtree(root)
        (root / "opt" / "ml").mkdir(parents=True)
        return root

    def log(self, step: str) -> Path:
        return self.workspace / "logs" / f"{step}.log"

    def job_name(self, step: str) -> str:
        return re.sub(r"[^A-Za-z0-9-]", "-", f"pipelines-{self.execution_id}-{step}")[:63].rstrip("-")


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{kind}/{name}"


def _text(value: Json, where: str) -> str:
    if not isinstance(value, str):
        raise StepError(f"{where} must be a string, got {value!r}")
    return value


def _string_map(value: Json, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StepError(f"{where} must be an object, got {value!r}")
    return {str(name): _text(item, f"{where}.{name}") for name, item in value.items()}


def _timeout(arguments: dict[str, Json]) -> float | None:
    seconds: Json = (arguments.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    return float(seconds) if _is_number(seconds) else None


def _processing_input(run: _Execution, job: ProcessingJob, item: Json) -> None:
    name = item.get("InputName", "?") if isinstance(item, dict) else "?"
    source = item.get("S3Input") if isinstance(item, dict) else None
    if not isinstance(source, dict):
        raise StepError(f"ProcessingInput {name}: only S3Input inputs are supported, got {str(item)[:200]}")
    unsupported = {
        "S3DataType": (source.get("S3DataType", "S3Prefix"), "S3Prefix"),
        "S3InputMode": (source.get("S3InputMode", "File"), "File"),
        "S3CompressionType": (source.get("S3CompressionType", "None"), "None"),
    }
    for key, (value, supported) in unsupported.items():
        if value != supported:
            raise StepError(f"ProcessingInput {name}: {key} {value!r} is not supported locally (only {supported!r})")
    uri = _text(source.get("S3Uri"), f"ProcessingInput {name}.S3Uri")
    try:
        run.s3.download(uri, job.local(_text(source.get("LocalPath"), f"ProcessingInput {name}.LocalPath")))
    except S3Error as exc:
        raise StepError(f"ProcessingInput {name}: {exc}") from None


def _processing_outputs(arguments: dict[str, Json]) -> list[tuple[str, str, str]]:
    """(OutputName, S3Uri, LocalPath) of every ProcessingOutput."""
    outputs = []
    for item in (arguments.get("ProcessingOutputConfig") or {}).get("Outputs", []):
        name = _text(item.get("OutputName"), "ProcessingOutput.OutputName")
        target = item.get("S3Output")
        if not isinstance(target, dict):
            raise StepError(f"ProcessingOutput {name}: only S3Output outputs are supported, got {str(item)[:200]}")
        uri = _text(target.get("S3Uri"), f"ProcessingOutput {name}.S3Uri")
        outputs.append((name, uri, _text(target.get("LocalPath"), f"ProcessingOutput {name}.LocalPath")))
    return outputs


def _read_property_files(node: StepNode, run: _Execution, folders: Mapping[str, Path]) -> None:
    for item in node.body.get("PropertyFiles", []):
        name, output, file_path = item.get("PropertyFileName"), item.get("OutputName"), item.get("FilePath")
        if output not in folders:
            raise StepError(f"property file {name}: the step has no output {output!r} (outputs: {sorted(folders)})")
        path = folders[output] / _text(file_path, f"property file {name}.FilePath")
        if not path.is_file():
            raise StepError(f"property file {name}: the step did not write {file_path} in output {output!r} ({path})")
        try:
            run.scope.property_files[(node.name, name)] = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StepError(f"property file {name} ({path}) is not valid JSON: {exc}") from None


def _check_root(root: Path) -> None:
    if not _SAFE_ROOT.match(str(root)):
        raise StepError(
            f"the step folder {root} has characters a container command line cannot take unquoted; "
            "use a workspace path of letters, digits and ._+-/"
        )


def _run_processing(node: StepNode, run: _Execution) -> StepOutcome:
    arguments = resolve(node.arguments, run.scope)
    app = arguments.get("AppSpecification") or {}
    count = (arguments.get("ProcessingResources") or {}).get("ClusterConfig", {}).get("InstanceCount", 1)
    if count != 1:
        logger.warning("%s: InstanceCount %s: the local runner runs one instance", node.name, count)
    image = _text(app.get("ImageUri"), "AppSpecification.ImageUri")
    emulator = _emulator(image, "processing")
    root = run.step_root(node.name)
    _check_root(root)
    job = ProcessingJob(
        step=node.name,
        image=image,
        entrypoint=[_text(item, "ContainerEntrypoint[]") for item in app.get("ContainerEntrypoint") or []],
        arguments=[_text(item, "ContainerArguments[]") for item in app.get("ContainerArguments") or []],
        environment=_string_map(arguments.get("Environment"), "Environment"),
        root=root,
    )
    for item in arguments.get("ProcessingInputs") or []:
        _processing_input(run, job, item)
    outputs = _processing_outputs(arguments)
    folders = {name: job.local(local_path) for name, _, local_path in outputs}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    assert emulator.processing is not None  # noqa: S101 - checked by _emulator
    run_command(emulator.processing(job), log=run.log(node.name), bin_dir=run.bin_dir, timeout=_timeout(arguments))
    for name, uri, _ in outputs:
        run.s3.put_tree(folders[name], uri)
    _read_property_files(node, run, folders)
    job_name = run.job_name(node.name)
    properties = {
        **arguments,
        "ProcessingJobName": job_name,
        "ProcessingJobArn": _arn("processing-job", job_name),
        "ProcessingJobStatus": "Completed",
    }
    return StepOutcome(properties, f"image {image_repository(job.image)}")


_TOOLKIT_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory")


def _decode_hyperparameter(value: str) -> Json:
    """As the training toolkit reads a hyperparameter: its JSON value when it parses, else the text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _run_training(node: StepNode, run: _Execution) -> StepOutcome:
    arguments = resolve(node.arguments, run.scope)
    image = _text((arguments.get("AlgorithmSpecification") or {}).get("TrainingImage"), "TrainingImage")
    emulator = _emulator(image, "training")
    raw = _string_map(arguments.get("HyperParameters"), "HyperParameters")
    missing = [name for name in _TOOLKIT_HYPERPARAMETERS if name not in raw]
    if missing:
        raise StepError(f"image {image}: script mode needs the hyperparameters {missing} (it has {sorted(raw)})")
    root = run.step_root(node.name)
    _check_root(root)
    ml = root / "opt" / "ml"
    submit = raw["sagemaker_submit_directory"]
    _extract(run.s3.get(submit), ml / "code", "sagemaker_submit_directory")
    program = raw["sagemaker_program"]
    if not (ml / "code" / program).is_file():
        found = sorted(p.relative_to(ml / "code").as_posix() for p in (ml / "code").rglob("*.py"))
        raise StepError(f"sagemaker_program {program!r} is not in {submit} (its Python files: {found})")
    channels = []
    for item in arguments.get("InputDataConfig") or []:
        channel = _text(item.get("ChannelName"), "InputDataConfig.ChannelName")
        source = (item.get("DataSource") or {}).get("S3DataSource")
        if not isinstance(source, dict) or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise StepError(f"channel {channel}: only S3DataSource with S3DataType S3Prefix is supported, got {item}")
        try:
            run.s3.download(_text(source.get("S3Uri"), f"channel {channel}.S3Uri"), ml / "input" / "data" / channel)
        except S3Error as exc:
            raise StepError(f"channel {channel}: {exc}") from None
        channels.append(channel)
    for folder in ("model", "output/data"):
        (ml / folder).mkdir(parents=True, exist_ok=True)
    job = TrainingJob(
        step=node.name,
        image=image,
        program=program,
        hyperparameters={
            name: _decode_hyperparameter(value) for name, value in raw.items() if not name.startswith("sagemaker_")
        },
        channels=channels,
        environment=_string_map(arguments.get("Environment"), "Environment"),
        root=root,
    )
    assert emulator.training is not None  # noqa: S101 - checked by _emulator
    run_command(emulator.training(job), log=run.log(node.name), bin_dir=run.bin_dir, timeout=_timeout(arguments))
    job_name = run.job_name(node.name)
    output_path = _text((arguments.get("OutputDataConfig") or {}).get("S3OutputPath"), "OutputDataConfig.S3OutputPath")
    model_uri = f"{output_path.rstrip('/')}/{job_name}/output/model.tar.gz"
    archive = run.workspace / "archives" / node.name / "model.tar.gz"
    _pack(ml / "model", archive)
    run.s3.put_file(archive, model_uri)
    if any((ml / "output" / "data").iterdir()):
        _pack(ml / "output" / "data", archive.with_name("output.tar.gz"))
        run.s3.put_file(archive.with_name("output.tar.gz"), model_uri.replace("/model.tar.gz", "/output.tar.gz"))
    properties = {
        **arguments,
        "TrainingJobName": job_name,
        "TrainingJobArn": _arn("training-job", job_name),
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
    }
    return StepOutcome(properties, f"model {model_uri}")


def _run_condition(node: StepNode, run: _Execution) -> StepOutcome:
    conditions = node.arguments.get("Conditions", [])
    outcomes = tuple(evaluate_condition(condition, run.scope) for condition in conditions)
    outcome = all(item.outcome for item in outcomes)
    decision = GateDecision(node.name, outcome, "IfSteps" if outcome else "ElseSteps", outcomes)
    run.gates.append(decision)
    run.decisions[node.name] = decision.branch
    logger.info(
        "%s: %s -> %s", node.name, "; ".join(item.text for item in outcomes) or "(no conditions)", decision.branch
    )
    return StepOutcome({"Outcome": outcome}, f"{decision.branch}: {'; '.join(item.text for item in outcomes)}")


def _run_fail(node: StepNode, run: _Execution) -> StepOutcome:
    raise _PipelineFailed(as_text(resolve(node.arguments.get("ErrorMessage", ""), run.scope)))


def _with_reports(node: Json, s3: LocalS3, where: str) -> Json:
    """Each ``{"S3Uri": ...}`` in a metrics tree, with the object's local path and (JSON) content added."""
    if isinstance(node, list):
        return [_with_reports(item, s3, f"{where}[{index}]") for index, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out = {key: _with_reports(value, s3, f"{where}.{key}") for key, value in node.items()}
    if "S3Uri" in node:
        uri = _text(node["S3Uri"], f"{where}.S3Uri")
        try:
            path = s3.get(uri)
        except S3Error as exc:
            raise StepError(f"{where}: {exc}") from None
        out["LocalPath"] = str(path)
        if "json" in str(node.get("ContentType", "")) or path.suffix == ".json":
            try:
                out["Content"] = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise StepError(f"{where}: {uri} ({path}) is not valid JSON: {exc}") from None
    return out


def _run_register(node: StepNode, run: _Execution) -> StepOutcome:
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
        "CreationTime": _now(),
        "ModelPackageDescription": arguments.get("ModelPackageDescription", ""),
        "InferenceSpecification": specification,
        "ModelMetrics": _with_reports(arguments.get("ModelMetrics", {}), run.s3, "ModelMetrics"),
        "DriftCheckBaselines": _with_reports(arguments.get("DriftCheckBaselines", {}), run.s3, "DriftCheckBaselines"),
        "CustomerMetadataProperties": _string_map(
            arguments.get("CustomerMetadataProperties"), "CustomerMetadataProperties"
        ),
        "PipelineExecutionId": run.execution_id,
        "PipelineExecutionArn": run.scope.execution["PipelineExecutionArn"],
        "PipelineName": run.pipeline_name,
        "Step": node.name,
    }
    version, path = run.registry.register(group, package)
    run.registered = RegisteredPackage(group, version, status, path)
    properties = {"ModelPackageArn": _arn("model-package", f"{group}/{version}"), "ModelPackageVersion": version}
    return StepOutcome(properties, f"{group} version {version} ({status})")


EXECUTORS: dict[str, Callable[[StepNode, _Execution], StepOutcome]] = {
    "Processing": _run_processing,
    "Training": _run_training,
    "Condition": _run_condition,
    "Fail": _run_fail,
    "RegisterModel": _run_register,
}


def new_execution_id() -> str:
    """A sortable, unique execution id: UTC time and random hex (lowercase, S3- and job-name-safe)."""
    return f"{datetime.now(UTC).strftime('%Y%m%dt%H%M%S')}-{secrets.token_hex(3)}"


def _should_run(node: StepNode, decisions: Mapping[str, str], executed: Mapping[str, object]) -> bool:
    """A step runs when its branch was chosen and every step it waits for ran."""
    if node.parent is not None and decisions.get(node.parent) != node.branch:
        return False
    return all(name in executed for name in node.depends_on)


def _execute_step(node: StepNode, run: _Execution) -> tuple[StepRecord, str | None]:
    """Run one step: its record, and the reason the run fails when the step ends it."""
    started = time.monotonic()
    log = run.log(node.name) if node.type in {"Processing", "Training"} else None

    def record(status: str, message: str) -> StepRecord:
        return StepRecord(node.name, node.type, status, time.monotonic() - started, message, log)

    try:
        outcome = EXECUTORS[node.type](node, run)
    except _PipelineFailed as failed:
        return record(FAILED, failed.message), failed.message
    except (StepError, OSError) as exc:
        return record(FAILED, str(exc)), f"step {node.name} ({node.type}) failed: {exc}"
    run.scope.steps[node.name] = outcome.properties
    return record(SUCCEEDED, outcome.message), None


def run_pipeline(
    definition: Mapping[str, Json],
    *,
    parameters: Mapping[str, str],
    s3: LocalS3,
    workspace: Path,
    execution_id: str | None = None,
    registry: Path | None = None,
    pipeline_name: str = DEFAULT_PIPELINE_NAME,
) -> RunResult:
    """Execute ``definition`` here: one run, in ``workspace`` (step folders, ``logs/<step>.log``).

    ``parameters`` override the definition's defaults (type-checked); ``registry`` (default
    ``<workspace>/registry``) is the local model registry's folder. Raises :class:`ParameterError` and
    :class:`DefinitionError` before anything runs; a step that fails or a Fail step ends the run ``Failed``.
    """
    values = resolve_parameters(definition.get("Parameters", []), parameters)
    order = plan(definition, values)
    execution_id = execution_id or new_execution_id()
    workspace = workspace.resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    execution = {
        "PipelineExecutionId": execution_id,
        "PipelineExecutionArn": _arn("pipeline", f"{pipeline_name}/execution/{execution_id}"),
        "PipelineName": pipeline_name,
        "StartDateTime": _now(),
    }
    run = _Execution(
        execution_id=execution_id,
        pipeline_name=pipeline_name,
        workspace=workspace,
        s3=s3,
        registry=LocalModelRegistry((registry or workspace / "registry").resolve()),
        scope=Scope(parameters=values, execution=execution, s3=s3),
        bin_dir=_python_shim(workspace / "bin"),
    )
    logger.info("pipeline %s: execution %s in %s", pipeline_name, execution_id, workspace)
    if any((node.body.get("CacheConfig") or {}).get("Enabled") for node in order):
        logger.info("step caching is not emulated: CacheConfig is ignored and every step runs")
    started = time.monotonic()
    records: list[StepRecord] = []
    not_executed: list[str] = []
    reason: str | None = None
    for position, node in enumerate(order):
        if not _should_run(node, run.decisions, run.scope.steps):
            not_executed.append(node.name)
            continue
        logger.info("%s (%s): started", node.name, node.type)
        record, reason = _execute_step(node, run)
        records.append(record)
        logger.info("%s (%s): %s in %.1f s", record.name, record.type, record.status, record.seconds)
        if reason is not None:
            logger.error("pipeline %s failed: %s", pipeline_name, reason)
            not_executed += [other.name for other in order[position + 1 :]]
            break
    metrics = next((data for (_, name), data in run.scope.property_files.items() if name == "Evaluation"), None)
    gate_file = next((data for (_, name), data in run.scope.property_files.items() if name == "Gates"), None)
    return RunResult(
        execution_id=execution_id,
        pipeline_name=pipeline_name,
        status=SUCCEEDED if reason is None else FAILED,
        failure_reason=reason,
        steps=tuple(records),
        gates=tuple(run.gates),
        not_executed=tuple(not_executed),
        metrics=metrics,
        gate_messages=gate_messages(gate_file),
        registered=run.registered,
        properties=dict(run.scope.steps),
        workspace=workspace,
        seconds=time.monotonic() - started,
    )


# ---- command line ----------------------------------------------------------------------------------------------


class UsageError(LocalRunnerError):
    """A bad command line (exit status 2)."""


def _assignments(items: Sequence[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{option} {item!r}: expected NAME=VALUE")
        pairs.append((name, value))
    return pairs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_pipeline.runner",
        description="Run the SageMaker Pipeline definition locally (no Docker, no AWS). Exit status: 0 succeeded, "
        "1 the pipeline failed (a Fail step or a failing step), 2 bad usage or a definition the runner cannot run.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--definition", type=Path, help="a pipeline definition JSON file (instead of --cdk-out)")
    source.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), help="synthesized cloud assembly (default: cdk.out)"
    )
    parser.add_argument("--stage", default="dev", help="stage of the assembly whose pipeline runs (default: dev)")
    parser.add_argument("--pipeline-name", help="Execution.PipelineName (default: from the assembly, or the file name)")
    parser.add_argument(
        "--workspace",
        type=Path,
        default=Path(".local-pipeline"),
        help="runs go to WORKSPACE/executions/<id>; the local S3 (WORKSPACE/s3) and model registry "
        "(WORKSPACE/registry) are shared by the runs (default: .local-pipeline)",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="override a pipeline parameter"
    )
    parser.add_argument(
        "--s3-object",
        action="append",
        default=[],
        metavar="S3URI=PATH",
        help="serve the S3 object S3URI from the file PATH",
    )
    parser.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="S3URI=PATH",
        help="copy a local file or folder into the local S3",
    )
    parser.add_argument("--input", type=Path, help="use this local file or folder as the InputDataUri parameter")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    return parser


def _load(args: argparse.Namespace) -> tuple[dict[str, Json], str, dict[str, Path]]:
    if args.definition is not None:
        try:
            definition = json.loads(args.definition.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"--definition {args.definition}: {exc}") from None
        if not isinstance(definition, dict):
            raise UsageError(f"--definition {args.definition}: not a pipeline definition (a JSON object)")
        return definition, args.pipeline_name or args.definition.stem, {}
    from local_pipeline.assembly import AssemblyError, load_definition

    try:
        loaded = load_definition(args.cdk_out, args.stage)
    except AssemblyError as exc:
        raise UsageError(str(exc)) from None
    return loaded.definition, args.pipeline_name or loaded.pipeline_name, dict(loaded.s3_objects)


INPUT_BUCKET = "local-input"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or an argparse usage error (2, message already on stderr)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        definition, pipeline_name, objects = _load(args)
        workspace: Path = args.workspace.resolve()
        s3 = LocalS3(workspace / "s3", objects)
        for uri, path in _assignments(args.s3_object, "--s3-object"):
            if not Path(path).is_file():
                raise UsageError(f"--s3-object {uri}: {path} is not a file")
            split_s3_uri(uri)
            s3.objects[uri] = Path(path).resolve()
        for uri, path in _assignments(args.seed, "--seed"):
            s3.seed(uri, Path(path))
        overrides = dict(_assignments(args.param, "--param"))
        execution_id = new_execution_id()
        if args.input is not None:
            if "InputDataUri" in overrides:
                raise UsageError("--input sets InputDataUri: give either --input or --param InputDataUri=...")
            overrides["InputDataUri"] = s3.map_objects(f"s3://{INPUT_BUCKET}/{execution_id}/", args.input.resolve())
        result = run_pipeline(
            definition,
            parameters=overrides,
            s3=s3,
            workspace=workspace / "executions" / execution_id,
            execution_id=execution_id,
            registry=workspace / "registry",
            pipeline_name=pipeline_name,
        )
    except (UsageError, DefinitionError, ParameterError, S3Error) as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 2
    sys.stdout.write(result.summary() + "\n")
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())

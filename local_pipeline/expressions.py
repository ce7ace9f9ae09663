"""The definition's expressions: ``Get`` (parameters, execution variables, step properties and property files),
``Std:Join`` and ``Std:JsonGet``, with the property and JSON paths they follow.

What an expression can read is a :class:`Scope`: the parameter values, the execution variables and what the steps
that ran so far produced. The same parsers serve :mod:`local_pipeline.plan`, which checks every reference before
anything runs, so that a run does not fail late on a typo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from local_pipeline.errors import ExpressionError
from local_pipeline.s3 import LocalS3

#: A JSON value of the definition (object, array, string, number, boolean or null).
Json = Any

EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "StartDateTime",
    "CurrentDateTime",
)


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
STEP_REFERENCE = re.compile(r"^Steps\.(?P<step>[A-Za-z0-9_-]+)(?P<path>.*)$")


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
                return now()
            if name not in self.execution:
                raise ExpressionError(f"Get {reference}: unknown execution variable (known: {EXECUTION_VARIABLES})")
            return self.execution[name]
        match = STEP_REFERENCE.match(reference)
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


def now() -> str:
    """``Execution.CurrentDateTime`` (and the creation time of a registered package): UTC, to the second."""
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


def is_number(value: Json) -> bool:
    """A JSON number (booleans are not numbers here, though Python says they are)."""
    return isinstance(value, int | float) and not isinstance(value, bool)

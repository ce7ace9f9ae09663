"""Pipeline parameters: the declared ones with their defaults, and ``--param NAME=VALUE`` overrides checked against
their declared ``Type`` (String, Integer, Float, Boolean) and ``EnumValues`` before anything runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence

from local_pipeline.errors import DefinitionError, ParameterError
from local_pipeline.expressions import Json


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

"""The XGBoost hyperparameters as the training step receives them: a table shipped in the code bundle.

Each hyperparameter is defined once, in the config schema (``config.model_build.HyperparameterDefaults``: type,
default, bounds, description). The step code cannot import config (pydantic is not in the XGBoost image, and the
bundle holds the step code only), so at synth the definition package derives this table from that model's JSON schema
and the bundle carries it as ``hyperparameters.json`` (:data:`sagemaker_code.steps.contract.HYPERPARAMETER_TABLE`).
The pipeline definition makes every row a pipeline parameter; the training step builds its ``--<name>`` arguments,
their defaults and their bound checks from the rows. A hyperparameter added to the config model therefore reaches the
pipeline, the training arguments and XGBoost without another edit.

The table: ``{"hyperparameters": [{"name", "type" ("integer" or "number"), "default", "description"`` and any of the
JSON Schema bounds ``"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}, ...]}``, in the config model's
field order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sagemaker_code.steps.common import StepError, read_json

#: Hyperparameters that drive the boosting loop (``xgb.train``'s arguments) rather than the booster; the training
#: step needs both, every other row is passed to XGBoost as a booster parameter.
NUM_ROUND = "num_round"
EARLY_STOPPING_ROUNDS = "early_stopping_rounds"
LOOP_HYPERPARAMETERS = (NUM_ROUND, EARLY_STOPPING_ROUNDS)
#: The booster parameters the step fixes (not hyperparameters): the objective and the metrics it logs and stops on.
FIXED_PARAMS: dict[str, object] = {
    "objective": "binary:logistic",
    # the last metric drives early stopping: log loss, which keeps improving while the (rank-only) AUC of a small
    # validation split is flat and noisy, and so stops at a model with calibrated probabilities
    "eval_metric": ["auc", "logloss"],
    "tree_method": "hist",
}

TYPES: dict[str, type[int] | type[float]] = {"integer": int, "number": float}
#: JSON Schema's bound keywords -> (field of :class:`Hyperparameter`).
BOUNDS = {
    "minimum": "minimum",
    "exclusiveMinimum": "exclusive_minimum",
    "maximum": "maximum",
    "exclusiveMaximum": "exclusive_maximum",
}
REQUIRED_KEYS = ("name", "type", "default", "description")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

Value = int | float


class HyperparameterTableError(StepError):
    """The hyperparameter table is malformed; the message names the file, the row and the problem."""


def _text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() and abs(number) < 1e15 else repr(float(number))


@dataclass(frozen=True)
class Hyperparameter:
    """One row of the table."""

    name: str
    #: JSON Schema's type: "integer" or "number"
    json_type: str
    default: Value
    description: str
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None

    @property
    def kind(self) -> type[int] | type[float]:
        return TYPES[self.json_type]

    def range_text(self) -> str:
        """``in (0, 1]``, ``at least 1``, ... (empty when unbounded)."""
        low = self.minimum if self.minimum is not None else self.exclusive_minimum
        high = self.maximum if self.maximum is not None else self.exclusive_maximum
        if low is not None and high is not None:
            opening = "[" if self.minimum is not None else "("
            closing = "]" if self.maximum is not None else ")"
            return f"in {opening}{_text(low)}, {_text(high)}{closing}"
        if low is not None:
            return f"at least {_text(low)}" if self.minimum is not None else f"greater than {_text(low)}"
        if high is not None:
            return f"at most {_text(high)}" if self.maximum is not None else f"less than {_text(high)}"
        return ""

    def problem(self, value: Value) -> str | None:
        """Why ``value`` is out of bounds, as the user reads it (``--eta must be in (0, 1], got 1.5``)."""
        ok = math.isfinite(value) and all(
            (
                self.minimum is None or value >= self.minimum,
                self.exclusive_minimum is None or value > self.exclusive_minimum,
                self.maximum is None or value <= self.maximum,
                self.exclusive_maximum is None or value < self.exclusive_maximum,
            )
        )
        if ok:
            return None
        return f"--{self.name} must be {self.range_text() or 'a finite number'}, got {value}"

    def to_json(self) -> dict[str, object]:
        row: dict[str, object] = {
            "name": self.name,
            "type": self.json_type,
            "default": self.default,
            "description": self.description,
        }
        for key, field in BOUNDS.items():
            bound = getattr(self, field)
            if bound is not None:
                row[key] = bound
        return row


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _row(raw: object, where: str) -> Hyperparameter:
    if not isinstance(raw, dict):
        raise HyperparameterTableError(f"{where} must be an object, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise HyperparameterTableError(f"{where}: name must be a lower-case identifier, got {name!r}")
    where = f"{where} ({name})"
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    unknown = sorted(set(raw) - set(REQUIRED_KEYS) - set(BOUNDS))
    if missing or unknown:
        problems = [f"missing keys {missing}"] if missing else []
        problems += [f"unknown keys {unknown} (known: {[*REQUIRED_KEYS, *BOUNDS]})"] if unknown else []
        raise HyperparameterTableError(f"{where}: {'; '.join(problems)}")
    kind, default, description = raw["type"], raw["default"], raw["description"]
    if kind not in TYPES:
        raise HyperparameterTableError(f"{where}: type must be one of {sorted(TYPES)}, got {kind!r}")
    if not isinstance(description, str):
        raise HyperparameterTableError(f"{where}: description must be text, got {description!r}")
    bounds = {}
    for key, field in BOUNDS.items():
        if key in raw:
            if not _number(raw[key]):
                raise HyperparameterTableError(f"{where}: {key} must be a number, got {raw[key]!r}")
            bounds[field] = raw[key]
    if not _number(default) or (kind == "integer" and not float(default).is_integer()):
        wanted = "a whole number" if kind == "integer" else "a number"
        raise HyperparameterTableError(f"{where}: default must be {wanted}, got {default!r}")
    row = Hyperparameter(name, kind, TYPES[kind](default), description, **bounds)
    problem = row.problem(row.default)
    if problem is not None:
        raise HyperparameterTableError(f"{where}: the default is out of bounds: {problem}")
    return row


def parse_table(data: object, source: str) -> tuple[Hyperparameter, ...]:
    """The rows of a table read from ``source`` (named in every error)."""
    rows = data.get("hyperparameters") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise HyperparameterTableError(f'{source}: expected {{"hyperparameters": [a row per hyperparameter]}}')
    table = tuple(_row(raw, f"{source}: hyperparameters[{index}]") for index, raw in enumerate(rows))
    names = [row.name for row in table]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise HyperparameterTableError(f"{source}: hyperparameters named more than once: {duplicates}")
    for name in LOOP_HYPERPARAMETERS:
        row = next((row for row in table if row.name == name), None)
        if row is None or row.json_type != "integer":
            raise HyperparameterTableError(f"{source}: the training step needs the integer hyperparameter {name!r}")
    return table


def load_table(path: Path) -> tuple[Hyperparameter, ...]:
    return parse_table(read_json(path, "hyperparameter table"), str(path))


def table_json(table: Sequence[Hyperparameter]) -> dict[str, object]:
    """The file's content (what :func:`parse_table` reads back)."""
    return {"hyperparameters": [row.to_json() for row in table]}


def defaults(table: Sequence[Hyperparameter]) -> dict[str, Value]:
    return {row.name: row.default for row in table}


def problems(table: Sequence[Hyperparameter], values: Mapping[str, Value]) -> list[str]:
    """Every value out of its bounds (one message each), in table order."""
    found = [row.problem(values[row.name]) for row in table]
    return [problem for problem in found if problem is not None]


def xgboost_params(values: Mapping[str, Value]) -> dict[str, object]:
    """XGBoost's booster parameters: the fixed ones and every hyperparameter but the loop's."""
    return {**FIXED_PARAMS, **{name: value for name, value in values.items() if name not in LOOP_HYPERPARAMETERS}}

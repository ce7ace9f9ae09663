"""The hyperparameter table the training step reads: malformed tables are refused with the row and the problem;
bounds read as the user writes them; XGBoost gets the booster parameters only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sagemaker_code.steps.hyperparameters import (
    FIXED_PARAMS,
    Hyperparameter,
    HyperparameterTableError,
    load_table,
    parse_table,
    problems,
    table_json,
    xgboost_params,
)

ROUNDS = {"name": "num_round", "type": "integer", "default": 10, "description": "Rounds.", "minimum": 1}
PATIENCE = {"name": "early_stopping_rounds", "type": "integer", "default": 3, "description": "Patience."}
ETA = {"name": "eta", "type": "number", "default": 0.1, "description": "Step.", "exclusiveMinimum": 0, "maximum": 1}


def table(*rows: object) -> dict[str, Any]:
    return {"hyperparameters": [ROUNDS, PATIENCE, *rows]}


def test_round_trip() -> None:
    rows = parse_table(table(ETA), "t")
    assert [row.name for row in rows] == ["num_round", "early_stopping_rounds", "eta"]
    assert parse_table(table_json(rows), "again") == rows
    assert table_json(rows) == table(ETA)  # bounds keep their JSON Schema names and their values


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([ROUNDS], r't: expected \{"hyperparameters": \[a row per hyperparameter\]\}'),
        ({"hyperparameters": []}, r"t: expected"),
        (table("eta"), r"t: hyperparameters\[2\] must be an object, got str"),
        (table({**ETA, "name": "Eta"}), r"hyperparameters\[2\]: name must be a lower-case identifier, got 'Eta'"),
        (table({**ETA, "max": 2}), r"hyperparameters\[2\] \(eta\): unknown keys \['max'\]"),
        (table({"name": "eta"}), r"\(eta\): missing keys \['type', 'default', 'description'\]"),
        (table({**ETA, "type": "float"}), r"\(eta\): type must be one of \['integer', 'number'\], got 'float'"),
        (table({**ETA, "default": "0.1"}), r"\(eta\): default must be a number, got '0.1'"),
        (table({**ETA, "default": True}), r"\(eta\): default must be a number, got True"),
        (table({**ROUNDS, "name": "depth", "default": 2.5}), r"\(depth\): default must be a whole number, got 2.5"),
        (table({**ETA, "maximum": "1"}), r"\(eta\): maximum must be a number, got '1'"),
        (table({**ETA, "default": 0}), r"\(eta\): the default is out of bounds: --eta must be in \(0, 1\], got 0"),
        (table({**ETA, "description": None}), r"\(eta\): description must be text, got None"),
        (table(ETA, ETA), r"t: hyperparameters named more than once: \['eta'\]"),
        ({"hyperparameters": [ROUNDS, ETA]}, r"t: the training step needs the integer hyperparameter 'early_stop"),
        (
            {"hyperparameters": [{**ROUNDS, "type": "number"}, PATIENCE]},
            r"t: the training step needs the integer hyperparameter 'num_round'",
        ),
    ],
)
def test_malformed_tables_are_refused_with_the_row(data: object, message: str) -> None:
    with pytest.raises(HyperparameterTableError, match=message):
        parse_table(data, "t")


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps(table({**ETA, "type": "text"})))
    with pytest.raises(HyperparameterTableError, match=rf"^{path}: hyperparameters\[2\] \(eta\): type must be"):
        load_table(path)


@pytest.mark.parametrize(
    ("bounds", "text", "bad"),
    [
        ({"minimum": 0, "maximum": 20}, "in [0, 20]", 21),
        ({"exclusiveMinimum": 0, "maximum": 1}, "in (0, 1]", 0),
        ({"minimum": 0, "exclusiveMaximum": 1}, "in [0, 1)", 1),
        ({"minimum": 0}, "at least 0", -1),
        ({"exclusiveMinimum": 0}, "greater than 0", 0),
        ({"maximum": 5}, "at most 5", 6),
        ({"exclusiveMaximum": 0.5}, "less than 0.5", 0.5),
        ({}, "", float("nan")),
    ],
)
def test_bounds_read_as_written(bounds: dict[str, float], text: str, bad: float) -> None:
    fields = {"minimum": "minimum", "exclusiveMinimum": "exclusive_minimum", "maximum": "maximum"}
    fields["exclusiveMaximum"] = "exclusive_maximum"
    row = Hyperparameter("eta", "number", 0.25, "Step.", **{fields[key]: value for key, value in bounds.items()})
    assert row.range_text() == text
    assert row.problem(0.25) is None
    assert row.problem(bad) == f"--eta must be {text or 'a finite number'}, got {bad}"


def test_problems_lists_every_value_out_of_bounds_in_table_order() -> None:
    rows = parse_table(table(ETA), "t")
    assert problems(rows, {"num_round": 0, "early_stopping_rounds": 3, "eta": 2}) == [
        "--num_round must be at least 1, got 0",
        "--eta must be in (0, 1], got 2",
    ]


def test_xgboost_gets_the_fixed_and_booster_parameters_not_the_loops() -> None:
    params = xgboost_params({"num_round": 10, "early_stopping_rounds": 3, "eta": 0.3, "seed": 7})
    assert params == {**FIXED_PARAMS, "eta": 0.3, "seed": 7}

"""Parameters: defaults, typed overrides, and errors that name the parameter."""

from __future__ import annotations

import pytest

from local_pipeline.errors import ParameterError
from local_pipeline.parameters import resolve_parameters
from tests.local_pipeline.definitions import DATA_URI, PARAMETERS


def test_parameters_take_defaults_and_typed_overrides() -> None:
    assert resolve_parameters(PARAMETERS, {}) == {
        "InputDataUri": DATA_URI,
        "Threshold": 0.5,
        "ApprovalStatus": "PendingManualApproval",
        "Rounds": 3,
        "Strict": False,
    }
    values = resolve_parameters(
        PARAMETERS, {"Threshold": "0.9", "Rounds": " 7", "Strict": "TRUE", "InputDataUri": "s3://x/"}
    )
    assert (values["Threshold"], values["Rounds"], values["Strict"], values["InputDataUri"]) == (
        0.9,
        7,
        True,
        "s3://x/",
    )
    assert isinstance(values["Rounds"], int)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Rounds", "2.5", "parameter Rounds is Integer: expected an integer, got '2.5'"),
        ("Threshold", "high", "parameter Threshold is Float: expected a number, got 'high'"),
        ("Threshold", "nan", "parameter Threshold is Float"),
        ("Strict", "yes", "parameter Strict is Boolean: expected true or false, got 'yes'"),
    ],
)
def test_badly_typed_overrides_name_the_parameter(name: str, value: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(PARAMETERS, {name: value})


def test_unknown_parameter_lists_the_declared_ones() -> None:
    with pytest.raises(ParameterError, match="unknown parameter Treshold; the definition declares: ApprovalStatus, "):
        resolve_parameters(PARAMETERS, {"Treshold": "1"})


def test_parameter_without_default_needs_a_value_and_enums_are_checked() -> None:
    declared = [{"Name": "Mode", "Type": "String", "EnumValues": ["a", "b"]}]
    with pytest.raises(ParameterError, match="Mode has no default"):
        resolve_parameters(declared, {})
    with pytest.raises(ParameterError, match=r"Mode must be one of \['a', 'b'\]"):
        resolve_parameters(declared, {"Mode": "c"})
    assert resolve_parameters(declared, {"Mode": "b"}) == {"Mode": "b"}

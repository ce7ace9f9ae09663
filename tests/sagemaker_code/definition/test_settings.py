"""The definition's settings come from config (never the reverse), and each hyperparameter is defined once: in the
config schema, from which the training step's table is derived."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel, Field, ValidationError

from config.loader import DEFAULT_CONFIG_PATH, load_config, load_dataset_spec
from config.model_build import HyperparameterDefaults
from config.naming import model_build_pipeline_name, model_package_group_name
from sagemaker_code.definition.settings import Sentinels, hyperparameter_table, pipeline_settings
from sagemaker_code.steps.hyperparameters import HyperparameterTableError, defaults
from tests.conftest import REPO_ROOT


def test_config_does_not_import_the_definition_or_the_step_code() -> None:
    """config/ is schema only: loading it (what every tool does first) pulls in no sagemaker_code module."""
    script = (
        "import sys, config.loader, config.model, config.model_build, config.naming, config.reference; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'sagemaker_code'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_the_adapter_names_things_as_config_naming_does() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    spec = load_dataset_spec(config, DEFAULT_CONFIG_PATH)
    for env_name, environment in config.environments.items():
        settings = pipeline_settings(config, env_name, spec)
        assert settings.pipeline_name == model_build_pipeline_name(config.project.name, env_name)
        assert settings.model_package_group_name == model_package_group_name(config.project.name, env_name, spec.name)
        assert settings.dataset_name == spec.name
        assert settings.training_instance_count == config.model_build.training_instance_count
        assert settings.bias_mitigation == config.model_build.bias_mitigation
        assert settings.region == environment.region
        assert settings.hyperparameters == config.model_build.hyperparameters
        assert settings.facets == tuple(facet.name for facet in spec.facets)
        assert settings.default_input_uri == Sentinels().sample_data_uri  # the shipped config uses the sample


def test_one_package_group_per_model() -> None:
    """The group is named after model_build.model_name, by default the dataset spec's name: two datasets never
    register into one group."""
    config = load_config(DEFAULT_CONFIG_PATH)
    spec = load_dataset_spec(config, DEFAULT_CONFIG_PATH)
    other_spec = spec.model_copy(update={"name": "adult-income"})
    assert pipeline_settings(config, "dev", spec).model_package_group_name == "mlops-dev-german-credit"
    assert pipeline_settings(config, "dev", other_spec).model_package_group_name == "mlops-dev-adult-income"
    named = config.model_copy(
        update={"model_build": config.model_build.model_copy(update={"model_name": "credit-risk"})}
    )
    assert pipeline_settings(named, "dev", other_spec).model_package_group_name == "mlops-dev-credit-risk"
    assert pipeline_settings(named, "dev", other_spec).dataset_name == "adult-income"  # recorded as it is


def test_a_default_model_name_too_long_for_a_group_name_is_named() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    spec = load_dataset_spec(config, DEFAULT_CONFIG_PATH).model_copy(update={"name": "d" * 60})
    with pytest.raises(
        ValueError,
        match=r"model_build.model_name \(default: the dataset spec's name 'd{60}'\): the "
        r"model package group name 'mlops-dev-d{60}' would be 70 characters, SageMaker allows 63",
    ):
        pipeline_settings(config, "dev", spec)


def test_the_table_is_the_config_models_fields_with_their_defaults() -> None:
    table = hyperparameter_table()
    assert [row.name for row in table] == list(HyperparameterDefaults.model_fields)
    assert defaults(table) == HyperparameterDefaults().model_dump()
    for row in table:
        assert row.description == HyperparameterDefaults.model_fields[row.name].description
        assert row.kind is HyperparameterDefaults.model_fields[row.name].annotation
    assert "seed" in defaults(table)


def probes(bound: float) -> list[float]:
    return [bound - 1, bound - 1e-9, bound, bound + 1e-9, bound + 1]


def test_the_tables_bounds_are_the_config_models() -> None:
    """For values at and around every bound, the training step's check refuses exactly what config refuses."""
    for row in hyperparameter_table():
        bounds = [b for b in (row.minimum, row.exclusive_minimum, row.maximum, row.exclusive_maximum) if b is not None]
        assert bounds, row.name
        for value in [probe for bound in bounds for probe in probes(bound)]:
            candidate = row.kind(value) if row.kind is float or float(value).is_integer() else None
            if candidate is None:
                continue
            try:
                HyperparameterDefaults.model_validate({row.name: candidate})
                accepted = True
            except ValidationError:
                accepted = False
            assert accepted == (row.problem(candidate) is None), (row.name, candidate)


class Undocumented(BaseModel):
    num_round: int = Field(default=3, ge=1, description="Rounds.")
    early_stopping_rounds: int = Field(default=3, ge=1, description="Patience.")
    depth: int = 4


class Texty(BaseModel):
    num_round: int = Field(default=3, ge=1, description="Rounds.")
    early_stopping_rounds: int = Field(default=3, ge=1, description="Patience.")
    booster: str = Field(default="gbtree", description="Booster.")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (Undocumented, r"Undocumented: hyperparameters\[2\] \(depth\): missing keys \['description'\]"),
        (Texty, r"Texty: hyperparameters\[2\] \(booster\): type must be one of \['integer', 'number'\], got 'string'"),
    ],
)
def test_a_config_field_the_training_step_cannot_take_fails_at_synth(model: type[BaseModel], message: str) -> None:
    with pytest.raises(HyperparameterTableError, match=message):
        hyperparameter_table(model)

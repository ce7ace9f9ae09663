"""model_build settings: instance types known to botocore, finite numbers, the model's name and its package group,
bias mitigation, instance counts; every problem named by key through the loader."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import DEFAULT_CONFIG_PATH, ConfigError, load_config, read_yaml
from config.model_build import ModelBuildSettings, instance_type_problem, sagemaker_enum
from config.naming import (
    MAX_MODEL_PACKAGE_GROUP_NAME,
    MODEL_PACKAGE_GROUP_NAME_RE,
    model_package_group_name,
    model_package_group_problem,
)


def problems_of(tmp_path: Path, **model_build: Any) -> list[str]:
    """The loader's messages for the shipped config with ``model_build`` keys replaced."""
    data = read_yaml(DEFAULT_CONFIG_PATH)
    data["model_build"].update(model_build)
    data["model_build"]["dataset_spec"] = str(
        (DEFAULT_CONFIG_PATH.parent / data["model_build"]["dataset_spec"]).resolve()
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load_config(path)
    except ConfigError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("processing_instance_type", "ml.m5.larg", "did you mean 'ml.m5.large'?"),
        ("training_instance_type", "ml.m5.xlarg", "did you mean 'ml.m5.xlarge'?"),
        ("training_instance_type", "m5.large", "must be a SageMaker instance type such as 'ml.m5.large'"),
        ("inference_instance_types", ["ml.m5.large", "ml.m5.larg"], "inference_instance_types[1]: must be a SageMaker"),
    ],
)
def test_an_instance_type_typo_is_caught_with_a_suggestion(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    (problem,) = problems_of(tmp_path, **{key: value})
    assert f"model_build.{key}" in problem
    assert message in problem


def test_instance_types_are_botocores_enums() -> None:
    assert "ml.m5.large" in sagemaker_enum("ProcessingInstanceType")
    assert instance_type_problem("ml.m5.large", "training") is None
    problem = instance_type_problem("ml.m5.larg", "processing")
    assert problem is not None
    assert "ProcessingInstanceType of botocore" in problem
    assert "upgrade boto3/botocore" in problem  # a type newer than the installed botocore
    # inference: real-time and batch transform must both allow it (the package lists it for both)
    real_time_only = sorted(
        set(sagemaker_enum("ProductionVariantInstanceType")) - set(sagemaker_enum("TransformInstanceType"))
    )
    assert real_time_only
    problem = instance_type_problem(real_time_only[0], "inference")
    assert problem is not None
    assert "TransformInstanceType" in problem


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("disparate_impact", {"upper": math.inf}, "model_build.disparate_impact.upper"),
        ("disparate_impact", {"lower": math.nan}, "model_build.disparate_impact.lower"),
        ("hyperparameters", {"min_child_weight": math.inf}, "model_build.hyperparameters.min_child_weight"),
        ("auc_threshold", math.nan, "model_build.auc_threshold"),
        ("cost_margin", -math.inf, "model_build.cost_margin"),
    ],
)
def test_infinity_and_nan_are_refused(tmp_path: Path, key: str, value: object, where: str) -> None:
    """`.inf` in YAML: the definition would not be JSON and Evaluate would compare with infinity."""
    problems = problems_of(tmp_path, **{key: value})
    assert any(problem.split(": ")[1] == where and "finite number" in problem for problem in problems), problems


def test_the_model_name_names_the_package_group() -> None:
    settings = ModelBuildSettings(dataset_spec="x.yaml")
    assert settings.model_name_for("german-credit") == "german-credit"
    assert ModelBuildSettings(dataset_spec="x.yaml", model_name="credit").model_name_for("german-credit") == "credit"
    assert model_package_group_name("mlops", "dev", "credit") == "mlops-dev-credit"


@pytest.mark.parametrize("name", ["A", "credit_", "-credit", "credit-", "c", "x" * 32, "crédit"])
def test_bad_model_names(tmp_path: Path, name: str) -> None:
    (problem,) = problems_of(tmp_path, model_name=name)
    assert problem.endswith(
        f"model_build.model_name: must be 2-31 lowercase letters, digits and '-', start with a "
        f"letter and not end with '-' (it names the model package group "
        f"<project>-<env>-<model_name>), got {name!r}"
    )


def test_the_longest_model_name_fits_every_project_and_environment() -> None:
    name = model_package_group_name("p" * 20, "e" * 10, "m" * 31)  # the longest of each that config allows
    assert len(name) == MAX_MODEL_PACKAGE_GROUP_NAME
    assert MODEL_PACKAGE_GROUP_NAME_RE.fullmatch(name)
    assert model_package_group_problem("p" * 20, "e" * 10, "m" * 31) is None


def test_a_long_default_model_name_is_named() -> None:
    """The default is the dataset spec's name (up to 64 characters), which may not fit."""
    assert model_package_group_problem("mlops", "staging", "m" * 49) is None
    too_long = model_package_group_problem("mlops", "staging", "m" * 50)
    assert too_long == (
        f"the model package group name 'mlops-staging-{'m' * 50}' would be 64 characters, SageMaker allows 63: set a "
        "shorter model_build.model_name (at most 49 characters here)"
    )


def test_bias_mitigation_is_none_or_reweighing(tmp_path: Path) -> None:
    assert ModelBuildSettings(dataset_spec="x.yaml").bias_mitigation == "none"
    assert ModelBuildSettings(dataset_spec="x.yaml", bias_mitigation="reweighing").bias_mitigation == "reweighing"
    (problem,) = problems_of(tmp_path, bias_mitigation="thresholds")
    assert "model_build.bias_mitigation" in problem
    assert "'none'" in problem
    assert "'reweighing'" in problem


def test_instance_counts(tmp_path: Path) -> None:
    assert problems_of(tmp_path, training_instance_count=4) == []
    (problem,) = problems_of(tmp_path, processing_instance_count=2)
    assert problem.endswith(
        "model_build.processing_instance_count: must be 1 for now, got 2: the pipeline shards Preprocess' input by S3 "
        "key, but the Preprocess step splits and fits the transform on all rows at once and cannot take a shard yet; "
        "scale Preprocess up (processing_instance_type) instead"
    )
    (problem,) = problems_of(tmp_path, training_instance_count=0)
    assert "model_build.training_instance_count" in problem

"""Reweighing (Kamiran & Calders): facet groups from the features, weights that make the label independent of the
groups, and the side-by-side summary of the served and the comparison model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sagemaker_code.steps.common import StepError, read_xgboost_csv
from sagemaker_code.steps.evaluate import facet_membership
from sagemaker_code.steps.mitigation import (
    ModelSummary,
    cell_counts,
    facet_bounds,
    facet_groups,
    reweighing_weights,
    weight_table,
)
from sagemaker_code.steps.preprocess import TEST_RAW_FILE, read_table
from sagemaker_code.steps.spec import CsvFormat, DatasetSpec, Facet
from sagemaker_code.steps.transform import Transform
from tests.step_fixtures import PipelineRun


def transform_of(run: PipelineRun) -> Transform:
    return Transform.from_json((run.data / "transform" / "transform.json").read_text(), threshold_required=False)


def test_groups_from_the_features_are_the_groups_of_the_raw_rows(sample_run: PipelineRun, spec: DatasetSpec) -> None:
    """What Train derives from test.csv's features is what Evaluate derives from the raw test rows."""
    _, features = read_xgboost_csv(sample_run.data / "test" / "test.csv", "test")
    groups = facet_groups(transform_of(sample_run), spec.facets, features)
    raw_format = CsvFormat(header=True, delimiter=",", missing_values=spec.format.missing_values)
    raw = read_table(sample_run.data / "test" / TEST_RAW_FILE, spec.column_names, raw_format).frame
    for index, facet in enumerate(spec.facets):
        expected = facet_membership(facet, raw[facet.column].tolist(), spec.format.missing_values).astype(bool)
        assert np.array_equal(groups[:, index], expected), facet.name
        assert 0 < groups[:, index].sum() < len(raw)


def test_a_facet_column_the_transform_does_not_know(sample_run: PipelineRun) -> None:
    facet = Facet("x", "no_such_column", None, None, 1.0)
    with pytest.raises(StepError, match="facet 'x': column 'no_such_column' is not a feature of the transform"):
        facet_groups(transform_of(sample_run), [facet], np.zeros((1, 61)))


def test_weighted_labels_are_independent_of_the_groups() -> None:
    rng = np.random.default_rng(1)
    groups = rng.random((2000, 2)) < [0.2, 0.4]
    # the favourable label is rarer in each disadvantaged group
    labels = (rng.random(2000) < 0.7 - 0.3 * groups[:, 0] - 0.1 * groups[:, 1]).astype(np.int64)
    weights = reweighing_weights(labels, groups)
    assert weights.dtype == np.float32
    assert weights.mean() == pytest.approx(1.0, rel=1e-5)
    overall = labels.mean()
    raw_rates = []
    for code in range(4):
        cell = (groups[:, 0] == bool(code & 1)) & (groups[:, 1] == bool(code & 2))
        raw_rates.append(labels[cell].mean())
        weighted_rate = np.sum(weights[cell] * labels[cell]) / np.sum(weights[cell])
        assert weighted_rate == pytest.approx(overall, rel=1e-5)  # independent of the group after weighting
    assert max(raw_rates) - min(raw_rates) > 0.3  # ... but not before
    up = weights[groups[:, 0] & (labels == 1)]
    assert np.all(up > 1)  # the disadvantaged group's favourable rows count more


def test_global_counts_weight_every_shard_alike() -> None:
    """Several training hosts weight their rows with the counts summed over all of them."""
    rng = np.random.default_rng(2)
    groups = rng.random((1000, 1)) < 0.3
    labels = (rng.random(1000) < 0.6).astype(np.int64)
    counts = cell_counts(labels[:400], groups[:400]) + cell_counts(labels[400:], groups[400:])
    whole = reweighing_weights(labels, groups)
    assert np.array_equal(reweighing_weights(labels[400:], groups[400:], counts), whole[400:])


def test_weight_table_for_the_training_report(spec: DatasetSpec) -> None:
    groups = np.array([[True, False], [True, False], [False, False], [False, False]])
    labels = np.array([1, 0, 1, 1])
    table = weight_table(cell_counts(labels, groups), spec.facets)
    assert {
        (json.dumps(row["disadvantaged"], sort_keys=True), row["label_positive"]): row["weight"] for row in table
    } == {
        ('{"age": false, "sex": false}', False): None,  # no such rows: no weight
        ('{"age": false, "sex": false}', True): pytest.approx(0.75),
        ('{"age": true, "sex": false}', False): pytest.approx(0.5),
        ('{"age": true, "sex": false}', True): pytest.approx(1.5),
    }


def test_facet_bounds_default_to_the_pipelines() -> None:
    plain = Facet("age", "age_years", None, None, 25.0)
    assert facet_bounds(plain, 0.8, 1.25) == (0.8, 1.25, False)


def test_a_summary_passes_only_with_every_facet_defined_and_within() -> None:
    facets = [Facet("age", "age_years", None, None, 25.0), Facet("sex", "sex", ("f",), None, None)]
    model = ModelSummary("none", True, 0.8, 0.5, 0.9, 0.3, disparate_impacts={"age": 0.85, "sex": 1.1})
    assert model.passes(facets, 0.8, 1.25)
    assert not model.passes(facets, 0.9, 1.25)
    assert not ModelSummary("none", True, 0.8, 0.5, 0.9, 0.3, disparate_impacts={"age": 0.85}).passes(
        facets, 0.8, 1.25
    )  # sex undefined
    assert model.text() == "DI age 0.850, sex 1.100, AUC 0.800, cost 0.500/row"

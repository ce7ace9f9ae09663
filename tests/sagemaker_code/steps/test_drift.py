"""Drift math: PSI on the baseline's bins, the KS and chi-square tests, Holm's adjustment, and known distributions
(no drift on samples of the baseline's own data; a shifted or re-weighted feature flags exactly that feature)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
from scipy import stats  # type: ignore[import-untyped]

from sagemaker_code.steps.baseline import data_quality_baseline
from sagemaker_code.steps.capture import Capture, Problems
from sagemaker_code.steps.drift import (
    EPSILON,
    CategoricalBaseline,
    NumericBaseline,
    chi_square_test,
    holm,
    ks_test,
    live_feature,
    psi,
    read_statistics,
)
from sagemaker_code.steps.monitor_report import Thresholds, data_quality
from sagemaker_code.steps.spec import DatasetSpec
from tests.sagemaker_code.steps.test_monitor_support import sample_rows, sample_statistics

THRESHOLDS = Thresholds(min_rows=100, psi=0.2, alpha=0.05, di_lower=0.8, di_upper=1.25)


def baseline_of(values: list[str], name: str = "x") -> NumericBaseline | CategoricalBaseline:
    statistics, _ = data_quality_baseline(pd.DataFrame({name: values}, dtype=object), (name,))
    return read_statistics(statistics)[name]


def numeric(values: list[str]) -> NumericBaseline:
    baseline = baseline_of(values)
    assert isinstance(baseline, NumericBaseline)
    return baseline


class TestPsi:
    def test_hand_computed(self) -> None:
        expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
        assert psi(np.array([50, 50]), np.array([80, 20])) == pytest.approx(expected)
        assert psi(np.array([50, 50]), np.array([80, 20])) == pytest.approx(0.415888, abs=1e-6)

    def test_same_shares_give_zero(self) -> None:
        assert psi(np.array([10, 30, 60]), np.array([100, 300, 600])) == pytest.approx(0.0)

    def test_an_empty_bin_is_floored_not_infinite(self) -> None:
        value = psi(np.array([100, 0]), np.array([50, 50]))
        expected = (0.5 - 1.0) * math.log(0.5) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
        assert value == pytest.approx(expected)
        assert math.isfinite(psi(np.array([0, 10]), np.array([10, 0])) or math.inf)

    def test_no_rows_is_undefined(self) -> None:
        assert psi(np.array([0, 0]), np.array([1, 2])) is None
        assert psi(np.array([1, 2]), np.array([0, 0])) is None


class TestNumericBins:
    def test_outer_bins_are_open_ended(self) -> None:
        baseline = numeric([str(v) for v in range(11)])  # edges 0, 1, ..., 10
        counts = baseline.bin_counts(np.array([-100.0, 0.0, 0.5, 1.0, 9.5, 10.0, 1e9]))
        assert counts.tolist() == [3, 1, 0, 0, 0, 0, 0, 0, 0, 3]
        assert baseline.counts.tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 2]  # np.histogram: the last bin holds the max

    def test_out_of_range_and_unparsable_cells_are_violations(self) -> None:
        baseline = numeric([str(v) for v in range(11)])
        cells = pd.Series(["5", "-1", "10", "11", "abc", "", None, " 3 "], dtype=object)
        live = live_feature(baseline, cells, ("?",))
        assert live.out_of_range.tolist() == [False, True, False, True, False, False, False, False]
        assert live.unparsable.tolist() == [False, False, False, False, True, False, False, False]
        assert live.missing.tolist() == [False, False, False, False, False, True, True, False]

    def test_a_constant_feature_has_below_equal_above_bins(self) -> None:
        baseline = numeric(["4"] * 20)
        assert baseline.bin_counts(np.array([3.0, 4.0, 4.0, 5.0])).tolist() == [1, 2, 1]
        assert psi(baseline.counts, baseline.bin_counts(np.array([4.0] * 10))) == pytest.approx(0.0)


class TestTests:
    def test_ks_matches_scipy_on_an_exact_sketch(self) -> None:
        rng = np.random.default_rng(3)
        train, live = rng.normal(size=700), rng.normal(0.2, 1, size=400)
        baseline = numeric([str(float(v)) for v in train])
        statistic, p_value = ks_test(baseline, live)
        reference = stats.ks_2samp(train, live, method="asymp")
        assert statistic == pytest.approx(reference.statistic)
        assert p_value == pytest.approx(reference.pvalue, rel=1e-6)

    def test_a_compacted_sketch_still_gives_the_cdf(self) -> None:
        values = np.random.default_rng(4).exponential(size=20_000)
        baseline = numeric([str(float(v)) for v in values])
        assert baseline.items.size < values.size  # the sketch was compacted: weighted items
        points = np.quantile(values, [0.1, 0.5, 0.9])
        assert baseline.cdf(points) == pytest.approx([0.1, 0.5, 0.9], abs=0.01)

    def test_chi_square_matches_scipy(self) -> None:
        base, live = np.array([300, 200, 100, 0]), np.array([120, 100, 80, 0])
        statistic, p_value = chi_square_test(base, live)
        reference = stats.chi2_contingency(np.vstack((base[:3], live[:3])), correction=False)
        assert statistic == pytest.approx(reference.statistic)
        assert p_value == pytest.approx(reference.pvalue)

    def test_rare_bins_are_pooled(self) -> None:
        # expected counts of the last two bins are about 4.5 and 3.5: pooled into one bin of 16 rows
        pooled = chi_square_test(np.array([500, 400, 4, 3]), np.array([480, 420, 5, 4]))
        reference = stats.chi2_contingency(np.array([[500, 400, 7], [480, 420, 9]]), correction=False)
        assert pooled == pytest.approx((reference.statistic, reference.pvalue))

    def test_a_pool_still_too_rare_joins_the_smallest_bin(self) -> None:
        # the pool of the last two bins (6 rows) still expects 2 in the live row: it joins the 600-row bin
        pooled = chi_square_test(np.array([500, 400, 2, 1]), np.array([250, 200, 3, 0]))
        reference = stats.chi2_contingency(np.array([[500, 403], [250, 203]]), correction=False)
        assert pooled == pytest.approx((reference.statistic, reference.pvalue))

    def test_holm_hand_computed(self) -> None:
        assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
        assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def window(rows: list[list[str]], spec: DatasetSpec) -> Capture:
    frame = pd.DataFrame([row[:20] for row in rows], columns=[c.name for c in spec.feature_columns], dtype=object)
    n = len(rows)
    return Capture(frame, np.full(n, 0.5), np.full(n, "1", dtype=object), np.full(n, None, dtype=object),
                   np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool), n, Problems())  # fmt: skip


def flagged(rows: list[list[str]], spec: DatasetSpec) -> set[str]:
    baselines = read_statistics(sample_statistics(spec))
    capture = window(rows, spec)
    features = [
        live_feature(baselines[c.id], capture.features[c.name], spec.format.missing_values)
        for c in spec.feature_columns
    ]
    report = data_quality(features, capture, THRESHOLDS)
    entries = report["features"]
    assert isinstance(entries, list)
    assert report["drifted_features"] == sum(entry["drifted"] for entry in entries)
    return {entry["feature"] for entry in entries if entry["drifted"]}


class TestKnownDistributions:
    """The baseline is the whole German Credit sample; live windows are 1,000 rows drawn from it."""

    def test_no_drift_flags_no_feature(self, spec: DatasetSpec) -> None:
        rows = sample_rows()
        for seed in range(5):
            picks = np.random.default_rng(seed).integers(len(rows), size=1000)
            assert flagged([rows[i] for i in picks], spec) == set(), seed

    def test_a_shifted_numeric_and_a_reweighted_categorical_flag_exactly_those(self, spec: DatasetSpec) -> None:
        rows = sample_rows()
        rng = np.random.default_rng(7)
        live = [list(rows[i]) for i in rng.integers(len(rows), size=1000)]
        # checking status re-drawn with other shares (independently of the rest of the row, so that only it moves)
        statuses = rng.choice(["A11", "A12", "A13", "A14"], size=len(live), p=[0.55, 0.2, 0.05, 0.2])
        for row, status in zip(live, statuses, strict=True):
            row[0] = str(status)
            row[4] = str(int(float(row[4]) * 1.5))  # credit amounts 50 % higher
        assert flagged(live, spec) == {"checking_status", "credit_amount"}


def test_malformed_statistics_name_the_feature() -> None:
    statistics = {"features": [{"name": "age", "numerical_statistics": {"common": {"num_present": 1}}}]}
    with pytest.raises(ValueError, match=r"features\[0\] \(age\)"):
        read_statistics(statistics)
    with pytest.raises(ValueError, match="neither"):
        read_statistics({"features": [{"name": "age"}]})

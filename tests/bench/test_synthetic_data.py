"""bench/synthetic_data.py: rows that follow the spec, resemble the sample, pass the preprocess step; seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from bench.synthetic_data import load_spec_file, main, make_dataset
from sagemaker_code.steps.preprocess import preprocess, read_table
from sagemaker_code.steps.spec import DatasetSpec
from tests.step_fixtures import SAMPLE, SPEC_YAML


@pytest.fixture(scope="module")
def sample(spec: DatasetSpec) -> pd.DataFrame:
    return read_table(SAMPLE, spec.column_names, spec.format).frame


def test_rows_follow_the_spec_and_resemble_the_sample(spec: DatasetSpec, sample: pd.DataFrame) -> None:
    frame = make_dataset(spec, sample, 4000, seed=1)
    assert list(frame.columns) == list(spec.column_names)
    assert len(frame) == 4000
    labels = frame["credit_risk"].to_numpy()
    assert abs(float(np.mean(labels == "1")) - 0.7) < 0.03  # the sample's class balance
    for column in spec.columns:
        values = frame[column.name].tolist()
        original = sample[column.name].tolist()
        if column.type == "categorical":
            assert set(values) <= set(original), column.name
        else:
            numbers = np.array([float(v) for v in values])
            known = np.array([float(v) for v in original])
            assert known.min() <= numbers.min(), column.name
            assert numbers.max() <= known.max(), column.name
            assert np.all(numbers == np.round(numbers)), column.name  # whole numbers stay whole
            assert abs(numbers.mean() - known.mean()) < 0.1 * known.std(), column.name
    assert frame["credit_amount"].nunique() > sample["credit_amount"].nunique()  # jittered


def test_seeded(spec: DatasetSpec, sample: pd.DataFrame) -> None:
    first = make_dataset(spec, sample, 500, seed=3)
    assert first.equals(make_dataset(spec, sample, 500, seed=3))
    assert not first.equals(make_dataset(spec, sample, 500, seed=4))


def test_main_writes_the_spec_format_that_preprocess_accepts(spec: DatasetSpec, tmp_path: Path) -> None:
    assert main(["--rows", "2000", "--seed", "5", "--output", str(tmp_path / "synthetic.data")]) == 0
    lines = (tmp_path / "synthetic.data").read_text().splitlines()
    assert len(lines) == 2000
    assert all(len(line.split(" ")) == 21 for line in lines)
    report = preprocess(tmp_path / "synthetic.data", load_spec_file(SPEC_YAML), tmp_path / "out")
    assert report["rows"] == {"input": 2000, "train": 1400, "validation": 300, "test": 300}


def test_bad_row_count(spec: DatasetSpec, sample: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="n_rows must be at least 1, got 0"):
        make_dataset(spec, sample, 0, seed=1)

"""Synthetic data for benchmarks: any number of rows that follow a dataset spec and resemble its sample.

Rows of the sample are drawn with replacement, whole, so the relation between the features and the label is kept;
numeric feature values get a small seeded jitter (5 % of the column's standard deviation), stay within the sample's
range and stay whole numbers when the sample's are. Categorical values and the label are copied. The result is
written in the spec's format, so the pipeline reads it like the real data.

Usage: ``python bench/synthetic_data.py --rows 50000 --output bench/out/german_50k.data``
(defaults: the German Credit spec and its shipped sample).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from config.dataset_spec import DatasetSpec as SpecModel  # noqa: E402
from config.loader import read_yaml  # noqa: E402
from sagemaker_code.steps.preprocess import read_table  # noqa: E402
from sagemaker_code.steps.spec import DatasetSpec, spec_from_dict  # noqa: E402
from sagemaker_code.steps.transform import parse_number  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_SPEC = REPO_ROOT / "config" / "datasets" / "german_credit.yaml"
#: Standard deviation of the jitter of numeric columns, as a share of the column's standard deviation.
JITTER = 0.05


def load_spec_file(path: Path) -> DatasetSpec:
    """The spec of a YAML spec file, validated by the pydantic model, as the steps see it."""
    model = SpecModel.model_validate(read_yaml(path))
    return spec_from_dict(model.model_dump(mode="json"), path)


def _jittered(
    values: list[object], picks: np.ndarray, missing_values: tuple[str, ...], rng: np.random.Generator
) -> list[str | None]:
    numbers = np.array([parse_number(value, missing_values) for value in values], dtype=np.float64)
    present = numbers[~np.isnan(numbers)]
    drawn = numbers[picks]
    if present.size == 0:
        return [None] * picks.size
    noisy = np.clip(drawn + rng.normal(0.0, JITTER * float(present.std()), picks.size), present.min(), present.max())
    whole = bool(np.all(present == np.round(present)))
    if whole:
        noisy = np.round(noisy)
    return [None if np.isnan(x) else (str(int(x)) if whole else repr(float(x))) for x in noisy.tolist()]


def make_dataset(spec: DatasetSpec, sample_df: pd.DataFrame, n_rows: int, seed: int) -> pd.DataFrame:
    """``n_rows`` raw rows (spec columns; text, None when missing) drawn from ``sample_df`` with seeded jitter."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    if len(sample_df) == 0:
        raise ValueError("the sample has no rows")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sample_df), size=n_rows)
    columns: dict[str, list[str | None]] = {}
    for column in spec.columns:
        values: list[object] = sample_df[column.name].tolist()
        if column.type == "numeric":
            columns[column.name] = _jittered(values, picks, spec.format.missing_values, rng)
        else:
            columns[column.name] = [None if values[i] is None else str(values[i]) for i in picks.tolist()]
    return pd.DataFrame(columns, dtype=object)


def write_dataset(frame: pd.DataFrame, spec: DatasetSpec, path: Path) -> None:
    """Write raw rows in the spec's format (delimiter, header); a missing value is an empty field."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=spec.format.delimiter, lineterminator="\n")
        if spec.format.header:
            writer.writerow(list(spec.column_names))
        for row in frame[list(spec.column_names)].itertuples(index=False, name=None):
            writer.writerow(["" if value is None else value for value in row])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write synthetic rows that follow a dataset spec", allow_abbrev=False)
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="dataset spec YAML file")
    parser.add_argument("--sample", type=Path, help="sample data (default: the spec's sample_path)")
    parser.add_argument("--rows", type=int, default=50_000, help="number of rows to write")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--output", type=Path, required=True, help="file to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = load_spec_file(args.spec)
    sample = args.sample or (REPO_ROOT / spec.sample_path if spec.sample_path else None)
    if sample is None:
        parser.error(f"{args.spec} has no sample_path: pass --sample")
    frame = make_dataset(spec, read_table(sample, spec.column_names, spec.format).frame, args.rows, args.seed)
    write_dataset(frame, spec, args.output)
    logger.info("wrote %d rows of %s to %s", len(frame), spec.name, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

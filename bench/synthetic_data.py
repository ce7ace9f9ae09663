"""Synthetic data for benchmarks: any number of rows that follow a dataset spec and resemble its sample.

Rows of the sample are drawn with replacement, whole, so the relation between the features and the label is kept;
numeric feature values get a small seeded jitter (5 % of the column's standard deviation), stay within the sample's
range and stay whole numbers when the sample's are. Categorical values and the label are copied. The result is
written in the spec's format (delimiter, header, the files' column names), so the pipeline reads it like the real
data. Rows are made and written in chunks, so a file of any size (``bench/large_csv.py`` writes 1 GB) takes little
memory.

Usage: ``python bench/synthetic_data.py --rows 50000 --output bench/out/german_50k.data``
(defaults: the German Credit spec and its shipped sample).
"""

from __future__ import annotations

import argparse
import csv
import io
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
from sagemaker_code.steps.writers import number_texts  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_SPEC = REPO_ROOT / "config" / "datasets" / "german_credit.yaml"
#: Standard deviation of the jitter of numeric columns, as a share of the column's standard deviation.
JITTER = 0.05
#: Rows made and written at a time by :func:`write_synthetic`.
CHUNK_ROWS = 200_000


def load_spec_file(path: Path) -> DatasetSpec:
    """The spec of a YAML spec file, validated by the pydantic model, as the steps see it."""
    model = SpecModel.model_validate(read_yaml(path))
    return spec_from_dict(model.model_dump(mode="json"), path)


class _Sampler:
    """The sample's columns, ready to be drawn from: numbers as floats (NaN = missing), text as an object array
    ('' = missing)."""

    def __init__(self, spec: DatasetSpec, sample_df: pd.DataFrame) -> None:
        if len(sample_df) == 0:
            raise ValueError("the sample has no rows")
        self.spec, self.rows = spec, len(sample_df)
        self.numbers: dict[str, np.ndarray] = {}
        self.texts: dict[str, np.ndarray] = {}
        for column in spec.columns:
            values = sample_df[column.name].astype(object).tolist()
            if column.type == "numeric":
                missing = spec.format.missing_values
                self.numbers[column.name] = np.array([parse_number(value, missing) for value in values], dtype=float)
            else:
                self.texts[column.name] = np.array(["" if v is None or pd.isna(v) else str(v) for v in values], object)
        special = (spec.format.delimiter, '"', "\n", "\r")
        self.plain = not any(
            char in text for texts in self.texts.values() for text in set(texts.tolist()) for char in special
        )

    def draw(self, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``rows`` rows by column name: numbers (float, jittered; NaN = missing) and texts ('' = missing)."""
        picks = rng.integers(0, self.rows, size=rows)
        drawn: dict[str, np.ndarray] = {}
        for column in self.spec.columns:
            if column.type == "numeric":
                numbers = self.numbers[column.name]
                present = numbers[~np.isnan(numbers)]
                if present.size == 0:
                    drawn[column.name] = np.full(rows, np.nan)
                    continue
                noise = rng.normal(0.0, JITTER * float(present.std()), rows)
                noisy = np.clip(numbers[picks] + noise, present.min(), present.max())
                drawn[column.name] = np.round(noisy) if np.all(present == np.round(present)) else noisy
            else:
                drawn[column.name] = self.texts[column.name][picks]
        return drawn


def _texts(drawn: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [number_texts(values, "") if values.dtype.kind == "f" else values for values in drawn.values()]


def make_dataset(spec: DatasetSpec, sample_df: pd.DataFrame, n_rows: int, seed: int) -> pd.DataFrame:
    """``n_rows`` raw rows (spec columns; text, None when missing) drawn from ``sample_df`` with seeded jitter."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    texts = _texts(_Sampler(spec, sample_df).draw(n_rows, np.random.default_rng(seed)))
    columns = {
        name: [value or None for value in column.tolist()]
        for name, column in zip(spec.column_names, texts, strict=True)
    }
    return pd.DataFrame(columns, dtype=object)


def _csv_text(rows: list[list[str]] | zip[tuple[str, ...]], delimiter: str) -> str:
    """Rows as CSV text (quoted where needed) with any delimiter, also one of several characters."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\x1f", lineterminator="\n").writerows(rows)
    return buffer.getvalue().replace("\x1f", delimiter)


def _lines(spec: DatasetSpec, fields: list[np.ndarray], plain: bool) -> str:
    """The rows as text in the spec's format; a missing value is an empty field."""
    if plain:  # nothing to quote: a join per row
        row_format = spec.format.delimiter.join(["%s"] * len(fields)) + "\n"
        return "".join([row_format % row for row in zip(*fields, strict=True)])
    return _csv_text(zip(*fields, strict=True), spec.format.delimiter)


def write_synthetic(
    spec: DatasetSpec, sample_df: pd.DataFrame, n_rows: int, seed: int, path: Path, *, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Write ``n_rows`` synthetic rows in the spec's format, chunk by chunk (each seeded by (seed, chunk)); return
    the number of characters written."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    sampler = _Sampler(spec, sample_df)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        if spec.format.header:
            size += file.write(_csv_text([list(spec.column_names)], spec.format.delimiter))
        for index, start in enumerate(range(0, n_rows, chunk_rows)):
            drawn = sampler.draw(min(chunk_rows, n_rows - start), np.random.default_rng([seed, index]))
            size += file.write(_lines(spec, _texts(drawn), sampler.plain))
    return size


def read_sample(spec: DatasetSpec, path: Path) -> pd.DataFrame:
    """The sample's raw rows (text, None when missing)."""
    frame = read_table(path, spec.column_names, spec.format).frame.astype(object)
    return frame.where(frame.notna(), None)


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
    size = write_synthetic(spec, read_sample(spec, sample), args.rows, args.seed, args.output)
    logger.info("wrote %d rows (%d bytes) of %s to %s", args.rows, size, spec.name, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

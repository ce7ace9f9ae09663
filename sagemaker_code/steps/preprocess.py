"""Preprocess step: validate the raw input against the dataset spec, split it, fit the transform, write the baseline.

Every problem with the input stops the step with a :class:`DataValidationError` whose message names the file, the
column and the rows (``... wrong number of fields (expected the spec's 21 columns): german.data line 3 has 20``);
``main`` logs it and exits with 1, before any output is written. Rows with a missing value in a column whose missing
policy is ``drop_row`` are left out (counted in the report).

The input is read in chunks into typed columns (:mod:`sagemaker_code.steps.table`) and the outputs are written in
slices of rows (:mod:`sagemaker_code.steps.writers`): memory is about the size of the input file, time linear in rows.

The split is stratified and deterministic: the rows of each class are ordered by a SHA-256 of (seed, row number),
which does not depend on the numpy version, and cut into test, validation and train; every split gets at least one
row of each class. The transform is fitted on the train split only.

Outputs, one folder per ProcessingOutput, under ``--output``::

    train/train.csv              label (1 = positive) then the features; no header (XGBoost CSV); with
                                 --train-parts N > 1: train-00000.csv ... one per training instance
    validation/validation.csv    same
    test/test.csv                same
    test/test_raw.csv            the raw test rows, spec columns (label included), the files' names as header
    transform/transform.json     the fitted transform; decision_threshold null (the Train step writes the model's
                                 copy, with the threshold it chose, for serving)
    baseline/statistics.json     Model Monitor DataQuality baseline of the raw feature columns of the train split
                                 (named by the columns' ids)
    baseline/constraints.json
    fingerprint/fingerprint.json SHA-256 of the input bytes (files sorted by name), row count, files, spec name
    report/preprocess.json       rows per split, rows left out (drop_row), class balance

Usage: ``python -m sagemaker_code.steps.preprocess --input DIR_OR_FILE --spec SPEC.json --output DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

if not __package__:  # run as a file (python .../preprocess.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.steps import contract
from sagemaker_code.steps.baseline import baseline_of
from sagemaker_code.steps.common import StepError, input_files, run_step, split_file, write_json
from sagemaker_code.steps.csv_input import DataValidationError
from sagemaker_code.steps.fitting import build, fit_categorical, fit_numeric
from sagemaker_code.steps.spec import DatasetSpec, Label, Split, load_spec
from sagemaker_code.steps.table import NumericColumn, RawTable, Table, read_table, read_typed
from sagemaker_code.steps.transform import TRANSFORM_FILE, Feature, Transform, TransformInputError
from sagemaker_code.steps.writers import baseline_summaries, category_counts, write_features, write_raw

logger = logging.getLogger(__name__)

#: The container paths the pipeline definition passes (a test checks that they agree).
DEFAULT_INPUT = Path(contract.processing_input(contract.DATA_INPUT))
DEFAULT_SPEC = Path(contract.SPEC_PATH)
DEFAULT_OUTPUT = Path(contract.PROCESSING_OUTPUT)
SPLITS = contract.SPLITS
#: The raw test rows (evaluate scores them through the transform, as serving does) and the step's own report.
TEST_RAW_FILE = contract.TEST_RAW_FILE
REPORT_FILE = "preprocess.json"
#: Bytes hashed at a time for the fingerprint.
HASH_BLOCK = 1 << 20

__all__ = ["DataValidationError", "RawTable", "main", "preprocess", "read_table", "stratified_split"]


def labels(table: Table, spec: DatasetSpec) -> np.ndarray:
    """The label as 0/1 (1 = positive, int8); a single class is an error."""
    label = table.categorical(spec.label.column)
    positive = label.categories.index(spec.label.positive) if spec.label.positive in label.categories else -2
    y: np.ndarray = (label.codes == positive).astype(np.int8)
    if y.size and int(y.min()) == int(y.max()):
        only = spec.label.positive if y[0] else spec.label.negative
        raise DataValidationError(
            f"label column {spec.label.column!r} has only one class: all {y.size} rows are {only!r}; "
            f"a binary classifier needs rows of both {list(spec.label.values)}"
        )
    return y


def _split_sizes(rows: int, split: Split) -> tuple[int, int, int]:
    """(train, validation, test) rows of one class; validation and test get at least one row each."""
    validation = max(1, math.floor(split.validation * rows + 0.5))
    test = max(1, math.floor(split.test * rows + 0.5))
    return rows - validation - test, validation, test


def min_rows_per_class(split: Split) -> int:
    """The fewest rows of a class from which on every split gets at least one row of it.

    Rounding makes "train gets a row" non-monotonic for small counts (with 0.45/0.45, 5 rows work and 6 do not);
    from 2 / (1 - validation - test) rows on it always holds, so the answer is searched below that bound.
    """
    bound = max(3, math.ceil(2 / (1 - split.validation - split.test)))
    needed = bound
    for rows in range(bound - 1, 2, -1):
        if _split_sizes(rows, split)[0] < 1:
            break
        needed = rows
    return needed


def _order_keys(seed: int, rows: np.ndarray) -> np.ndarray:
    """The first 8 bytes of SHA-256(f"{seed}:{row}") of each row as an unsigned integer: the split's shuffle key.

    Independent of the numpy version, and the same order as the whole digest's but for a tie in 64 bits.
    """
    base = hashlib.sha256(f"{seed}:".encode())

    def keys() -> Iterator[int]:
        copy, from_bytes = base.copy, int.from_bytes
        for row in rows.tolist():
            digest = copy()
            digest.update(b"%d" % row)
            yield from_bytes(digest.digest()[:8], "big")

    ordered: np.ndarray = np.fromiter(keys(), dtype=np.uint64, count=rows.size)
    return ordered


def stratified_split(y: np.ndarray, label: Label, split: Split) -> dict[str, np.ndarray]:
    """Row numbers of train, validation and test (each in file order); deterministic for a seed."""
    needed = min_rows_per_class(split)
    class_rows = {label.positive: np.flatnonzero(y == 1), label.negative: np.flatnonzero(y == 0)}
    if any(len(rows) < needed for rows in class_rows.values()):
        balance = ", ".join(f"{len(rows)} of class {name!r}" for name, rows in class_rows.items())
        raise DataValidationError(
            f"too few rows to split: {len(y)} rows ({balance}); a stratified split with validation "
            f"{split.validation:g} and test {split.test:g} needs at least {needed} rows of each class "
            f"(at least {needed * 2} rows)"
        )
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for rows in class_rows.values():
        ordered = rows[np.argsort(_order_keys(split.seed, rows), kind="stable")]
        _, validation, test = _split_sizes(len(ordered), split)
        parts["test"].append(ordered[:test])
        parts["validation"].append(ordered[test : test + validation])
        parts["train"].append(ordered[test + validation :])
    return {name: np.sort(np.concatenate(rows)).astype(np.int64) for name, rows in parts.items()}


def spec_digest(spec: DatasetSpec) -> str:
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()


def fingerprint(root: Path, rows: int, spec: DatasetSpec) -> dict[str, object]:
    """SHA-256 of the input bytes (every file, sorted by name, concatenated), with the files and the row count."""
    digest = hashlib.sha256()
    files: list[dict[str, object]] = []
    for path in input_files(root, "input"):
        own, size = hashlib.sha256(), 0
        with path.open("rb") as file:
            while block := file.read(HASH_BLOCK):
                digest.update(block)
                own.update(block)
                size += len(block)
        name = path.name if root.is_file() else path.relative_to(root).as_posix()
        files.append({"name": name, "bytes": size, "sha256": own.hexdigest()})
    return {
        contract.FINGERPRINT_SHA256: digest.hexdigest(),
        contract.FINGERPRINT_ROWS: rows,
        "files": files,
        "spec_name": spec.name,
        "spec_sha256": spec_digest(spec),
    }


def fit_transform(table: Table, spec: DatasetSpec, train: np.ndarray) -> Transform:
    """The transform fitted on the train rows of the typed table."""
    features: list[Feature] = []
    try:
        for column in spec.feature_columns:
            typed = table.columns[column.name]
            if isinstance(typed, NumericColumn):
                features.append(fit_numeric(column, typed.values[train]))
            else:
                features.append(fit_categorical(column, *category_counts(typed, train)))
    except TransformInputError as exc:
        raise DataValidationError(f"train split: {exc}") from None
    return build(spec, features)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _class_balance(y: np.ndarray, label: Label) -> dict[str, object]:
    positives = int(y.sum())
    return {
        label.positive: positives,
        label.negative: int(y.size - positives),
        "positive_share": positives / y.size,
    }


def train_parts(rows: np.ndarray, parts: int) -> list[tuple[str, np.ndarray]]:
    """The train split's files: one ``train.csv``, or ``train-NNNNN.csv`` per part, every ``parts``-th row each (so
    that each part has the class balance of the whole; the Train step shards the files over its instances)."""
    if parts < 1:
        raise StepError(f"--train-parts must be at least 1, got {parts}")
    if parts == 1:
        return [(split_file("train"), rows)]
    return [(f"train-{index:05d}.csv", rows[index::parts]) for index in range(parts)]


def preprocess(input_path: Path, spec: DatasetSpec, output: Path, *, parts: int = 1) -> dict[str, object]:
    """Run the whole step; return the report (also written to report/preprocess.json). ``parts``: files of the
    train split (the training instance count)."""
    table = read_typed(input_path, spec)
    y = labels(table, spec)
    splits = stratified_split(y, spec.label, spec.split)
    transform = fit_transform(table, spec, splits["train"])
    for name in SPLITS:
        files = train_parts(splits[name], parts) if name == "train" else [(split_file(name), splits[name])]
        for file_name, rows in files:
            write_features(output / name / file_name, table, transform, y, rows)
        logger.info(
            "%s: %d rows in %d file(s), %d features", name, splits[name].size, len(files), len(transform.feature_names)
        )
    write_raw(output / contract.TEST_INPUT / TEST_RAW_FILE, table, spec, splits["test"])
    _write_text(output / contract.TRANSFORM_OUTPUT / TRANSFORM_FILE, transform.to_json())
    statistics, constraints = baseline_of(baseline_summaries(table, spec, splits["train"]), splits["train"].size)
    write_json(output / contract.BASELINE_OUTPUT / contract.BASELINE_STATISTICS, statistics)
    write_json(output / contract.BASELINE_OUTPUT / contract.BASELINE_CONSTRAINTS, constraints)
    input_print = fingerprint(input_path, table.rows, spec)
    write_json(output / contract.FINGERPRINT.output / contract.FINGERPRINT.path, input_print)
    report: dict[str, object] = {
        "spec_name": spec.name,
        "rows": {"input": table.rows, **{name: int(rows.size) for name, rows in splits.items()}},
        "rows_left_out": {"total": table.rows_dropped, "by_column": table.dropped},
        "class_balance": {name: _class_balance(y[rows], spec.label) for name, rows in splits.items()},
        "features": {"raw": len(spec.feature_columns), "transformed": len(transform.feature_names)},
        "input_sha256": input_print[contract.FINGERPRINT_SHA256],
    }
    write_json(output / contract.REPORT_OUTPUT / REPORT_FILE, report)
    return report


def build_parser() -> argparse.ArgumentParser:
    """The step's arguments; every path defaults to what the pipeline definition passes."""
    parser = argparse.ArgumentParser(
        description="Validate, split and transform the raw data (preprocess step)", allow_abbrev=False
    )
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="input file or folder of files")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="dataset spec JSON (the code bundle's)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="root of the output folders")
    parser.add_argument(
        "--train-parts", type=int, default=1, help="files of the train split, one per training instance (default 1)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_step(
        "preprocess", lambda: preprocess(args.input, load_spec(args.spec), args.output, parts=args.train_parts)
    )


if __name__ == "__main__":
    sys.exit(main())

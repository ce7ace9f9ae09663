"""Preprocess step: validate the raw input against the dataset spec, split it, fit the transform, write the baseline.

Every problem with the input stops the step with a :class:`DataValidationError` whose message names the file, the
column and the rows (``... wrong number of fields (expected the spec's 21 columns): german.data line 3 has 20``);
``main`` logs it and exits with 1.

The split is stratified and deterministic: the rows of each class are ordered by a SHA-256 of (seed, row number),
which does not depend on the numpy version, and cut into test, validation and train; every split gets at least one
row of each class. The transform is fitted on the train split only.

Outputs, one folder per ProcessingOutput, under ``--output``::

    train/train.csv              label (1 = positive) then the features; no header (XGBoost CSV)
    validation/validation.csv    same
    test/test.csv                same
    test/test_raw.csv            the raw test rows, spec columns (label included), with a header
    transform/transform.json     the fitted transform; decision_threshold null (the Train step writes the model's
                                 copy, with the threshold it chose, for serving)
    baseline/statistics.json     Model Monitor DataQuality baseline of the raw feature columns of the train split
    baseline/constraints.json
    fingerprint/fingerprint.json SHA-256 of the input bytes (files sorted by name), row count, files, spec name
    report/preprocess.json       rows per split and class balance

Usage: ``python -m sagemaker_code.steps.preprocess --input DIR_OR_FILE --spec SPEC.json --output DIR``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import math
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

if not __package__:  # run as a file (python .../preprocess.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.steps import contract
from sagemaker_code.steps.baseline import data_quality_baseline
from sagemaker_code.steps.common import StepError, input_files, run_step, split_file, write_json
from sagemaker_code.steps.spec import CsvFormat, DatasetSpec, Label, Split, load_spec
from sagemaker_code.steps.transform import (
    TRANSFORM_FILE,
    TransformInputError,
    fit,
    parse_number,
)

logger = logging.getLogger(__name__)

#: The container paths the pipeline definition passes (a test checks that they agree).
DEFAULT_INPUT = Path(contract.processing_input(contract.DATA_INPUT))
DEFAULT_SPEC = Path(contract.SPEC_PATH)
DEFAULT_OUTPUT = Path(contract.PROCESSING_OUTPUT)
SPLITS = contract.SPLITS
#: The raw test rows (evaluate scores them through the transform, as serving does) and the step's own report.
TEST_RAW_FILE = "test_raw.csv"
REPORT_FILE = "preprocess.json"
#: How many offending rows a message quotes.
EXAMPLES = 5


class DataValidationError(StepError):
    """The input does not match the dataset spec; the message says what is wrong and where."""


@dataclass(frozen=True)
class RawTable:
    """Raw rows: a frame of the spec columns (stripped text, None when missing) and where each row came from."""

    frame: pd.DataFrame
    origins: list[str]  # "german.data line 17", one per row


def _display_name(path: Path, root: Path) -> str:
    return path.name if root.is_file() else path.relative_to(root).as_posix()


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def _examples(items: list[str], total: int) -> str:
    more = f", and {total - len(items)} more" if total > len(items) else ""
    return ", ".join(items) + more


def _header_positions(header: list[str], columns: tuple[str, ...], where: str) -> list[int]:
    """Position of each spec column in a file's header; the header must name each spec column once."""
    absent = [column for column in columns if column not in header]
    if absent:
        raise DataValidationError(f"{where} lacks the columns {absent}; it has {header}")
    twice = sorted({field for field in header if header.count(field) > 1})
    if twice:
        raise DataValidationError(f"{where} repeats {twice}")
    extra = [field for field in header if field not in columns]
    if extra:
        logger.warning("%s: ignoring columns that are not in the spec: %s", where, extra)
    return [header.index(column) for column in columns]


class _TableReader:
    """Accumulates the rows of the input files and the rows with a wrong number of fields."""

    def __init__(self, columns: tuple[str, ...], fmt: CsvFormat) -> None:
        self.columns, self.fmt = columns, fmt
        self.rows: list[list[str | None]] = []
        self.origins: list[str] = []
        self.bad_rows: list[str] = []
        self.bad_count = 0
        self.expected_text = f"the spec's {len(columns)} columns"

    def read_file(self, path: Path, name: str) -> None:
        data = path.read_bytes()
        if not data.strip():
            raise DataValidationError(f"{name}: file is empty")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataValidationError(f"{name}: not UTF-8 text (byte {exc.start})") from None
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.fmt.delimiter)
        missing_tokens = set(self.fmt.missing_values)
        positions: list[int] | None = None if self.fmt.header else list(range(len(self.columns)))
        expected = len(self.columns)
        rows_before, bad_before = len(self.rows), self.bad_count
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue  # blank line
            if positions is None:
                header = [field.strip() for field in fields]
                positions = _header_positions(header, self.columns, f"{name}: the header (line {reader.line_num})")
                expected, self.expected_text = len(header), f"the {len(header)} columns of the header"
            elif len(fields) != expected:
                self.bad_count += 1
                if len(self.bad_rows) < EXAMPLES:
                    self.bad_rows.append(f"{name} line {reader.line_num} has {len(fields)}")
            else:
                stripped = [fields[position].strip() for position in positions]
                self.rows.append([None if not value or value in missing_tokens else value for value in stripped])
                self.origins.append(f"{name} line {reader.line_num}")
        if len(self.rows) == rows_before and self.bad_count == bad_before:
            raise DataValidationError(f"{name}: {'has a header but ' if self.fmt.header else ''}no data rows")


def read_table(root: Path, columns: tuple[str, ...], fmt: CsvFormat) -> RawTable:
    """Read every file of ``root`` (a file or a folder) as rows of ``columns``; check the shape of each row."""
    try:
        files = input_files(root, "input")
    except StepError as exc:
        raise DataValidationError(str(exc)) from None
    reader = _TableReader(columns, fmt)
    for path in files:
        reader.read_file(path, _display_name(path, root))
    if reader.bad_count:
        raise DataValidationError(
            f"{_rows(reader.bad_count)} with the wrong number of fields (expected {reader.expected_text}): "
            f"{_examples(reader.bad_rows, reader.bad_count)}"
        )
    return RawTable(frame=pd.DataFrame(reader.rows, columns=list(columns), dtype=object), origins=reader.origins)


def validate(table: RawTable, spec: DatasetSpec) -> np.ndarray:
    """Check the values against the spec; return the label as 0/1 (1 = positive). Reports every problem at once."""
    problems: list[str] = []
    rows = len(table.frame)
    for column in spec.columns:
        values: list[str | None] = table.frame[column.name].tolist()
        present = sum(value is not None for value in values)
        if column.name == spec.label.column:
            continue
        if column.type == "numeric":
            bad: list[str] = []
            bad_count = 0
            for row, value in enumerate(values):
                try:
                    parse_number(value, spec.format.missing_values)
                except ValueError:
                    bad_count += 1
                    if len(bad) < EXAMPLES:
                        bad.append(f"{value!r} ({table.origins[row]})")
            if bad_count:
                problems.append(
                    f"column {column.name!r} (numeric): {_rows(bad_count)} with a value that is not a number: "
                    f"{_examples(bad, bad_count)}"
                )
            elif present == 0:
                problems.append(f"column {column.name!r} (numeric): no values, all {rows} rows are missing")
    labels: list[str | None] = table.frame[spec.label.column].tolist()
    unknown = [row for row, value in enumerate(labels) if value not in spec.label.values]
    if unknown:
        quoted = [
            f"{'missing' if labels[row] is None else repr(labels[row])} ({table.origins[row]})" for row in unknown
        ]
        problems.append(
            f"label column {spec.label.column!r}: {_rows(len(unknown))} with a value outside label.values "
            f"{list(spec.label.values)}: {_examples(quoted[:EXAMPLES], len(unknown))}"
        )
    if problems:
        raise DataValidationError("\n".join(problems))
    y = np.fromiter((value == spec.label.positive for value in labels), dtype=np.int64, count=rows)
    counts = Counter(labels)
    if len(counts) < 2:
        only = next(iter(counts))
        raise DataValidationError(
            f"label column {spec.label.column!r} has only one class: all {rows} rows are {only!r}; "
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


def _order_key(seed: int, row: int) -> bytes:
    return hashlib.sha256(f"{seed}:{row}".encode()).digest()


def stratified_split(y: np.ndarray, label: Label, split: Split) -> dict[str, np.ndarray]:
    """Row numbers of train, validation and test (each in file order); deterministic for a seed."""
    needed = min_rows_per_class(split)
    class_rows = {label.positive: np.flatnonzero(y == 1), label.negative: np.flatnonzero(y == 0)}
    short = {name: len(rows) for name, rows in class_rows.items() if len(rows) < needed}
    if short:
        balance = ", ".join(f"{len(rows)} of class {name!r}" for name, rows in class_rows.items())
        raise DataValidationError(
            f"too few rows to split: {len(y)} rows ({balance}); a stratified split with validation "
            f"{split.validation:g} and test {split.test:g} needs at least {needed} rows of each class "
            f"(at least {needed * 2} rows)"
        )
    parts: dict[str, list[int]] = {name: [] for name in SPLITS}
    for rows in class_rows.values():
        ordered = sorted(rows.tolist(), key=lambda row: _order_key(split.seed, row))
        _, validation, test = _split_sizes(len(ordered), split)
        parts["test"] += ordered[:test]
        parts["validation"] += ordered[test : test + validation]
        parts["train"] += ordered[test + validation :]
    return {name: np.array(sorted(rows), dtype=np.int64) for name, rows in parts.items()}


def spec_digest(spec: DatasetSpec) -> str:
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()


def fingerprint(root: Path, rows: int, spec: DatasetSpec) -> dict[str, object]:
    """SHA-256 of the input bytes (every file, sorted by name, concatenated), with the files and the row count."""
    digest = hashlib.sha256()
    files: list[dict[str, object]] = []
    for path in input_files(root, "input"):
        data = path.read_bytes()
        digest.update(data)
        files.append(
            {"name": _display_name(path, root), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
    return {
        contract.FINGERPRINT_SHA256: digest.hexdigest(),
        contract.FINGERPRINT_ROWS: rows,
        "files": files,
        "spec_name": spec.name,
        "spec_sha256": spec_digest(spec),
    }


def _xgboost_csv(y: np.ndarray, features: np.ndarray) -> str:
    """Label then features, no header; %r keeps every float exact (test.csv must score like the raw rows)."""
    row_format = ",".join(["%d"] + ["%r"] * features.shape[1]) + "\n"
    return "".join(row_format % (label, *row) for label, row in zip(y.tolist(), features.tolist(), strict=True))


def _raw_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(frame.columns))
    for row in frame.itertuples(index=False, name=None):
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


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


def preprocess(input_path: Path, spec: DatasetSpec, output: Path) -> dict[str, object]:
    """Run the whole step; return the report (also written to report/preprocess.json)."""
    table = read_table(input_path, spec.column_names, spec.format)
    y = validate(table, spec)
    splits = stratified_split(y, spec.label, spec.split)
    frames = {name: table.frame.iloc[rows].reset_index(drop=True) for name, rows in splits.items()}
    try:
        transform = fit(frames["train"], spec)
    except TransformInputError as exc:
        raise DataValidationError(f"train split: {exc}") from None
    for name in SPLITS:
        features = transform.apply(frames[name])
        _write_text(output / name / split_file(name), _xgboost_csv(y[splits[name]], features))
        logger.info("%s: %d rows, %d features", name, features.shape[0], features.shape[1])
    _write_text(output / contract.TEST_INPUT / TEST_RAW_FILE, _raw_csv(frames["test"]))
    _write_text(output / contract.TRANSFORM_OUTPUT / TRANSFORM_FILE, transform.to_json())
    feature_names = tuple(column.name for column in spec.feature_columns)
    statistics, constraints = data_quality_baseline(frames["train"], feature_names)
    write_json(output / contract.BASELINE_OUTPUT / contract.BASELINE_STATISTICS, statistics)
    write_json(output / contract.BASELINE_OUTPUT / contract.BASELINE_CONSTRAINTS, constraints)
    input_print = fingerprint(input_path, len(y), spec)
    write_json(output / contract.FINGERPRINT.output / contract.FINGERPRINT.path, input_print)
    report: dict[str, object] = {
        "spec_name": spec.name,
        "rows": {"input": len(y), **{name: len(rows) for name, rows in splits.items()}},
        "class_balance": {name: _class_balance(y[rows], spec.label) for name, rows in splits.items()},
        "features": {"raw": len(feature_names), "transformed": len(transform.feature_names)},
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_step("preprocess", lambda: preprocess(args.input, load_spec(args.spec), args.output))


if __name__ == "__main__":
    sys.exit(main())

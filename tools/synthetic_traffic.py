"""The data side of synthetic traffic: which rows, with what drift (see :mod:`tools.synthetic_capture`, which scores
and writes them). The raw file is read as the pipeline reads it; drift changes the resampled rows only."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from sagemaker_code.steps.spec import DatasetSpec

logger = logging.getLogger(__name__)
CSV = "text/csv"
JSON = "application/json"


class SyntheticCaptureError(Exception):
    """The traffic cannot be written; the message names the argument or input at fault (exit status 2)."""


@dataclass(frozen=True)
class Traffic:
    """What to write: how many rows, when, how grouped, with which drift and labels."""

    rows: int
    start: datetime
    rate: float = 1.0  # requests per second
    rows_per_request: int = 1
    seed: int = 0
    content_type: str = CSV
    accept: str = JSON
    shifts: tuple[tuple[str, float], ...] = ()
    swaps: tuple[tuple[str, str, str], ...] = ()  # (feature, from, to)
    swap_fraction: float = 0.8
    missing: tuple[tuple[str, float], ...] = ()
    label_fraction: float = 1.0
    labels_delay_hours: float = 0.0
    flip_labels: float = 0.0


@dataclass
class Summary:
    rows: int = 0
    requests: int = 0
    labels: int = 0
    positive_rate: float = 0.0
    capture_files: list[Path] = field(default_factory=list)
    ground_truth_files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Table:
    """The usable rows of the raw file: text of every feature column (spec order) and the label."""

    spec: DatasetSpec
    features: dict[str, np.ndarray]
    labels: np.ndarray

    def column(self, reference: str, option: str) -> str:
        """The feature column named (or with the id) ``reference``; SyntheticCaptureError naming ``option`` if none."""
        for column in self.spec.feature_columns:
            if reference in (column.name, column.id):
                return column.name
        names = [column.name for column in self.spec.feature_columns]
        raise SyntheticCaptureError(f"{option}: {reference!r} is not a feature of {self.spec.name}; they are {names}")

    def kind(self, name: str) -> str:
        return next(column.type for column in self.spec.feature_columns if column.name == name)


def load_spec(path: Path) -> DatasetSpec:
    """The dataset spec YAML, validated as the app validates it, in the steps' form."""
    from config.dataset_spec import DatasetSpec as SpecModel
    from config.loader import ConfigError, read_yaml, validate
    from sagemaker_code.steps.spec import spec_from_dict

    try:
        model = validate(SpecModel, read_yaml(path, "dataset spec"), path)
    except ConfigError as exc:
        raise SyntheticCaptureError(f"--spec: {exc}") from None
    return spec_from_dict(model.model_dump(mode="json"), path)


def read_table(path: Path, spec: DatasetSpec) -> Table:
    """The feature and label text of every row of ``path`` (read as the pipeline reads it) whose label is valid."""
    from sagemaker_code.steps.csv_input import DataValidationError, FileShape, read_chunks

    names = [*(column.name for column in spec.feature_columns), spec.label.column]
    shape = FileShape(name=path.name, first_line=1)
    if not path.is_file():
        raise SyntheticCaptureError(f"--data {path}: no such file")
    try:
        chunks = [
            [series.to_numpy(dtype=object) for series in chunk]
            for chunk in read_chunks(path, path.name, spec.format, names, shape)
        ]
    except (DataValidationError, OSError) as exc:
        raise SyntheticCaptureError(f"--data {path}: {exc}") from None
    if shape.bad_shape:
        raise SyntheticCaptureError(f"--data {path}: rows with other than {shape.expected_text} {shape.parser_error}")
    columns = [np.char.strip(np.concatenate([chunk[i] for chunk in chunks]).astype(str)) for i in range(len(names))]
    labels = columns[-1]
    valid = np.isin(labels, list(spec.label.values))
    if not valid.any():
        raise SyntheticCaptureError(f"--data {path}: no row has a label in {list(spec.label.values)}")
    if not valid.all():
        logger.info("%s: %d rows without a valid label are left out", path, int((~valid).sum()))
    features = {name: columns[i][valid].astype(object) for i, name in enumerate(names[:-1])}
    return Table(spec, features, labels[valid].astype(object))


def inject_drift(table: Table, rows: dict[str, np.ndarray], traffic: Traffic, rng: np.random.Generator) -> None:
    """Shift, swap and blank the resampled ``rows`` in place, as ``traffic`` says."""
    blanks = {"", *table.spec.format.missing_values}
    for reference, delta in traffic.shifts:
        name = table.column(reference, "--shift")
        if table.kind(name) != "numeric":
            raise SyntheticCaptureError(f"--shift {name}: a {table.kind(name)} column; only numeric columns shift")
        values = rows[name]
        present = ~np.isin(values, list(blanks))
        try:
            numbers = values[present].astype(float) + delta
        except ValueError as exc:
            raise SyntheticCaptureError(f"--shift {name}: the data has a value that is not a number ({exc})") from None
        values[present] = [number_text(number) for number in numbers]
    for reference, old, new in traffic.swaps:
        name = table.column(reference, "--swap")
        if table.kind(name) != "categorical":
            raise SyntheticCaptureError(f"--swap {name}: a {table.kind(name)} column; only categories swap")
        seen = sorted(set(table.features[name].tolist()))
        if old not in seen:
            raise SyntheticCaptureError(f"--swap {name}={old}:{new}: no row has {old!r}; the values are {seen}")
        chosen = (rows[name] == old) & (rng.random(len(rows[name])) < traffic.swap_fraction)
        rows[name][chosen] = new
    for reference, fraction in traffic.missing:
        name = table.column(reference, "--missing")
        rows[name][rng.random(len(rows[name])) < fraction] = ""


def number_text(number: float) -> str:
    """A shifted number as a client writes it: whole numbers without a decimal point."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def check_traffic(traffic: Traffic) -> None:
    """Every bad setting of ``traffic`` in one error, each named by its option."""
    problems = []
    if traffic.rows < 1:
        problems.append(f"--rows {traffic.rows}: write at least 1 row")
    if traffic.rows_per_request < 1:
        problems.append(f"--rows-per-request {traffic.rows_per_request}: at least 1")
    if not (math.isfinite(traffic.rate) and traffic.rate > 0):
        problems.append(f"--rate {traffic.rate}: requests per second, a positive number")
    if traffic.seed < 0:
        problems.append(f"--seed {traffic.seed}: a number >= 0")
    if not (math.isfinite(traffic.labels_delay_hours) and traffic.labels_delay_hours >= 0):
        problems.append(f"--labels-delay-hours {traffic.labels_delay_hours}: hours >= 0")
    fractions = [
        ("--label-fraction", traffic.label_fraction),
        ("--swap-fraction", traffic.swap_fraction),
        ("--flip-labels", traffic.flip_labels),
        *((f"--missing {name}", fraction) for name, fraction in traffic.missing),
    ]
    problems += [f"{option} {value}: a fraction from 0 to 1" for option, value in fractions if not 0 <= value <= 1]
    problems += [
        f"--shift {name}={delta}: not a finite number" for name, delta in traffic.shifts if not math.isfinite(delta)
    ]
    if traffic.content_type not in (CSV, JSON):
        problems.append(f"--content-type {traffic.content_type}: {CSV} or {JSON}")
    if traffic.accept not in (CSV, JSON):
        problems.append(f"--accept {traffic.accept}: {JSON} or {CSV}")
    if problems:
        raise SyntheticCaptureError("; ".join(problems))

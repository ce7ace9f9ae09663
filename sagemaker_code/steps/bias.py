"""Bias metrics in SageMaker Clarify's formats, computed inside the Evaluate step (no Clarify processing job).

SageMaker Clarify is no longer open to new customers (AWS documentation, "Clarify availability change"), so the
pipeline does not run the Clarify container: the Evaluate step writes ``bias/dataset.csv`` and
``bias/analysis_config.json`` in Clarify's formats and this module computes ``analysis.json`` in Clarify's output
format from those two files. The three files are registered with the model package as its bias report, and an existing
Clarify customer can run Clarify on the same two inputs to compare.

The dataset is read the way the Clarify container reads it: when the analysis configuration gives ``headers``, Clarify
does not read headers from the data, so every row of the file is data. A header row in such a file would be taken as a
data row by Clarify (a silent error); here it stops the step with a message saying the file must have no header row.
Without ``headers`` in the configuration, the first row of every file names the columns.

Why our own code rather than a library: ``smclarify`` (the code inside the Clarify container) pins old pandas/numpy
versions that conflict with this project's, fairlearn does not produce Clarify's metrics or format, and the five
metrics are closed-form counts. The definitions are those of the Clarify documentation, with d the facet's
disadvantaged group (facet value in ``value_or_threshold``), a the rest, n the number of rows, q the share of
favourable labels (label in ``label_values_or_threshold``) and q' the share of favourable predicted labels:

- CI   = (n_a - n_d) / (n_a + n_d)                      class imbalance
- DPL  = q_a - q_d                                      difference in positive proportions in labels
- DI   = q'_d / q'_a                                    disparate impact
- DPPL = q'_a - q'_d                                    difference in positive proportions in predicted labels
- RD   = recall_a - recall_d                            recall difference (equal opportunity)

An undefined value (a zero denominator, an empty group) is written as null, with a warning, never NaN or infinity.
Facet and label values are matched as categories (``value in list``); Clarify's threshold form for continuous columns
is not needed because the Evaluate step writes 0/1 columns. Readers find a metric by its name
(:func:`metric_value`), never by its position in Clarify's list.

Usage: ``python -m sagemaker_code.steps.bias --config analysis_config.json --data dataset.csv --output DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if not __package__:  # run as a file (python .../bias.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.steps import contract
from sagemaker_code.steps.common import StepError, input_files, read_json, run_step, write_json
from sagemaker_code.steps.metrics import Confusion, difference, ratio

logger = logging.getLogger(__name__)

#: Where a SageMaker Clarify processing job finds its inputs (not a step of this pipeline: the Evaluate step calls
#: :func:`run`; the command line is for comparing with Clarify on the same files).
DEFAULT_CONFIG = Path(contract.processing_input("config")) / contract.ANALYSIS_CONFIG
DEFAULT_DATA = Path(contract.processing_input("data"))
DEFAULT_OUTPUT = Path(contract.PROCESSING_OUTPUT)
ANALYSIS_FILE = contract.ANALYSIS


@dataclass(frozen=True)
class Groups:
    """One facet's split of the rows, disadvantaged (d) and the rest (a); labels and predictions, 1 = favourable."""

    disadvantaged: np.ndarray
    label: np.ndarray
    predicted: np.ndarray | None

    def positive_share(self, values: np.ndarray, group: np.ndarray) -> float | None:
        return ratio(float(values[group].sum()), float(group.sum()))

    def recall(self, group: np.ndarray) -> float | None:
        if self.predicted is None:  # pragma: no cover - post-training methods require predicted_label
            return None
        return Confusion.of(self.label[group], self.predicted[group]).recall()

    @property
    def advantaged(self) -> np.ndarray:
        return ~self.disadvantaged


def _ci(g: Groups) -> float | None:
    n_d, n_a = int(g.disadvantaged.sum()), int(g.advantaged.sum())
    return ratio(n_a - n_d, n_a + n_d)


def _dpl(g: Groups) -> float | None:
    return difference(g.positive_share(g.label, g.advantaged), g.positive_share(g.label, g.disadvantaged))


def _predicted(g: Groups) -> np.ndarray:
    if g.predicted is None:  # pragma: no cover - checked when the config is read
        raise StepError("post-training bias metrics need predicted_label")
    return g.predicted


def disparate_impact(g: Groups) -> float | None:
    """q'_d / q'_a; None when a group is empty or no row of the others is predicted favourable."""
    q_d = g.positive_share(_predicted(g), g.disadvantaged)
    q_a = g.positive_share(_predicted(g), g.advantaged)
    return None if q_d is None or q_a is None else ratio(q_d, q_a)


def _dppl(g: Groups) -> float | None:
    return difference(g.positive_share(_predicted(g), g.advantaged), g.positive_share(_predicted(g), g.disadvantaged))


def _rd(g: Groups) -> float | None:
    return difference(g.recall(g.advantaged), g.recall(g.disadvantaged))


Method = tuple[str, Callable[[Groups], float | None]]
#: Per stage: method name -> (Clarify's description, computation), in Clarify's order (used for "all").
METHODS: dict[str, dict[str, Method]] = {
    "pre_training_bias": {
        "CI": ("Class Imbalance (CI)", _ci),
        "DPL": ("Difference in Positive Proportions in Labels (DPL)", _dpl),
    },
    "post_training_bias": {
        "DI": ("Disparate Impact (DI)", disparate_impact),
        "DPPL": ("Difference in Positive Proportions in Predicted Labels (DPPL)", _dppl),
        "RD": ("Recall Difference (RD)", _rd),
    },
}
STAGE_OUTPUT = {"pre_training_bias": "pre_training_bias_metrics", "post_training_bias": "post_training_bias_metrics"}


@dataclass(frozen=True)
class AnalysisConfig:
    headers: list[str] | None
    label: str | int
    predicted_label: str | int | None
    label_values: list[object]
    facets: list[tuple[str | int, list[object]]]
    methods: dict[str, list[str]]  # stage -> method names, in the config's order


def _fail(message: str) -> StepError:
    return StepError(f"analysis config: {message}")


def _parse_facets(raw: object) -> list[tuple[str | int, list[object]]]:
    if not isinstance(raw, list) or not raw:
        raise _fail(f"facet: must be a non-empty list of facets, got {raw!r}")
    facets: list[tuple[str | int, list[object]]] = []
    for index, facet in enumerate(raw):
        name = facet.get("name_or_index") if isinstance(facet, dict) else None
        values = facet.get("value_or_threshold") if isinstance(facet, dict) else None
        if not isinstance(name, (str, int)) or not isinstance(values, list) or not values:
            raise _fail(
                f"facet[{index}]: must have name_or_index and a non-empty value_or_threshold list, got {facet!r}"
            )
        facets.append((name, values))
    return facets


def _parse_methods(raw: object) -> dict[str, list[str]]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(f"methods: must map pre_training_bias/post_training_bias to methods, got {raw!r}")
    methods: dict[str, list[str]] = {}
    for stage, spec in raw.items():
        if stage not in METHODS:
            raise _fail(f"methods.{stage}: this module computes only {sorted(METHODS)}")
        names = spec.get("methods") if isinstance(spec, dict) else None
        if names == "all":
            names = list(METHODS[stage])
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise _fail(f"methods.{stage}.methods: must be a list of method names or 'all', got {names!r}")
        unknown = [name for name in names if name not in METHODS[stage]]
        if unknown:
            raise _fail(
                f"methods.{stage}.methods: unknown method {unknown[0]!r}; this module computes "
                f"{', '.join(METHODS[stage])}"
            )
        methods[stage] = names
    return methods


def parse_config(data: object) -> AnalysisConfig:
    """Check the parts of Clarify's analysis configuration this module uses; name any problem."""
    if not isinstance(data, dict):
        raise _fail(f"must be a JSON object, got {type(data).__name__}")
    if data.get("dataset_type", "text/csv") != "text/csv":
        raise _fail(f"dataset_type: only 'text/csv' is supported here, got {data['dataset_type']!r}")
    headers = data.get("headers")
    if headers is not None and (not isinstance(headers, list) or not all(isinstance(h, str) for h in headers)):
        raise _fail(f"headers: must be a list of column names, got {headers!r}")
    label, predicted = data.get("label"), data.get("predicted_label")
    if not isinstance(label, (str, int)):
        raise _fail(f"label: must be a column name or index, got {label!r}")
    values = data.get("label_values_or_threshold")
    if not isinstance(values, list) or not values:
        raise _fail(
            f"label_values_or_threshold: must be a non-empty list of the favourable label values, got {values!r}"
        )
    methods = _parse_methods(data.get("methods"))
    if "post_training_bias" in methods and not isinstance(predicted, (str, int)):
        raise _fail("predicted_label: post_training_bias needs the predicted label column")
    return AnalysisConfig(
        headers=headers,
        label=label,
        predicted_label=predicted if isinstance(predicted, (str, int)) else None,
        label_values=values,
        facets=_parse_facets(data.get("facet")),
        methods=methods,
    )


def _read_file(file: Path, headers: list[str] | None) -> tuple[list[str], list[list[str]]]:
    """(column names, data rows) of one file of the dataset; see :func:`read_dataset`."""
    rows = [row for row in csv.reader(io.StringIO(file.read_text(encoding="utf-8"))) if row]
    if headers is None:
        if not rows:
            raise StepError(f"{file}: the bias dataset file is empty (without headers in the config it needs a header)")
        return rows[0], rows[1:]
    for number, row in enumerate(rows, start=1):
        if row == headers:
            raise StepError(
                f"{file}: row {number} equals the headers of the analysis config; when the config gives headers, "
                "Clarify reads every row of the dataset as data, so the dataset must have no header row"
            )
    return headers, rows


def read_dataset(path: Path, headers: list[str] | None) -> dict[str, list[str]]:
    """Columns of the CSV dataset (a file, or the .csv files of a folder), read as the Clarify container reads them.

    With ``headers`` (from the analysis configuration) every row is data, and a row equal to the headers is an
    error: Clarify would score it as data. Without, the first row of each file names the columns (the same in every
    file).
    """
    files = input_files(path, "bias dataset")
    if path.is_dir():
        files = [file for file in files if file.suffix == ".csv"]
        if not files:
            raise StepError(f"bias dataset folder has no .csv file: {path}")
    names = headers
    rows: list[list[str]] = []
    for file in files:
        file_names, file_rows = _read_file(file, headers)
        if names is None:
            names = file_names
        elif file_names != names:
            raise StepError(f"{file}: header row {file_names} differs from the first file's {names}")
        rows.extend(file_rows)
    if names is None:  # pragma: no cover - input_files never returns an empty list
        raise StepError(f"{path}: the bias dataset has no files")
    if not rows:
        raise StepError(f"{path}: the bias dataset has no data rows")
    for number, row in enumerate(rows, start=1):
        if len(row) != len(names):
            raise StepError(f"{path}: data row {number} has {len(row)} fields, the headers name {len(names)}")
    return {name: [row[index] for row in rows] for index, name in enumerate(names)}


def _name(columns: dict[str, list[str]], name_or_index: str | int, what: str) -> str:
    names = list(columns)
    if isinstance(name_or_index, int):
        if not 0 <= name_or_index < len(names):
            raise _fail(f"{what}: index {name_or_index} is outside the {len(names)} columns")
        return names[name_or_index]
    if name_or_index not in columns:
        raise _fail(f"{what}: column {name_or_index!r} is not in the dataset (columns {names})")
    return name_or_index


def _matches(values: list[str], wanted: list[object]) -> np.ndarray:
    """1 where the value is one of ``wanted`` (as numbers when both sides are numbers, else as text)."""
    texts = {str(item) for item in wanted}
    numbers: set[float] = set()
    for item in wanted:
        with contextlib.suppress(ValueError):  # a text value: matched as text only
            numbers.add(float(str(item)))
    out = np.zeros(len(values), dtype=bool)
    for row, value in enumerate(values):
        text = value.strip()
        if text in texts:
            out[row] = True
            continue
        try:
            out[row] = float(text) in numbers
        except ValueError:
            out[row] = False
    return out


def _text(values: list[object]) -> str:
    return ",".join(str(value) for value in values)


def analyze(config: AnalysisConfig, columns: dict[str, list[str]]) -> dict[str, object]:
    """Clarify's analysis.json for the configured facets and methods."""
    label_name = _name(columns, config.label, "label")
    label = _matches(columns[label_name], config.label_values)
    predicted = None
    if config.predicted_label is not None:
        predicted = _matches(columns[_name(columns, config.predicted_label, "predicted_label")], config.label_values)
    result: dict[str, object] = {"version": "1.0"}
    for stage, names in config.methods.items():
        facets: dict[str, object] = {}
        for name_or_index, facet_values in config.facets:
            facet_name = _name(columns, name_or_index, "facet")
            groups = Groups(
                disadvantaged=_matches(columns[facet_name], facet_values),
                label=label,
                predicted=predicted,
            )
            metrics = []
            for method in names:
                description, compute = METHODS[stage][method]
                value = compute(groups)
                if value is None:
                    logger.warning(
                        "%s %s is undefined (an empty group or a zero denominator): written as null", facet_name, method
                    )
                metrics.append({"name": method, "description": description, "value": value})
            facets[facet_name] = [{"value_or_threshold": _text(facet_values), "metrics": metrics}]
        result[STAGE_OUTPUT[stage]] = {
            "label": label_name,
            "label_value_or_threshold": _text(config.label_values),
            "facets": facets,
        }
    return result


def metric_value(analysis: dict[str, object], stage: str, facet_column: str, name: str) -> float | None:
    """The value of metric ``name`` (e.g. "DI") of a facet in analysis.json, found by name; missing -> StepError."""
    section = analysis.get(stage)
    facets = section.get("facets") if isinstance(section, dict) else None
    entries = facets.get(facet_column) if isinstance(facets, dict) else None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise StepError(f"analysis.json: no {stage}.facets.{facet_column} in the bias report")
    metrics = entries[0].get("metrics")
    found = [m for m in metrics if isinstance(m, dict) and m.get("name") == name] if isinstance(metrics, list) else []
    if len(found) != 1:
        raise StepError(
            f"analysis.json: {stage}.facets.{facet_column} has {len(found)} metrics named {name!r}, expected one"
        )
    value = found[0].get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise StepError(f"analysis.json: {stage}.facets.{facet_column} {name} is not a number: {value!r}")
    return None if value is None else float(value)


def run(config_path: Path, data_path: Path, output: Path) -> dict[str, object]:
    config = parse_config(read_json(config_path, "analysis config"))
    analysis = analyze(config, read_dataset(data_path, config.headers))
    write_json(output / ANALYSIS_FILE, analysis)
    return analysis


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Bias metrics in SageMaker Clarify's formats (what the Evaluate step computes)", allow_abbrev=False
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="Clarify analysis_config.json")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="the dataset: a CSV file or a folder of .csv files"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder of analysis.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_step("bias", lambda: run(args.config, args.data, args.output))


if __name__ == "__main__":
    sys.exit(main())

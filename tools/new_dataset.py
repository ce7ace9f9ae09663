"""Infer a dataset spec from a CSV file: ``make new-dataset CSV=path NAME=x`` writes ``config/datasets/<NAME>.yaml``.

It reads the start of the file (``--rows`` records) as the pipeline would and guesses what a spec needs: the text
encoding, the delimiter (also one of several characters, such as ``", "``), whether the first line is a header, each
column's type, the tokens that stand for a missing value, the columns that could be the label (two values) and the
columns whose names suggest a protected attribute (age, sex, race, marital status, nationality, religion, ...) as
facets. Every guess a person must confirm is marked ``CONFIRM`` in the file's comments; the result is validated with
the spec model before it is written, and an existing file is kept unless ``--force``.

Standard library only for the reading (the spec model validates the result); runs on the developer's machine.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = REPO_ROOT / "config" / "datasets"
#: Delimiters tried, longest first (", " wins over "," when every comma is followed by a space).
DELIMITERS = (", ", "; ", "\t", ",", ";", "|", " ", ":")
#: Field values that commonly stand for a missing value (besides the empty field).
MISSING_TOKENS = ("?", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "-", ".", "#N/A")
NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")  # the pipeline's (sagemaker_code.steps.transform)
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}[a-z0-9]$")
#: Column names that suggest a protected attribute: (facet name, pattern on the lower-cased name).
PROTECTED = (
    ("age", re.compile(r"(^|[^a-z])(age|age_?years|years_?old)([^a-z]|$)")),
    ("sex", re.compile(r"sex|gender")),
    ("race", re.compile(r"race|ethnic")),
    ("marital", re.compile(r"marital|married|personal_?status")),
    ("nationality", re.compile(r"nation|citizen|country|foreign|native|immigra")),
    ("religion", re.compile(r"relig|faith")),
    ("disability", re.compile(r"disab|handicap")),
)
LABEL_NAMES = re.compile(r"label|target|class|outcome|income|result|default|risk|churn|approved|^y$")
FAVOURABLE = ("1", "yes", "true", "good", "approved", "paid", ">50k", "high", "y", "positive")
DISADVANTAGED = ("female", "f", "woman", "women", "black", "a92", "a95")


class InferError(Exception):
    """The file cannot be read as delimited text; the message says why."""


@dataclass
class Column:
    name: str
    values: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)

    @property
    def numeric(self) -> bool:
        """Numbers only, and not exactly two of them (a two-valued column is a label or a flag: categorical)."""
        return len(self.values) not in (0, 2) and all(NUMBER_RE.fullmatch(value) for value in self.values)


def read_head(path: Path, limit: int = 1 << 20) -> tuple[str, str]:
    """(encoding, decoded text) of the start of the file; a clear InferError for what is not delimited text."""
    if not path.exists():
        raise InferError(f"{path}: not found")
    if path.is_dir():
        raise InferError(f"{path}: is a folder; give one of its files (the pipeline reads every file of a folder)")
    try:
        with path.open("rb") as file:
            head = file.read(limit)
    except OSError as exc:
        raise InferError(f"{path}: cannot be read: {exc.strerror}") from None
    if not head.strip():
        raise InferError(f"{path}: is empty")
    if head.startswith((b"\x1f\x8b", b"PK\x03\x04", b"BZh")):
        raise InferError(f"{path}: is compressed (gzip, zip or bzip2): decompress it first")
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return encoding, head.decode("utf-16", errors="ignore")
    if b"\x00" in head:
        raise InferError(f"{path}: is not a text file (it contains NUL bytes): save it as CSV text")
    if len(head) == limit:  # cut at a line break, not inside a character
        head = head[: head.rfind(b"\n") + 1] or head
    try:
        return "utf-8", head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "cp1252", head.decode("cp1252", errors="replace")


def split_lines(text: str, delimiter: str, rows: int) -> list[list[str]]:
    """The first ``rows`` non-blank records of ``text``, as the pipeline splits them (quotes respected)."""
    stand_in = "\x1f" if len(delimiter) > 1 else delimiter
    lines = text.replace(delimiter, stand_in) if len(delimiter) > 1 else text
    reader = csv.reader(lines.splitlines(), delimiter=stand_in, skipinitialspace=stand_in not in " \t")
    records: list[list[str]] = []
    for fields in reader:
        if any(item.strip() for item in fields):
            records.append([item.replace("\x1f", delimiter).strip() for item in fields])
            if len(records) >= rows:
                break
    return records


def guess_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most fields, the same number on every line."""
    best, best_score = ",", (0.0, 0)
    sample = [line for line in text.splitlines()[:200] if line.strip()]
    for delimiter in DELIMITERS:
        if len(delimiter) > 1 and text.count(delimiter) < text.count(delimiter[0]) * 0.99:
            continue  # ', ' only when (nearly) every ',' is followed by a space
        counts = Counter(len(record) for record in split_lines("\n".join(sample), delimiter, len(sample)))
        width, lines = counts.most_common(1)[0] if counts else (1, 0)
        score = (lines / max(1, len(sample)), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    if best_score[1] < 2:
        raise InferError("no delimiter splits its lines into columns: is it a delimited text file?")
    return best


def guess_header(records: list[list[str]]) -> bool:
    """The first record names the columns: it has no number where the column below is numeric, and its values
    (all different) do not occur below."""
    first, rest = records[0], records[1:]
    if not rest or len(set(first)) != len(first) or any(not item for item in first):
        return False
    for position, name in enumerate(first):
        below = [row[position] for row in rest if position < len(row) and row[position]]
        if NUMBER_RE.fullmatch(name) and below and all(NUMBER_RE.fullmatch(value) for value in below):
            return False
        if name in below:
            return False
    return True


def profile(records: list[list[str]], names: list[str]) -> list[Column]:
    columns = [Column(name) for name in names]
    for record in records:
        for column, value in zip(columns, record, strict=False):
            if not value or value in MISSING_TOKENS:
                column.missing[value or "(empty)"] += 1
            else:
                column.values[value] += 1
    return columns


def label_candidates(columns: list[Column]) -> list[Column]:
    """Columns with exactly two values, the likeliest label first (by name, then the last column)."""
    two = [column for column in columns if len(column.values) == 2]
    last = columns[-1].name
    return sorted(two, key=lambda c: (not LABEL_NAMES.search(c.name.lower()), c.name != last))


def _s(text: str) -> str:
    """A YAML scalar (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _facet(facet: str, column: Column, taken: set[str]) -> list[str]:
    name = facet if facet not in taken else f"{facet}_{len(taken)}"
    taken.add(name)
    where = f"  - name: {name}\n    column: {_s(column.name)}\n"
    if column.numeric:
        threshold = "25" if facet == "age" else "?"
        return [f"{where}    disadvantaged: {{max: {threshold}}}   # CONFIRM: the disadvantaged group"]
    ranked = [value for value, _ in column.values.most_common()]
    group = [value for value in ranked if value.lower() in DISADVANTAGED] or ranked[1:] or ranked
    values = ", ".join(_s(value) for value in group[:5])
    return [f"{where}    disadvantaged: {{values: [{values}]}}   # CONFIRM: values {', '.join(ranked[:8])}"]


@dataclass(frozen=True)
class Inferred:
    """What the start of the file says."""

    name: str
    path: Path
    encoding: str
    delimiter: str
    header: bool
    columns: list[Column]
    rows: int


def _head(found: Inferred) -> list[str]:
    tokens = sorted({item for column in found.columns for item in column.missing if item != "(empty)"})
    try:
        sample = found.path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        sample = None
    out = [
        f"# Dataset spec inferred by tools/new_dataset.py from {found.path.name} ({found.rows} rows read). Check every",
        "# line marked CONFIRM; the reference of every key is README.md, 'Dataset spec reference'.",
        f"name: {found.name}",
        f"description: {_s(f'inferred from {found.path.name}')}",
    ]
    if sample:
        out.append(f"sample_path: {_s(sample)}")
    else:
        out += [
            "# sample_path: the file is outside the repository: run with --input",
            '# (make local-pipeline ARGS="--input ..."), or set model_build.input_data_prefix in the config',
        ]
    note = "the first line names the columns" if found.header else "no header: CONFIRM and rename the columns"
    encoding = f", encoding: {found.encoding}" if found.encoding != "utf-8" else ""
    missing = ", ".join(_s(item) for item in tokens)
    out.append(
        f"format: {{type: csv, header: {str(found.header).lower()}, delimiter: {_s(found.delimiter)}, "
        f"missing_values: [{missing}]{encoding}}}   # {note}"
    )
    return out


def _columns(found: Inferred) -> list[str]:
    out = ["columns:   # file order; type numeric | categorical (CONFIRM: numeric codes are categorical)"]
    for column in found.columns:
        notes = [f"{len(column.values)} distinct values"]
        if len(column.values) == 1:
            notes.append("constant: it tells the model nothing")
        elif column.numeric and len(column.values) <= 10:
            notes.append("few whole numbers: codes? then categorical")
        if len(column.values) == found.rows and not column.numeric:
            notes.append("every value distinct: an identifier?")
        if column.missing:
            notes.append("missing: " + ", ".join(f"{item} x{count}" for item, count in column.missing.items()))
        kind = "numeric" if column.numeric else "categorical"
        out.append(f"  - {{name: {_s(column.name)}, type: {kind}}}   # {'; '.join(notes)}")
    return out


def _label(found: Inferred, labels: list[Column]) -> list[str]:
    if not labels:
        return [
            "# CONFIRM: no column has exactly two values; name the label column and its two values",
            f'label: {{column: {_s(found.columns[-1].name)}, values: ["1", "0"], positive: "1"}}',
        ]
    label = labels[0]
    values = [value for value, _ in label.values.most_common()]
    positive = next((value for value in values if value.lower() in FAVOURABLE), values[-1])
    others = f": other candidates {', '.join(c.name for c in labels[1:])}" if labels[1:] else ""
    quoted = ", ".join(_s(value) for value in values)
    return [
        f"# CONFIRM the label (two values){others}; positive is the FAVOURABLE outcome",
        f"label: {{column: {_s(label.name)}, values: [{quoted}], positive: {_s(positive)}}}",
    ]


def render(found: Inferred) -> str:
    """The spec file's text, with a comment on every guess."""
    labels = label_candidates(found.columns)
    out = [*_head(found), *_columns(found), *_label(found, labels)]
    out += [
        "cost_matrix: {false_positive: 1, false_negative: 1}   # CONFIRM: the cost of each kind of error",
        "split: {validation: 0.15, test: 0.15, seed: 42}",
    ]
    facets: list[str] = []
    taken: set[str] = set()
    for column in found.columns:
        if labels and column.name == labels[0].name:
            continue
        match = next((facet for facet, pattern in PROTECTED if pattern.search(column.name.lower())), None)
        if match:
            facets += _facet(match, column, taken)
    if facets:
        out += ["facets:   # columns whose names suggest a protected attribute; CONFIRM or remove", *facets]
    else:
        out.append("facets: []   # no column name suggests a protected attribute: add those the model must be fair to")
    return "\n".join(out) + "\n"


def infer(path: Path, name: str, rows: int) -> str:
    encoding, text = read_head(path)
    try:
        delimiter = guess_delimiter(text)
    except InferError as exc:
        raise InferError(f"{path}: {exc}") from None
    records = split_lines(text, delimiter, rows + 1)
    width = Counter(len(record) for record in records).most_common(1)[0][0]
    records = [record for record in records if len(record) == width]
    header = guess_header(records)
    names = records[0] if header else [f"column_{index + 1}" for index in range(width)]
    data = records[1:] if header else records
    if not data:
        raise InferError(f"{path}: has no data rows")
    return render(Inferred(name, path, encoding, delimiter, header, profile(data, names), len(data)))


def validate(text: str, target: Path) -> list[str]:
    """The spec model's problems with the inferred text (none unless this tool has a bug)."""
    import yaml  # the project's own dependencies, only to check the result

    from config.dataset_spec import DatasetSpec
    from config.loader import ConfigError
    from config.loader import validate as validate_model

    try:
        validate_model(DatasetSpec, yaml.safe_load(text), target)
    except ConfigError as exc:
        return exc.problems
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Infer a dataset spec from a CSV file", allow_abbrev=False)
    parser.add_argument("csv", help="the data file (CSV or other delimited text)")
    parser.add_argument("--name", default="", help="dataset name: config/datasets/<name>.yaml")
    parser.add_argument("--rows", type=int, default=20_000, help="records read to infer types and values")
    parser.add_argument("--output", type=Path, help="file to write (default: config/datasets/<name>.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)
    if not args.csv or not args.name:
        parser.error("give the file and the name: make new-dataset CSV=path/to/data.csv NAME=my_data [FORCE=1]")
    if not NAME_RE.fullmatch(args.name):
        parser.error(f"--name must be 2-64 lowercase letters, digits, '-' or '_', got {args.name!r}")
    target = args.output or DATASETS / f"{args.name}.yaml"
    if target.exists() and not args.force:
        print(f"error: {target} exists: keep it, choose another NAME, or overwrite it with FORCE=1 (--force)",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        text = infer(Path(args.csv), args.name.replace("_", "-"), args.rows)
    except InferError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = validate(text, target)
    if problems:
        print("error: the inferred spec is not valid (a bug of this tool; nothing was written):", file=sys.stderr)
        print("\n".join(problems), file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(next_steps(target, text, args.csv))
    return 0


def next_steps(target: Path, text: str, csv_path: str) -> str:
    """What to do with the written spec: the config keys to set (relative to the shipped config's folder), the run."""
    config = REPO_ROOT / "config" / "environments.yaml"
    import yaml

    reference = os.path.relpath(target.resolve(), config.parent)
    name = yaml.safe_load(text)["name"]
    lines = [
        f"wrote {target}: check the lines marked CONFIRM, then in your config ({config.relative_to(REPO_ROOT)}) set",
        "  model_build:",
        f"    dataset_spec: {reference}",
    ]
    if "\nsample_path:" not in text:
        lines.append(
            f"    input_data_prefix: datasets/{name}/   # the cloud runs' data: s3://<data bucket>/datasets/{name}/"
        )
    lines.append(f'and run: make local-pipeline ARGS="--input {csv_path}"')
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

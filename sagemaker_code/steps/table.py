"""The input as typed columns: numbers as float64, categories as small integer codes into a dictionary.

A 1 GB file holds hundreds of millions of cells; kept as Python strings they would take 26-51 times the file's size.
Here each chunk of rows (:mod:`sagemaker_code.steps.csv_input`) is parsed once per distinct value (the same functions
as the transform and serving, so they accept the same values) and kept as 8 bytes per number and 1-4 bytes per
category, so memory is about the size of the file, not a multiple of it. Every problem of the values is collected
while reading and reported at once, with the file and line of up to five rows per problem.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

from sagemaker_code.steps.common import StepError, input_files
from sagemaker_code.steps.csv_input import (
    EXAMPLES,
    DataValidationError,
    Dialect,
    FileShape,
    examples_text,
    read_chunks,
    restore,
    rows_text,
    scan,
)
from sagemaker_code.steps.spec import Column, CsvFormat, DatasetSpec
from sagemaker_code.steps.transform import INTEGER_RE, category_table, factorized, number_table

logger = logging.getLogger(__name__)

#: Where a problem's text says how many rows have it.
ROWS = "\x00rows\x00"


@dataclass
class NumericColumn:
    values: np.ndarray  # float64, NaN = missing
    integral: bool  # every present value is written as a whole number (Model Monitor would infer "Integral")


@dataclass
class CategoricalColumn:
    codes: np.ndarray  # the smallest signed integer type; -1 = missing
    categories: list[str]  # code -> trimmed text, in order of first appearance

    def values(self, rows: np.ndarray | None = None) -> pd.Series:
        """The text of the rows (all by default) as a pandas categorical (NaN = missing)."""
        codes = self.codes if rows is None else self.codes[rows]
        return pd.Series(pd.Categorical.from_codes(codes.astype(np.int64), categories=self.categories))


TypedColumn = NumericColumn | CategoricalColumn


@dataclass(frozen=True)
class Source:
    """One input file and its rows in the table."""

    path: Path
    name: str
    first_row: int
    shape: FileShape


@dataclass
class Table:
    columns: dict[str, TypedColumn]  # by the column's name as the files write it
    rows: int
    sources: list[Source]
    dropped: dict[str, int] = field(default_factory=dict)  # rows with a missing value, per drop_row column
    rows_dropped: int = 0  # rows left out (a row may miss several drop_row columns)

    def numeric(self, name: str) -> NumericColumn:
        column = self.columns[name]
        assert isinstance(column, NumericColumn)  # noqa: S101 - the spec's type decided the builder
        return column

    def categorical(self, name: str) -> CategoricalColumn:
        column = self.columns[name]
        assert isinstance(column, CategoricalColumn)  # noqa: S101
        return column


def _smallest(codes: np.ndarray, size: int) -> np.ndarray:
    dtype = np.int8 if size < 2**7 else np.int16 if size < 2**15 else np.int32
    return codes.astype(dtype)


@dataclass
class _Problem:
    """Rows with one kind of problem: how many, and the first few (row, quoted value)."""

    text: str
    count: int = 0
    examples: list[tuple[int, str | None]] = field(default_factory=list)

    def add(self, rows: np.ndarray, quote: Sequence[str | None]) -> None:
        self.count += int(rows.size)
        room = EXAMPLES - len(self.examples)
        self.examples += list(zip(rows[:room].tolist(), list(quote)[:room], strict=True))


class _Builder:
    """Accumulates one column's chunks."""

    def __init__(self, column: Column, fmt: CsvFormat, numeric: bool) -> None:
        self.column, self.missing_values, self.numeric = column, fmt.missing_values, numeric
        self.dialect = Dialect.of(fmt)
        self.parts: list[np.ndarray] = []
        self.dictionary: dict[str, int] = {}
        self.integral = True
        self.bad = _Problem(f"column {column.name!r} (numeric): {ROWS} with a value that is not a number: ")

    def add(self, series: pd.Series, first_row: int) -> None:
        codes, uniques = factorized(series)
        uniques = [restore(value, self.dialect) for value in uniques]
        if self.numeric:
            numbers, bad = number_table(uniques, self.missing_values)
            if bad:
                rows = np.flatnonzero(np.isin(codes, list(bad)))
                self.bad.add(rows + first_row, [repr(uniques[code]) for code in codes[rows[:EXAMPLES]].tolist()])
            if self.integral:
                present = [position for position, number in enumerate(numbers.tolist()) if not math.isnan(number)]
                self.integral = all(
                    numbers[position].is_integer() and INTEGER_RE.fullmatch(str(uniques[position]).strip())
                    for position in present
                )
            self.parts.append(np.append(numbers, np.nan)[codes])
        else:
            texts, _ = category_table(uniques, self.missing_values)  # text cells always parse
            table = [-1 if text is None else self.dictionary.setdefault(text, len(self.dictionary)) for text in texts]
            mapped = np.array([*table, -1], dtype=np.int64)[codes]
            self.parts.append(_smallest(mapped, len(self.dictionary)))

    def build(self) -> TypedColumn:
        if self.numeric:
            values = np.concatenate(self.parts) if self.parts else np.empty(0)
            self.parts = []
            return NumericColumn(values=values, integral=self.integral)
        size = len(self.dictionary)
        codes = np.concatenate([_smallest(part, size) for part in self.parts]) if self.parts else np.empty(0, np.int8)
        self.parts = []
        return CategoricalColumn(codes=codes, categories=list(self.dictionary))


def _locate(sources: list[Source], fmt: CsvFormat, rows: set[int]) -> dict[int, str]:
    """'german.data line 17' of each table row (the exact pass, once per file that holds one)."""
    where: dict[int, str] = {}
    for source in sources:
        wanted = {
            row - source.first_row for row in rows if source.first_row <= row < source.first_row + source.shape.rows
        }
        if wanted:
            lines = scan(source.path, source.name, fmt, source.shape.expected, wanted).lines
            where.update({source.first_row + row: f"{source.name} line {line}" for row, line in lines.items()})
    return where


def _read(
    root: Path, fmt: CsvFormat, columns: Sequence[Column], numeric: Sequence[bool]
) -> tuple[list[_Builder], list[Source]]:
    """Every file of ``root`` read into builders; the rows with the wrong number of fields stop it with a message."""
    try:
        files = input_files(root, "input")
    except StepError as exc:
        raise DataValidationError(str(exc)) from None
    builders = [_Builder(column, fmt, kind) for column, kind in zip(columns, numeric, strict=True)]
    names = [column.name for column in columns]
    sources: list[Source] = []
    bad_rows: list[str] = []
    bad_count, expected_text, rows = 0, "", 0
    for path in files:
        name = path.name if root.is_file() else path.relative_to(root).as_posix()
        shape = FileShape(name=name, first_line=1)
        for chunk in read_chunks(path, name, fmt, names, shape):
            if not bad_count:
                for builder, series in zip(builders, chunk, strict=True):
                    builder.add(series, rows)
            rows += len(chunk[0])
        if shape.extra_columns:
            logger.warning("%s: ignoring columns that are not in the spec: %s", name, shape.extra_columns)
        if shape.bad_shape:
            found = scan(path, name, fmt, shape.expected)
            if not found.bad_count:
                raise DataValidationError(f"{name}: cannot be read as the spec's format: {shape.parser_error}")
            bad_count += found.bad_count
            bad_rows += found.bad_rows[: EXAMPLES - len(bad_rows)]
            expected_text = shape.expected_text
        sources.append(Source(path=path, name=name, first_row=rows - shape.rows, shape=shape))
    if bad_count:
        raise DataValidationError(
            f"{rows_text(bad_count)} with the wrong number of fields (expected {expected_text}): "
            f"{examples_text(bad_rows, bad_count)}"
        )
    return builders, sources


def read_table(root: Path, columns: tuple[str, ...], fmt: CsvFormat) -> RawTable:
    """Every file of ``root`` (a file or a folder) as text columns: pandas categoricals of the trimmed values (NaN when
    missing), whatever the spec's types; for files the pipeline wrote itself, such as ``test_raw.csv``."""
    specs = [Column(name=name, type="categorical", id=f"c{index}") for index, name in enumerate(columns)]
    builders, _ = _read(root, fmt, specs, [False] * len(specs))
    built = [builder.build() for builder in builders]
    frame = pd.DataFrame(
        {
            name: column.values()
            for name, column in zip(columns, built, strict=True)
            if isinstance(column, CategoricalColumn)
        }
    )
    return RawTable(frame=frame)


@dataclass(frozen=True)
class RawTable:
    """Raw rows: a frame of the spec columns (trimmed text, NaN when missing)."""

    frame: pd.DataFrame


def read_typed(root: Path, spec: DatasetSpec) -> Table:
    """The input as typed columns, checked against the spec (every problem at once); drop_row rows left out."""
    fmt = spec.format
    builders, sources = _read(root, fmt, spec.columns, [column.type == "numeric" for column in spec.columns])
    rows = sum(source.shape.rows for source in sources)
    problems = [builder.bad for builder in builders if builder.bad.count]
    table = Table(columns={}, rows=rows, sources=sources)
    for column, builder in zip(spec.columns, builders, strict=True):
        table.columns[column.name] = builder.build()
    drop = np.zeros(rows, dtype=bool)
    for column in spec.columns:
        typed = table.columns[column.name]
        missing = np.isnan(typed.values) if isinstance(typed, NumericColumn) else typed.codes < 0
        policy = spec.label_policy if column.name == spec.label.column else column.policy
        if column.name == spec.label.column:
            assert isinstance(typed, CategoricalColumn)  # noqa: S101
            problems += _label_problems(spec, typed, missing & (policy == "error"))
        elif policy == "error" and missing.any():
            problem = _Problem(f"column {column.name!r} ({column.type}, missing: error): {ROWS} with a missing value: ")
            rows_missing = np.flatnonzero(missing)
            problem.add(rows_missing, [None] * min(EXAMPLES, rows_missing.size))
            problems.append(problem)
        elif isinstance(typed, NumericColumn) and not missing.size - int(missing.sum()):
            problems.append(_Problem(f"column {column.name!r} (numeric): no values, all {rows} rows are missing"))
        if policy == "drop_row" and missing.any():
            table.dropped[column.name] = int(missing.sum())
            drop |= missing
    if problems:
        where = _locate(sources, fmt, {row for problem in problems for row, _ in problem.examples})
        raise DataValidationError("\n".join(_message(problem, where) for problem in problems))
    if drop.any():
        keep = ~drop
        for name, typed in table.columns.items():
            if isinstance(typed, NumericColumn):
                table.columns[name] = NumericColumn(values=typed.values[keep], integral=typed.integral)
            else:
                table.columns[name] = CategoricalColumn(codes=typed.codes[keep], categories=typed.categories)
        table.rows, table.rows_dropped = int(keep.sum()), int(drop.sum())
        logger.info("left out %d rows with a missing value in a drop_row column: %s", int(drop.sum()), table.dropped)
    return table


def _label_problems(spec: DatasetSpec, label: CategoricalColumn, refused_missing: np.ndarray) -> list[_Problem]:
    outside = [code for code, value in enumerate(label.categories) if value not in spec.label.values]
    bad = np.isin(label.codes, outside) | refused_missing
    if not bad.any():
        return []
    problem = _Problem(
        f"label column {spec.label.column!r}: {ROWS} with a value outside label.values {list(spec.label.values)}: "
    )
    rows = np.flatnonzero(bad)
    codes = label.codes[rows[:EXAMPLES]].tolist()
    problem.add(rows, ["missing" if code < 0 else repr(label.categories[code]) for code in codes])
    return [problem]


def _message(problem: _Problem, where: dict[int, str]) -> str:
    if ROWS not in problem.text:
        return problem.text
    quoted = [
        where.get(row, f"row {row + 1}") if value is None else f"{value} ({where.get(row, f'row {row + 1}')})"
        for row, value in problem.examples
    ]
    return problem.text.replace(ROWS, rows_text(problem.count)) + examples_text(quoted, problem.count)

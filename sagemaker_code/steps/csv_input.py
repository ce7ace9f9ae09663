"""Reading delimited text files in chunks of rows, at C speed, with every row's shape checked.

The fast path is pandas' C parser over a text stream that this module prepares on the fly (:class:`_Text`):

- decoded in the spec's encoding (a UTF-8 byte-order mark is dropped), line breaks of any kind read as ``\\n``;
- a delimiter of several characters (``", "``) replaced by the unit separator U+001F, which the C parser takes;
- every line ended by the delimiter and the record separator U+001E (the *sentinel*): a row whose last field is not
  the sentinel had too few fields (the C parser would pad it silently), and one with too many makes the parser stop;
- lines of nothing but spaces and tabs emptied, and rows whose every field is blank skipped (a trailing blank line).

Only when a row has the wrong number of fields, or a value is wrong, does a slower exact pass with the standard
library's ``csv`` module read the file again, to count every bad row and find the line of each row a message quotes.
The two control characters may not occur in the data (a file containing them is refused with a message).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

from sagemaker_code.steps.common import StepError
from sagemaker_code.steps.spec import CsvFormat

SENTINEL = "\x1e"
UNIT_SEPARATOR = "\x1f"
#: Characters decoded per read of the text stream (whole lines are added to it).
BLOCK_CHARS = 1 << 22
#: Rows per chunk handed to the caller: bounds the memory of the text of one chunk.
CHUNK_ROWS = 100_000
#: How many offending rows a message quotes.
EXAMPLES = 5
_BLANK_LINES = re.compile(r"(?m)^[ \t]+$")


class DataValidationError(StepError):
    """The input does not match the dataset spec; the message says what is wrong and where."""


def rows_text(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def examples_text(items: Sequence[str], total: int) -> str:
    more = f", and {total - len(items)} more" if total > len(items) else ""
    return ", ".join(items) + more


@dataclass(frozen=True)
class Dialect:
    """How the parsers see a file of a spec's format."""

    delimiter: str  # the one character the parsers split at
    replaces: str | None  # the spec's delimiter of several characters that ``delimiter`` stands for
    skip_initial_space: bool  # quotes after the delimiter's spaces still quote (not with a space delimiter)
    encoding: str

    @classmethod
    def of(cls, fmt: CsvFormat) -> Dialect:
        multi = len(fmt.delimiter) > 1
        encoding = "utf-8-sig" if codecs.lookup(fmt.encoding).name == "utf-8" else fmt.encoding
        return cls(
            delimiter=UNIT_SEPARATOR if multi else fmt.delimiter,
            replaces=fmt.delimiter if multi else None,
            skip_initial_space=not any(char in fmt.delimiter for char in " \t"),
            encoding=encoding,
        )


def _bad_byte(path: Path, encoding: str) -> int:
    """Offset of the first byte that does not decode (the error path: the whole file is decoded again)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    consumed = 0
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return consumed - pending + exc.start
            consumed += len(block)
    return consumed


class _Text:
    """The decoded, translated text of one file, read in whole lines (see the module docstring)."""

    def __init__(self, path: Path, name: str, dialect: Dialect) -> None:
        self.path, self.name, self.dialect = path, name, dialect
        self.sentinel = False  # switched on after the header: pandas reads the rest
        self._file = io.TextIOWrapper(path.open("rb"), encoding=dialect.encoding, newline=None)
        self._ended = False

    def close(self) -> None:
        self._file.close()

    def _decoded(self, read: Callable[[], str]) -> str:
        try:
            text = read()
        except UnicodeDecodeError:
            offset = _bad_byte(self.path, self.dialect.encoding.removesuffix("-sig"))
            raise DataValidationError(f"{self.name}: not {self._codec()} text (byte {offset})") from None
        return text

    def _codec(self) -> str:
        name = self.dialect.encoding.removesuffix("-sig")
        return "UTF-8" if codecs.lookup(name).name == "utf-8" else name

    def _translate(self, text: str) -> str:
        if "\x00" in text:
            raise DataValidationError(f"{self.name}: not a text file (it contains NUL bytes)")
        reserved = [char for char in (SENTINEL, UNIT_SEPARATOR) if char in text]
        if reserved:
            raise DataValidationError(
                f"{self.name}: contains the control character U+{ord(reserved[0]):04X}, which the reader reserves"
            )
        if self.dialect.replaces:
            text = text.replace(self.dialect.replaces, UNIT_SEPARATOR)
        if "\n " in text or "\n\t" in text or text[:1] in (" ", "\t"):
            text = _BLANK_LINES.sub("", text)
        if self.sentinel:
            end = self.dialect.delimiter + SENTINEL
            text = text.replace("\n", end + "\n")
            if text and not text.endswith("\n"):  # the last line has no line break
                text += end
        return text

    def read(self, size: int = -1) -> str:
        """Up to about ``size`` characters, completed to the end of a line."""
        if self._ended:
            return ""
        text = self._decoded(lambda: self._file.read(size if size > 0 else BLOCK_CHARS))
        if text and not text.endswith("\n"):
            text += self._decoded(self._file.readline)
        if not text or not text.endswith("\n"):
            self._ended = True
        return self._translate(text)

    def __iter__(self) -> Iterator[str]:
        while line := self._decoded(self._file.readline):
            yield self._translate(line)


def restore(text: object, dialect: Dialect) -> object:
    """A field's text as the file wrote it: inside quotes, the stand-in of a delimiter of several characters becomes
    the delimiter again, and the line end the reader added before a quoted line break goes."""
    if not isinstance(text, str) or (SENTINEL not in text and UNIT_SEPARATOR not in text):
        return text
    text = text.replace(dialect.delimiter + SENTINEL, "")
    return text.replace(UNIT_SEPARATOR, dialect.replaces) if dialect.replaces else text


def _blank(fields: Sequence[object]) -> bool:
    return all(not isinstance(value, str) or not value.strip() or value == SENTINEL for value in fields)


def _blank_cells(series: pd.Series) -> np.ndarray:
    """Mask of the cells that are blank (or the sentinel), from the distinct values only."""
    codes, uniques = pd.factorize(series)
    blank = [position for position, value in enumerate(uniques) if _blank([value])]
    mask: np.ndarray = np.isin(codes, blank) | (codes < 0)
    return mask


@dataclass
class FileShape:
    """What the fast path learned about one file: its data rows, and whether some had the wrong number of fields."""

    name: str
    first_line: int  # the line after the header (1 without a header)
    rows: int = 0
    bad_shape: bool = False
    expected: int = 0
    expected_text: str = ""
    extra_columns: list[str] = field(default_factory=list)
    parser_error: str = ""


def _header_positions(header: list[str], columns: Sequence[str], where: str) -> list[int]:
    """Position of each spec column in a file's header; the header must name each spec column once."""
    absent = [column for column in columns if column not in header]
    if absent:
        folded = {name.casefold(): name for name in header}
        hints = [
            f"{column!r} is written {folded[column.casefold()]!r}" for column in absent if column.casefold() in folded
        ]
        hint = f" ({'; '.join(hints)}: names must match exactly)" if hints else ""
        raise DataValidationError(f"{where} lacks the columns {list(absent)}; it has {header}{hint}")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise DataValidationError(f"{where} repeats {twice}")
    return [header.index(column) for column in columns]


def read_chunks(
    path: Path, name: str, fmt: CsvFormat, columns: Sequence[str], shape: FileShape, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[list[pd.Series]]:
    """The spec columns of one file, chunk by chunk (text, untrimmed; blank rows left out); ``shape`` is filled in.

    Stops early (``shape.bad_shape``) at the first chunk with a row of the wrong number of fields: the caller then
    reports them all with :func:`scan`.
    """
    dialect = Dialect.of(fmt)
    text = _Text(path, name, dialect)
    try:
        if fmt.header:
            reader = csv.reader(iter(text), delimiter=dialect.delimiter, skipinitialspace=dialect.skip_initial_space)
            header = next((fields for fields in reader if not _blank(fields)), None)
            if header is None:
                raise DataValidationError(f"{name}: file is empty")
            names = [str(restore(item, dialect)).strip() for item in header]
            positions = _header_positions(names, columns, f"{name}: the header (line {reader.line_num})")
            shape.first_line, shape.expected = reader.line_num + 1, len(names)
            shape.expected_text = f"the {len(names)} columns of the header"
            shape.extra_columns = [item for item in names if item not in columns]
        else:
            positions, shape.first_line, shape.expected = list(range(len(columns))), 1, len(columns)
            shape.expected_text = f"the spec's {len(columns)} columns"
        text.sentinel = True
        chunks = pd.read_csv(
            text,
            sep=dialect.delimiter,
            header=None,
            names=list(range(shape.expected + 1)),
            dtype=str,
            na_filter=False,
            skip_blank_lines=True,
            skipinitialspace=dialect.skip_initial_space,
            engine="c",
            index_col=False,
            chunksize=chunk_rows,
        )
        try:
            for chunk in chunks:
                ended = chunk[shape.expected].to_numpy(dtype=object) == SENTINEL
                suspects = ~ended | _blank_cells(chunk[0])
                keep = ~suspects
                for row in np.flatnonzero(suspects).tolist():
                    values = chunk.iloc[row].tolist()
                    if _blank(values):
                        continue
                    if not ended[row]:
                        shape.bad_shape = True
                        return
                    keep[row] = True
                selected = [chunk[position][keep].reset_index(drop=True) for position in positions]
                shape.rows += int(keep.sum())
                if shape.rows and selected and len(selected[0]):
                    yield selected
        except pd.errors.ParserError as exc:
            shape.bad_shape, shape.parser_error = True, str(exc).removeprefix("Error tokenizing data. ")
        if shape.rows == 0 and not shape.bad_shape:
            raise DataValidationError(f"{name}: {'has a header but no data rows' if fmt.header else 'file is empty'}")
    finally:
        text.close()


@dataclass
class ScanResult:
    bad_rows: list[str] = field(default_factory=list)  # "german.data line 3 has 20", the first EXAMPLES
    bad_count: int = 0
    lines: dict[int, int] = field(default_factory=dict)  # data row (0-based, in this file) -> line


def scan(path: Path, name: str, fmt: CsvFormat, expected: int, wanted: set[int] | None = None) -> ScanResult:
    """The exact pass: every row with the wrong number of fields, and the line of each ``wanted`` data row."""
    dialect = Dialect.of(fmt)
    text = _Text(path, name, dialect)
    result = ScanResult()
    wanted = wanted or set()
    try:
        reader = csv.reader(iter(text), delimiter=dialect.delimiter, skipinitialspace=dialect.skip_initial_space)
        header_pending, row = fmt.header, 0
        try:
            for fields in reader:
                if _blank(fields):
                    continue
                if header_pending:
                    header_pending = False
                    continue
                if len(fields) != expected:
                    result.bad_count += 1
                    if len(result.bad_rows) < EXAMPLES:
                        result.bad_rows.append(f"{name} line {reader.line_num} has {len(fields)}")
                    continue
                if row in wanted:
                    result.lines[row] = reader.line_num
                row += 1
        except csv.Error as exc:
            raise DataValidationError(f"{name} line {reader.line_num}: {exc}") from None
    finally:
        text.close()
    return result

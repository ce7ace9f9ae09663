"""Reading real-world delimited files: delimiters of several characters, quoting, whitespace, blank lines, line
breaks, encodings, chunk boundaries, and a clear message (file, line) for each malformed input."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from sagemaker_code.steps import csv_input
from sagemaker_code.steps.csv_input import DataValidationError, FileShape, read_chunks
from sagemaker_code.steps.spec import CsvFormat, DatasetSpec, spec_from_dict
from sagemaker_code.steps.table import CategoricalColumn, NumericColumn, Table, read_table, read_typed
from sagemaker_code.steps.transform import number_table, parse_number


def tiny_spec(
    delimiter: str = ",",
    *,
    header: bool = True,
    missing: tuple[str, ...] = ("?",),
    encoding: str = "utf-8",
    **policies: str,
) -> DatasetSpec:
    """amount (numeric), colour-code (categorical), outcome (the label)."""
    columns = [
        {"name": "amount", "id": "amount", "type": "numeric", "missing": policies.get("amount", "impute")},
        {
            "name": "colour-code",
            "id": "colour_code",
            "type": "categorical",
            "missing": policies.get("colour", "category"),
        },
        {"name": "outcome", "id": "outcome", "type": "categorical", "missing": policies.get("outcome", "error")},
    ]
    data = {
        "name": "tiny",
        "format": {"type": "csv", "header": header, "delimiter": delimiter, "missing_values": list(missing),
                   "encoding": encoding},
        "columns": columns,
        "label": {"column": "outcome", "values": ["yes", "no"], "positive": "yes", "decision_threshold": None},
        "cost_matrix": {"false_positive": 1, "false_negative": 1},
        "split": {"validation": 0.2, "test": 0.2, "seed": 1},
        "facets": [],
    }  # fmt: skip
    return spec_from_dict(data, Path("tiny.json"))


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def values(table: Table) -> list[tuple[float, str | None, str | None]]:
    amount = table.columns["amount"]
    colour = table.columns["colour-code"]
    outcome = table.columns["outcome"]
    assert isinstance(amount, NumericColumn)
    assert isinstance(colour, CategoricalColumn)
    assert isinstance(outcome, CategoricalColumn)

    def text(column: CategoricalColumn, row: int) -> str | None:
        code = int(column.codes[row])
        return None if code < 0 else column.categories[code]

    return [(float(amount.values[row]), text(colour, row), text(outcome, row)) for row in range(table.rows)]


def failure(path: Path, spec: DatasetSpec) -> str:
    with pytest.raises(DataValidationError) as info:
        read_typed(path, spec)
    return str(info.value)


Row = tuple[float, str | None, str | None]


def same(left: Sequence[Row], right: Sequence[Row]) -> bool:
    return all(
        ((math.isnan(a[0]) and math.isnan(b[0])) or a[0] == b[0]) and a[1:] == b[1:]
        for a, b in zip(left, right, strict=True)
    ) and len(left) == len(right)


EXPECTED: list[Row] = [(1.5, "red", "yes"), (math.nan, "blue, dark", "no"), (3.0, None, "yes")]


@pytest.mark.parametrize(
    ("delimiter", "text"),
    [
        pytest.param(",", 'amount,colour-code,outcome\n1.5,red,yes\n?,"blue, dark",no\n3,,yes\n', id="comma"),
        pytest.param(
            ", ", 'amount, colour-code, outcome\n1.5, red, yes\n?, "blue, dark", no\n3, ?, yes\n\n', id="comma-space"
        ),
        pytest.param(
            "||", "amount||colour-code||outcome\n1.5||red||yes\n?||blue, dark||no\n3||||yes\n", id="two-pipes"
        ),
        pytest.param("\t", "amount\tcolour-code\toutcome\n 1.5 \t red\tyes \n?\tblue, dark\tno\n3\t\tyes\n", id="tab"),
        pytest.param(
            ";",
            '\ufeffamount;colour-code;outcome\r\n1.5;red;yes\r\n\r\n?;"blue, dark";no\r\n3; ;yes\r\n',
            id="bom-crlf",
        ),
        pytest.param(",", 'amount,colour-code,outcome\n1.5,red,yes\n,,\n   \n?,"blue, dark",no\n3,"",yes', id="blanks"),
    ],
)
def test_formats_read_alike(tmp_path: Path, delimiter: str, text: str) -> None:
    table = read_typed(write(tmp_path / "data.csv", text), tiny_spec(delimiter))
    assert same(values(table), EXPECTED)


def test_quoted_fields_may_hold_line_breaks_and_quotes(tmp_path: Path) -> None:
    text = 'amount,colour-code,outcome\n1.5,"red\nish","yes"\n2,"say ""hi""",no\n'
    table = read_typed(write(tmp_path / "data.csv", text), tiny_spec())
    assert values(table) == [(1.5, "red\nish", "yes"), (2.0, 'say "hi"', "no")]


def test_other_encodings(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "amount,colour-code,outcome\n1,rosé,yes\n2,grün,no\n".encode("latin-1"))
    assert [row[1] for row in values(read_typed(path, tiny_spec(encoding="latin-1")))] == ["rosé", "grün"]
    assert failure(path, tiny_spec()) == "data.csv: not UTF-8 text (byte 32)"  # the é of line 2


def test_header_columns_by_name_in_any_order_and_extra_ones_ignored(tmp_path: Path) -> None:
    text = "id,outcome,amount,colour-code\n9,yes,1.5,red\n8,no,?,blue\n"
    assert values(read_typed(write(tmp_path / "data.csv", text), tiny_spec()))[0] == (1.5, "red", "yes")


def test_header_names_must_match_exactly(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "Amount,colour-code,outcome\n1,red,yes\n")
    assert failure(path, tiny_spec()) == (
        "data.csv: the header (line 1) lacks the columns ['amount']; it has ['Amount', 'colour-code', 'outcome'] "
        "('amount' is written 'Amount': names must match exactly)"
    )
    path = write(tmp_path / "data.csv", "amount,colour-code,outcome,amount\n1,red,yes,2\n")
    assert failure(path, tiny_spec()) == "data.csv: the header (line 1) repeats ['amount']"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "amount, colour-code, outcome\n1, red, yes\n2, red\n3, red, no, extra\n4, red, no\n",
            "2 rows with the wrong number of fields (expected the 3 columns of the header): data.csv line 3 has 2, "
            "data.csv line 4 has 4",
            id="short-and-long",
        ),
        pytest.param("amount, colour-code, outcome\n\n\n", "data.csv: has a header but no data rows", id="header-only"),
        pytest.param("\n \n", "data.csv: file is empty", id="empty"),
        pytest.param(
            "amount, colour-code, outcome\n1, red\x00, yes\n",
            "data.csv: not a text file (it contains NUL bytes)",
            id="binary",
        ),
        pytest.param(
            "amount, colour-code, outcome\n1, r\x1ed, yes\n",
            "data.csv: contains the control character U+001E, which the reader reserves",
            id="reserved-character",
        ),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    assert failure(write(tmp_path / "data.csv", text), tiny_spec(", ")) == message


def test_value_problems_name_the_file_line_and_value(tmp_path: Path) -> None:
    text = "amount,colour-code,outcome\n\n1,red,yes\nten,red,no\n2,,maybe\n3,red,\n4,red,yes\n"
    assert failure(write(tmp_path / "data.csv", text), tiny_spec()).splitlines() == [
        "column 'amount' (numeric): 1 row with a value that is not a number: 'ten' (data.csv line 4)",
        "label column 'outcome': 2 rows with a value outside label.values ['yes', 'no']: 'maybe' (data.csv line 5), "
        "missing (data.csv line 6)",
    ]


def test_missing_policies_error_and_drop_row(tmp_path: Path) -> None:
    text = "amount,colour-code,outcome\n1,red,yes\n?,blue,no\n3,,yes\n4,red,\n"
    path = write(tmp_path / "data.csv", text)
    assert failure(path, tiny_spec(amount="error", outcome="drop_row")) == (
        "column 'amount' (numeric, missing: error): 1 row with a missing value: data.csv line 3"
    )
    table = read_typed(path, tiny_spec(colour="drop_row", outcome="drop_row"))
    assert same(values(table), [(1.0, "red", "yes"), (math.nan, "blue", "no")])
    assert table.dropped == {"colour-code": 1, "outcome": 1}
    assert table.rows_dropped == 2


def test_chunks_give_the_same_table_as_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    lines = ["amount,colour-code,outcome"]
    for index in range(500):
        amount = "?" if index % 7 == 0 else f"{rng.normal(100, 30):.3f}" if index % 3 else str(index)
        colour = "" if index % 11 == 0 else f"c{int(rng.integers(0, 40))}"
        lines.append(f"{amount},{colour},{'yes' if rng.random() < 0.4 else 'no'}")
        if index % 50 == 0:
            lines.append("")
    path = write(tmp_path / "data.csv", "\n".join(lines) + "\n")
    whole = read_typed(path, tiny_spec())
    monkeypatch.setattr(csv_input, "CHUNK_ROWS", 7)
    monkeypatch.setattr(csv_input, "BLOCK_CHARS", 64)
    pieces = read_typed(path, tiny_spec())
    assert whole.rows == pieces.rows == 500
    assert same(values(whole), values(pieces))
    assert values(whole)[3][0] == 3.0  # written "3"
    assert whole.numeric("amount").integral is False  # "99.125": fractional
    shape = FileShape(name="data.csv", first_line=1)
    assert sum(len(chunk[0]) for chunk in read_chunks(path, "data.csv", tiny_spec().format, ["amount"], shape)) == 500


def test_read_table_gives_text_categoricals(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "a,b\n 1 ,x\n?,\n")
    frame = read_table(path, ("a", "b"), CsvFormat(header=True, delimiter=",", missing_values=("?",))).frame
    assert frame["a"].tolist()[0] == "1"
    assert frame.isna().sum().tolist() == [1, 1]


@pytest.mark.parametrize(
    "text",
    [" 12 ", "1e3", "-0", "+.5", "5.", "1E+05", "0005", "inf", "-Infinity", "nan", "NaN", "1_000", "0x10", "1,5", "",
     "?", "١٢", "1e400", "\u22125", "1.5e", ".", "+", "12 3", "True"],
)  # fmt: skip
def test_vectorized_numbers_parse_exactly_like_parse_number(text: str) -> None:
    """Preprocess (pd.to_numeric, then parse_number for the rest) and serving (parse_number) accept the same text."""
    numbers, bad = number_table([text], ("?",))
    try:
        expected = parse_number(text, ("?",))
    except ValueError:
        assert 0 in bad
        return
    assert not bad
    assert (math.isnan(expected) and math.isnan(numbers[0])) or numbers[0] == expected

"""tools/new_dataset.py (make new-dataset): a spec inferred from a CSV is valid, reads its file, and says what to
confirm; bad files get one clear line and nothing is written; an existing spec is kept unless --force."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
import yaml

from config.dataset_spec import DatasetSpec
from sagemaker_code.steps.spec import spec_from_dict
from sagemaker_code.steps.table import read_typed
from tests.sagemaker_code.steps.test_real_world_csv import adult_like_rows, write_adult
from tests.step_fixtures import REPO_ROOT, SAMPLE
from tools.new_dataset import main

ADULT_NAMES = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation", "relationship",
    "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]  # fmt: skip


def infer(tmp_path: Path, data: Path, *extra: str) -> tuple[dict[str, object], str]:
    target = tmp_path / "spec.yaml"
    assert main([str(data), "--name", "my_data", "--output", str(target), *extra]) == 0
    text = target.read_text()
    return yaml.safe_load(text), text


def reads_its_file(data: dict[str, object], path: Path) -> int:
    """The inferred spec validates and the pipeline's reader reads the file with it; the rows read."""
    model = DatasetSpec.model_validate(data)
    return read_typed(path, spec_from_dict(model.model_dump(mode="json"), path)).rows


def test_a_census_file_as_published(tmp_path: Path) -> None:
    path = write_adult(tmp_path / "adult.data", adult_like_rows(300))
    data, text = infer(tmp_path, path)
    assert data["name"] == "my-data"
    assert data["format"] == {"type": "csv", "header": False, "delimiter": ", ", "missing_values": ["?"]}
    columns = data["columns"]
    assert isinstance(columns, list)
    assert len(columns) == 15
    assert [column["type"] for column in columns][:3] == ["numeric", "categorical", "numeric"]
    label = data["label"]
    assert isinstance(label, dict)
    assert (label["column"], sorted(label["values"]), label["positive"]) == ("column_15", ["<=50K", ">50K"], ">50K")
    assert "no header: CONFIRM and rename the columns" in text
    assert "missing: ? x" in text  # the columns where '?' was seen
    assert reads_its_file(data, path) == 300


def test_a_header_names_the_columns_and_suggests_facets(tmp_path: Path) -> None:
    path = write_adult(tmp_path / "adult.csv", [ADULT_NAMES, *adult_like_rows(300)])
    data, text = infer(tmp_path, path)
    assert data["format"]["header"] is True  # type: ignore[index]
    assert [column["name"] for column in data["columns"]] == ADULT_NAMES  # type: ignore[attr-defined]
    assert data["label"]["column"] == "income"  # type: ignore[index]
    facets = {facet["name"]: facet for facet in data["facets"]}  # type: ignore[attr-defined]
    assert set(facets) == {"age", "sex", "race", "marital", "nationality"}
    assert facets["age"]["disadvantaged"] == {"max": 25}
    assert facets["sex"]["disadvantaged"] == {"values": ["Female"]}
    assert facets["nationality"]["column"] == "native-country"
    assert text.count("CONFIRM") >= 8
    assert reads_its_file(data, path) == 300


def test_the_shipped_sample(tmp_path: Path) -> None:
    data, text = infer(tmp_path, SAMPLE)
    assert data["format"] == {"type": "csv", "header": False, "delimiter": " ", "missing_values": []}
    assert data["label"] == {"column": "column_21", "values": ["1", "2"], "positive": "1"}
    assert data["sample_path"] == "data/german_credit/german.data"  # inside the repository: the default input
    assert "few whole numbers: codes? then categorical" in text
    assert reads_its_file(data, SAMPLE) == 1000


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        pytest.param('id;name;score;ok\n1;"Smith, J";0,5;yes\n2;Doe;1,5;no\n3;Roe;2;no\n', ";", id="semicolon"),
        pytest.param("id\tname\tscore\tok\n1\tSmith\t0.5\tyes\n2\tDoe\t1.5\tno\n3\tRoe\t2\tyes\n", "\t", id="tab"),
        pytest.param("id|name|score|ok\n1|Smith|0.5|yes\n2|Doe|1.5|no\n3|Roe|2|yes\n\n", "|", id="pipe"),
    ],
)
def test_delimiters(tmp_path: Path, content: str, delimiter: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    data, _ = infer(tmp_path, path)
    assert data["format"]["delimiter"] == delimiter  # type: ignore[index]
    assert data["label"]["column"] == "ok"  # type: ignore[index]
    assert reads_its_file(data, path) == 3


def test_other_encodings_are_named(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("city,size,ok\nK\xf6ln,3,ja\nM\xfcnchen,4,nein\nBonn,5,ja\n".encode("latin-1"))
    data, _ = infer(tmp_path, path)
    assert data["format"]["encoding"] == "cp1252"  # type: ignore[index]
    assert reads_its_file(data, path) == 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p, "data.csv: not found", id="missing"),
        pytest.param(lambda p: p.mkdir() or p, "data.csv: is a folder", id="folder"),
        pytest.param(lambda p: p.write_text("\n  \n") and p, "data.csv: is empty", id="empty"),
        pytest.param(lambda p: p.write_bytes(b"\x00\x01\x02abc\n" * 10) and p, "it contains NUL bytes", id="binary"),
        pytest.param(lambda p: p.write_bytes(gzip.compress(b"a,b\n1,2\n")) and p, "is compressed", id="gzip"),
        pytest.param(
            lambda p: p.write_text("one\ncolumn\nonly\n") and p,
            "data.csv: no delimiter splits its lines into columns",
            id="no-columns",
        ),
    ],
)
def test_bad_files_get_one_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    assert callable(make)
    path = make(tmp_path / "data.csv")
    target = tmp_path / "spec.yaml"
    code = main([str(path), "--name", "x1", "--output", str(target)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ")
    assert message in err
    assert not target.exists()


def test_an_existing_spec_is_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "spec.yaml"
    target.write_text("mine\n")
    assert main([str(SAMPLE), "--name", "x1", "--output", str(target)]) == 1
    assert "exists: keep it, choose another NAME, or overwrite it with FORCE=1" in capsys.readouterr().err
    assert target.read_text() == "mine\n"
    assert main([str(SAMPLE), "--name", "x1", "--output", str(target), "--force"]) == 0
    assert target.read_text().startswith("# Dataset spec inferred")


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["", "--name", ""])
    assert info.value.code == 2
    assert "make new-dataset CSV=path/to/data.csv NAME=my_data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(SAMPLE), "--name", "Bad Name"])


def test_the_make_target_runs_the_tool() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "new-dataset", "CSV=data/x.csv", "NAME=my_data", "FORCE=1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert '-m tools.new_dataset "data/x.csv" --name "my_data" --force' in dry_run.stdout

"""A config or dataset spec saved in another encoding than UTF-8 is a config error naming the file, where the first
bad byte is and how to convert the file; never a raw UnicodeDecodeError. A UTF-8 byte-order mark is fine."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from config.loader import ConfigError, load_config, load_everything, read_yaml
from tests.config.test_loader import VALID
from tests.conftest import REPO_ROOT

SPEC = (REPO_ROOT / "config" / "datasets" / "german_credit.yaml").read_text(encoding="utf-8")


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    return info.value.problems


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "UTF-16"),
        (lambda text: text.encode("utf-16"), "UTF-16"),  # the platform's byte order, with its mark
        (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "UTF-16"),
        (lambda text: text.encode("utf-32"), "UTF-32"),
    ],
)
def test_a_utf16_or_utf32_file_is_named_with_the_fix(tmp_path: Path, encode: object, encoding: str) -> None:
    path = tmp_path / "env.yaml"
    path.write_bytes(encode(VALID))  # type: ignore[operator]
    assert problems(path) == [
        f"{path}: the file is {encoding}-encoded (it starts with a {encoding} byte-order mark); save it as UTF-8 "
        f"(e.g. `iconv -f {encoding} -t UTF-8 {path} > fixed.yaml`, or your editor's encoding menu)"
    ]


def test_utf16_without_a_byte_order_mark_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_bytes(VALID.encode("utf-16-le"))
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: byte 1 is a NUL byte: this is not UTF-8 text (UTF-16 without a byte-order ")
    assert "save it as UTF-8" in problem


def test_a_latin1_file_names_the_line_column_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    text = VALID.replace("owner: team-a", "owner: équipe-a")  # line 3, column 10
    path.write_bytes(text.encode("latin-1"))
    offset = text.index("é")
    assert problems(path) == [
        f"{path}:3:10: byte 0xe9 (offset {offset}) is not UTF-8: the file looks Latin-1 (ISO-8859-1) or Windows-1252 "
        f"encoded; save it as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8 {path} > fixed.yaml`, or your editor's encoding "
        "menu)"
    ]


def test_a_file_cut_inside_a_character_is_named(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_bytes((VALID + "# é").encode("utf-8")[:-1])
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:{VALID.count(chr(10)) + 1}:3: byte 0xc3 ")
    assert "is not UTF-8: the file ends inside a UTF-8 character; save it as UTF-8" in problem


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_bytes(codecs.BOM_UTF8 + VALID.replace("team-a", "équipe").encode("utf-8"))
    assert load_config(path).project.owner == "équipe"


def test_a_folder_or_a_missing_file_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path) == [f"{tmp_path}: is a folder, expected a YAML file"]
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.problems == [f"{tmp_path / 'nope.yaml'}: config file not found"]


def test_a_latin1_dataset_spec_is_reported_with_the_spec_file(tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    spec = tmp_path / "datasets" / "spec.yaml"
    spec.write_bytes(SPEC.replace("description:", "description: Données,", 1).encode("latin-1"))
    config = tmp_path / "env.yaml"
    config.write_text(VALID, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_everything(config, "123456789012")
    (problem,) = info.value.problems
    line = SPEC[: SPEC.index("description:")].count("\n") + 1
    assert problem.startswith(f"{spec}:{line}:")
    assert "byte 0xe9" in problem
    assert "save it as UTF-8" in problem

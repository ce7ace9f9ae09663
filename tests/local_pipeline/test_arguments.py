"""Bad command lines of the local runner: each exits 2 with a message naming the option, the value and what is wrong,
before anything is written (no workspace, no seeded object, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_pipeline import arguments
from local_pipeline.cli import main
from local_pipeline.errors import UsageError
from tests.local_pipeline.definitions import CODE_URI, PARAMETERS, gated_definition


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder of things a user may point options at."""
    (tmp_path / "definition.json").write_text(json.dumps(gated_definition()))
    (tmp_path / "no-input.json").write_text(json.dumps({**gated_definition(), "Parameters": PARAMETERS[1:]}))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text('{"Steps": [\n  {"Name": }\n]}')
    (tmp_path / "latin1.json").write_bytes('{"Name": "donnée"}'.encode("latin-1"))
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "data.csv").write_text("1,2\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "only-hidden").mkdir()
    (tmp_path / "only-hidden" / ".DS_Store").write_text("x")
    return tmp_path


DEFINITION = ["--definition", "{d}/definition.json"]
#: (id, arguments, the message): ``{d}`` is the folder of :func:`files`.
CASES = {
    "workspace-is-a-file": (
        [*DEFINITION, "--workspace", "{d}/a-file"],
        "--workspace {d}/a-file: is a file, not a folder; give a folder for the runs",
    ),
    "workspace-under-a-file": (
        [*DEFINITION, "--workspace", "{d}/a-file/ws"],
        "--workspace {d}/a-file/ws: {d}/a-file is a file, so no folder can be created under it",
    ),
    "param-twice": (
        [*DEFINITION, "--param", "Rounds=3", "--param", "Rounds=4"],
        "--param Rounds is given twice ('3' and '4'): give it once",
    ),
    "param-no-value": ([*DEFINITION, "--param", "Rounds"], "--param 'Rounds': expected NAME=VALUE"),
    "param-no-name": ([*DEFINITION, "--param", "=3"], "--param '=3': expected NAME=VALUE"),
    "param-unknown": (
        [*DEFINITION, "--param", "Nope=1"],
        "unknown parameter Nope; the definition declares: ApprovalStatus",
    ),
    "param-type": (
        [*DEFINITION, "--param", "Rounds=many"],
        "parameter Rounds is Integer: expected an integer, got 'many'",
    ),
    "input-missing": ([*DEFINITION, "--input", "{d}/nope.csv"], "--input {d}/nope.csv: no such file or folder"),
    "input-empty-folder": ([*DEFINITION, "--input", "{d}/empty"], "--input {d}/empty: the folder holds no files"),
    "input-only-hidden-files": (
        [*DEFINITION, "--input", "{d}/only-hidden"],
        "--input {d}/only-hidden: the folder holds no files",
    ),
    "input-s3-uri": (
        [*DEFINITION, "--input", "s3://bucket/adult.csv"],
        "--input s3://bucket/adult.csv: the local run reads local files only",
    ),
    "input-and-param": (
        [*DEFINITION, "--input", "{d}/data.csv", "--param", "InputDataUri=s3://a/b"],
        "--input sets InputDataUri: give either --input or --param InputDataUri=...",
    ),
    "input-not-declared": (
        ["--definition", "{d}/no-input.json", "--input", "{d}/data.csv"],
        "--input sets the parameter InputDataUri, which this definition does not declare",
    ),
    "definition-missing": (["--definition", "{d}/nope.json"], "--definition {d}/nope.json: no such file"),
    "definition-folder": (
        ["--definition", "{d}/empty"],
        "--definition {d}/empty: is a folder; give the pipeline definition's JSON file",
    ),
    "definition-broken-json": (
        ["--definition", "{d}/broken.json"],
        "--definition {d}/broken.json:2:12: not valid JSON: Expecting value",
    ),
    "definition-not-an-object": (
        ["--definition", "{d}/list.json"],
        "--definition {d}/list.json: not a pipeline definition (a JSON object), got a list",
    ),
    "definition-not-utf8": (
        ["--definition", "{d}/latin1.json"],
        "--definition {d}/latin1.json: byte 14 is not UTF-8; save the file as UTF-8 JSON",
    ),
    "s3-object-bad-uri": (
        [*DEFINITION, "--s3-object", "code.tar.gz={d}/data.csv"],
        "--s3-object code.tar.gz={d}/data.csv: not an S3 URI: 'code.tar.gz' (expected s3://bucket/key)",
    ),
    "s3-object-missing-file": (
        [*DEFINITION, "--s3-object", "s3://b/k={d}/nope"],
        "--s3-object s3://b/k={d}/nope: {d}/nope is not a file",
    ),
    "seed-missing": ([*DEFINITION, "--seed", "s3://b/k={d}/nope"], "--seed s3://b/k={d}/nope: no such file or folder"),
    "seed-bad-uri": ([*DEFINITION, "--seed", "bucket/k={d}/data.csv"], "--seed bucket/k={d}/data.csv: not an S3 URI"),
    "pipeline-name": (
        [*DEFINITION, "--pipeline-name", "my pipeline"],
        "--pipeline-name 'my pipeline': must be 1-256 letters, digits and '-'",
    ),
    "no-assembly": (["--cdk-out", "{d}/nowhere"], "{d}/nowhere: no cloud assembly here (run `make synth` first)"),
    "assembly-is-a-file": (["--cdk-out", "{d}/a-file"], "{d}/a-file: no cloud assembly here"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_invocation_exits_2_with_a_clear_message_and_writes_nothing(
    files: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    template, message = CASES[case]
    argv = [arg.format(d=files) for arg in template]
    workspace = [] if "--workspace" in argv else ["--workspace", str(files / "ws")]
    seed = ["--seed", f"s3://seeded/data.csv={files / 'data.csv'}"] if "--seed" not in argv else []
    assert main([*argv, *workspace, *seed]) == 2
    err = capsys.readouterr().err
    assert f"python -m local_pipeline: error: {message.format(d=files)}" in err, err
    assert "Traceback" not in err
    assert not (files / "ws").exists()  # not even the seeded object: nothing is written before every check passed


def test_an_unreadable_input_is_named(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permissions cannot deny root (these tests may run as root): the read itself is made to fail."""
    (files / "folder").mkdir()
    (files / "folder" / "data.csv").write_text("1\n")
    real_open = Path.open

    def deny(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == "data.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(UsageError) as info:
        arguments.local_data(str(files / "data.csv"), "--input data.csv")
    assert str(info.value) == f"--input data.csv: cannot read {files / 'data.csv'}: Permission denied"
    with pytest.raises(UsageError, match=r"cannot read .*folder/data\.csv: Permission denied"):
        arguments.local_data(str(files / "folder"), "--input folder")


def test_a_workspace_that_cannot_be_written_is_named(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("local_pipeline.arguments.os.access", lambda path, mode: False)
    with pytest.raises(UsageError) as info:
        arguments.workspace(files / "ws")
    assert str(info.value) == (
        f"--workspace {files / 'ws'}: cannot write to {files} (permission denied); give a folder you can write to"
    )


def test_the_checks_pass_for_a_good_invocation_and_the_run_writes_the_workspace(
    files: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--definition", str(files / "definition.json"), "--workspace", str(files / "ws"), "--input", str(files)]
    assert (
        main([*argv, "--s3-object", f"{CODE_URI}={bundle}", "--seed", f"s3://seeded/x.csv={files / 'data.csv'}"]) == 0
    )
    assert "Registered tiny-models version 1" in capsys.readouterr().out
    assert (files / "ws" / "s3" / "seeded" / "x.csv").read_text() == "1,2\n"

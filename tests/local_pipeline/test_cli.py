"""The command line: a definition file run, bad usage (exit 2), help and a missing assembly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_pipeline.cli import main
from local_pipeline.registry import LocalModelRegistry
from tests.local_pipeline.definitions import CODE_URI, gated_definition


def test_cli_runs_a_definition_file(tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = tmp_path / "tiny.json"
    definition.write_text(json.dumps(gated_definition()))
    data = tmp_path / "input.csv"
    data.write_text("1,2\n")
    workspace = tmp_path / "ws"
    argv = ["--definition", str(definition), "--workspace", str(workspace), "--s3-object", f"{CODE_URI}={bundle}"]
    assert main([*argv, "--input", str(data)]) == 0
    out = capsys.readouterr().out
    assert "Pipeline tiny, execution " in out
    assert "Registered tiny-models version 1" in out
    assert main([*argv, "--input", str(data), "--param", "Threshold=0.9"]) == 1
    assert "Failure: score 0.8 is below 0.9" in capsys.readouterr().out
    assert main([*argv, "--input", str(data)]) == 0
    assert LocalModelRegistry(workspace / "registry").versions("tiny-models") == [1, 2]
    assert len(list((workspace / "executions").iterdir())) == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "Threshold"], "--param 'Threshold': expected NAME=VALUE"),
        (["--param", "Nope=1"], "unknown parameter Nope"),
        (["--param", "Rounds=many"], "parameter Rounds is Integer"),
        (["--input", "x.csv", "--param", "InputDataUri=s3://a/b"], "give either --input or --param InputDataUri"),
    ],
)
def test_cli_bad_usage_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    definition = tmp_path / "tiny.json"
    definition.write_text(json.dumps(gated_definition()))
    (tmp_path / "x.csv").write_text("1\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert main(["--definition", str(definition), "--workspace", str(tmp_path / "ws"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_cli_help_and_missing_assembly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--cdk-out" in capsys.readouterr().out
    assert main(["--cdk-out", str(tmp_path / "nowhere"), "--workspace", str(tmp_path / "ws")]) == 2
    assert "no cloud assembly here" in capsys.readouterr().err

"""`make synth` / `make local-pipeline` (tools/synth.py): an assembly is kept only while the app's inputs are unchanged.

The CDK CLI is replaced by a script that writes a one-stack assembly and counts its runs, in a small app folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import synth

FAKE_CDK = """#!/bin/sh
# fake `cdk synth ... --output DIR`: count the run, write a one-stack assembly into DIR
while [ "$#" -gt 0 ]; do [ "$1" = "--output" ] && out="$2"; shift; done
echo run >> "$(dirname "$0")/runs"
mkdir -p "$out"
printf '{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}' > "$out/S.template.json"
printf '{"artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}}}}' \
  > "$out/manifest.json"
exit "${FAKE_CDK_EXIT:-0}"
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "app"
    for name, text in {
        "app.py": "print('app')\n",
        "cdk.json": "{}\n",
        "config/environments.yaml": "project: {name: p}\n",
        "tests/test_x.py": "def test_x() -> None: ...\n",
        "README.md": "# app\n",
        "local_pipeline/cli.py": "# the runner\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    cdk = root / "node_modules" / ".bin" / "cdk"
    cdk.parent.mkdir(parents=True)
    cdk.write_text(FAKE_CDK)
    cdk.chmod(0o755)
    for variable in (*synth.INPUT_VARIABLES, "FAKE_CDK_EXIT"):
        monkeypatch.delenv(variable, raising=False)
    return root


def runs(app: Path) -> int:
    counter = app / "node_modules" / ".bin" / "runs"
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def synthesize(app: Path, *extra: str) -> int:
    return synth.main(["--root", str(app), "--outdir", str(app / "cdk.out"), *extra])


def test_if_changed_keeps_an_assembly_whose_inputs_did_not_change(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert synthesize(app, "--if-changed") == 0
    assert synthesize(app, "--if-changed") == 0
    assert runs(app) == 1
    assert "not synthesized again" in capsys.readouterr().out
    assert synthesize(app) == 0  # `make synth`: always
    assert runs(app) == 2


@pytest.mark.parametrize(
    ("change", "synthesizes"),
    [
        ("stacks/storage.py", True),  # a new input file
        ("config/environments.yaml", True),
        ("app.py", True),
        ("tests/test_x.py", False),
        ("README.md", False),
        ("local_pipeline/cli.py", False),
        (".local-pipeline/registry.json", False),
    ],
)
def test_a_change_of_an_input_and_only_of_an_input_synthesizes(app: Path, change: str, synthesizes: bool) -> None:
    assert synthesize(app, "--if-changed") == 0
    (app / change).parent.mkdir(parents=True, exist_ok=True)
    with (app / change).open("a") as file:
        file.write("# changed\n")
    assert synthesize(app, "--if-changed") == 0
    assert runs(app) == (2 if synthesizes else 1)


def test_the_account_the_config_named_outside_the_repository_and_cdk_arguments_are_inputs(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "other.yaml"
    outside.write_text("project: {name: a}\n")
    assert synthesize(app, "--if-changed", "--", "-c", f"config={outside}") == 0
    assert synthesize(app, "--if-changed", "--", "-c", f"config={outside}") == 0
    assert runs(app) == 1
    outside.write_text("project: {name: b}\n")
    assert synthesize(app, "--if-changed", "--", "-c", f"config={outside}") == 0
    assert runs(app) == 2
    assert synthesize(app, "--if-changed") == 0  # another config
    assert runs(app) == 3
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
    assert synthesize(app, "--if-changed") == 0
    assert runs(app) == 4


def test_a_failed_synth_leaves_no_stamp(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert synthesize(app) == 0
    monkeypatch.setenv("FAKE_CDK_EXIT", "1")
    assert synthesize(app) == 1
    monkeypatch.delenv("FAKE_CDK_EXIT")
    assert not (app / "cdk.out" / synth.STAMP).exists()
    assert synthesize(app, "--if-changed") == 0
    assert runs(app) == 3


def test_an_excluded_workspace_is_not_an_input(app: Path) -> None:
    assert synthesize(app, "--if-changed", "--exclude", str(app / "workspace")) == 0
    (app / "workspace").mkdir()
    (app / "workspace" / "run.json").write_text(json.dumps({"step": 1}))
    assert synthesize(app, "--if-changed", "--exclude", str(app / "workspace")) == 0
    assert runs(app) == 1
    assert [p.name for p in (app / "workspace").iterdir()] == ["run.json"]

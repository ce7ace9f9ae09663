"""`make synth` / `make local-pipeline` (tools/synth.py): an assembly is kept only while the app's inputs are unchanged.

The CDK CLI is replaced by a script that writes a one-stack assembly and counts its runs, in a small app folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import synth

FAKE_CDK = """#!/bin/sh
# fake `cdk synth ... --output DIR`: count the run, keep its arguments, write a one-stack assembly into DIR
prev=""
for arg in "$@"; do [ "$prev" = "--output" ] && out="$arg"; prev="$arg"; done
echo run >> "$(dirname "$0")/runs"
printf '%s\n' "$*" > "$(dirname "$0")/args"
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


def cdk_args(app: Path) -> str:
    return (app / "node_modules" / ".bin" / "args").read_text().strip()


def test_the_documented_c_option_selects_the_config_relative_to_the_current_folder(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make synth ARGS="-c config=..."`: the help promised -c, and argparse used to refuse it."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "other.yaml").write_text("project: {name: o}\n")
    monkeypatch.chdir(tmp_path)
    assert synthesize(app, "-c", "config=mine/other.yaml", "--context", "flag=1") == 0
    assert f" -c config={tmp_path / 'mine' / 'other.yaml'} -c flag=1" in cdk_args(app)
    assert synthesize(app, "--if-changed", "-c", "config=mine/other.yaml", "--context", "flag=1") == 0
    assert runs(app) == 1  # the same inputs
    with pytest.raises(SystemExit) as help_exit:
        synth.main(["--help"])
    assert help_exit.value.code == 0
    assert "-c config=PATH selects the config file" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "case",
    [
        (
            "config=nope.yaml",
            "-c config=nope.yaml: no such file {cwd}/nope.yaml (relative to the current folder, {cwd})",
        ),
        ("verbose", "-c 'verbose': expected KEY=VALUE, e.g. -c config=config/other.yaml"),
        ("=x", "-c '=x': expected KEY=VALUE"),
    ],
)
def test_a_bad_c_option_exits_2_before_cdk_runs(
    app: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, str],
) -> None:
    argument, message = case
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        synthesize(app, "-c", argument)
    assert info.value.code == 2
    assert message.format(cwd=tmp_path) in capsys.readouterr().err
    assert runs(app) == 0


def test_a_dataset_spec_outside_the_repository_is_an_input(app: Path, tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "adult.yaml"
    spec.parent.mkdir()
    spec.write_text("name: adult\n")
    config = tmp_path / "adult-config.yaml"
    config.write_text("project: {name: a}\nmodel_build: {dataset_spec: specs/adult.yaml}\n")
    assert synthesize(app, "--if-changed", "-c", f"config={config}") == 0
    assert synthesize(app, "--if-changed", "-c", f"config={config}") == 0
    assert runs(app) == 1
    spec.write_text("name: adult-v2\n")
    assert synthesize(app, "--if-changed", "-c", f"config={config}") == 0
    assert runs(app) == 2
    (app / "config" / "environments.yaml").write_text(f"model_build: {{dataset_spec: {spec}}}\n")  # the default
    assert synthesize(app, "--if-changed") == 0
    spec.write_text("name: adult-v3\n")
    assert synthesize(app, "--if-changed") == 0
    assert runs(app) == 4

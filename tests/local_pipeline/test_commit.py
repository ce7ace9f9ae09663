"""GitCommit of a local run: the working tree's HEAD, ``-dirty`` when the app's inputs have uncommitted changes, and
recorded in the registered package (unless ``--param GitCommit=...`` gives it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local_pipeline import cli, commit
from local_pipeline.registry import LocalModelRegistry
from tests.local_pipeline.definitions import CODE_URI, gated_definition, get


def git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    result = subprocess.run(["git", *identity, "-C", str(root), *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository laid out like this one: inputs (config/, app.py) and files that are not (tests/, docs, runner)."""
    root = tmp_path / "repo"
    for name in ("app.py", "config/environments.yaml", "tests/test_x.py", "README.md", "local_pipeline/cli.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# {name}\n")
    (root / ".gitignore").write_text("cdk.out/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_a_clean_tree_gives_head(repo: Path) -> None:
    found = commit.working_tree_commit(repo)
    assert found.commit == git(repo, "rev-parse", "HEAD")
    assert (found.changed, found.value) == ((), found.commit)


@pytest.mark.parametrize(
    ("change", "dirty"),
    [
        ("config/environments.yaml", True),  # a changed input
        ("config/datasets/adult.yaml", True),  # a new, untracked input
        ("app.py", True),
        ("tests/test_x.py", False),
        ("README.md", False),
        ("local_pipeline/cli.py", False),
        (".local-pipeline/registry/g/version-0001.json", False),  # the workspace
        ("cdk.out/manifest.json", False),  # ignored by git
    ],
)
def test_only_uncommitted_inputs_make_the_commit_dirty(repo: Path, change: str, dirty: bool) -> None:
    (repo / change).parent.mkdir(parents=True, exist_ok=True)
    with (repo / change).open("a") as file:
        file.write("changed\n")
    found = commit.working_tree_commit(repo)
    head = git(repo, "rev-parse", "HEAD")
    assert found.value == (f"{head}-dirty" if dirty else head)
    assert found.changed == ((change,) if dirty else ())


def test_deleted_and_renamed_inputs_make_it_dirty(repo: Path) -> None:
    git(repo, "mv", "config/environments.yaml", "config/other.yaml")
    (repo / "app.py").unlink()
    assert commit.working_tree_commit(repo).changed == ("app.py", "config/other.yaml")


def test_an_app_in_a_subfolder_of_the_repository_counts_its_own_files(repo: Path) -> None:
    app = repo / "platform"
    (app / "config").mkdir(parents=True)
    (app / "config" / "x.yaml").write_text("a: 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "app in a subfolder")
    (repo / "app.py").write_text("# outside the app's folder\n")
    assert commit.working_tree_commit(app).changed == ()
    (app / "config" / "x.yaml").write_text("a: 2\n")
    assert commit.working_tree_commit(app).changed == ("config/x.yaml",)


def test_without_a_commit_there_is_no_value_and_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = commit.working_tree_commit(tmp_path)
    assert (found.commit, found.value) == (None, None)
    assert found.reason.startswith(f"git in {tmp_path}: ")
    git(tmp_path, "init", "-q")
    assert commit.working_tree_commit(tmp_path).value is None  # a repository without commits
    monkeypatch.setattr("local_pipeline.commit.shutil.which", lambda name: None)
    assert commit.working_tree_commit(tmp_path).reason == "git is not installed"


def definition_with_commit() -> dict[str, Any]:
    definition = gated_definition()
    definition["Parameters"] = [
        *definition["Parameters"],
        {"Name": "GitCommit", "Type": "String", "DefaultValue": "unknown"},
    ]
    register = definition["Steps"][0]["Arguments"]["IfSteps"][0]
    register["Arguments"]["CustomerMetadataProperties"]["git_commit"] = get("Parameters.GitCommit")
    return definition


def test_the_cli_registers_the_working_tree_commit_unless_a_param_gives_it(
    repo: Path, tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(cli, "working_tree_commit", lambda: commit.working_tree_commit(repo))
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(definition_with_commit()))
    (tmp_path / "input.csv").write_text("1,2\n")
    workspace = tmp_path / "ws"
    argv = ["--definition", str(definition), "--workspace", str(workspace), "--input", str(tmp_path / "input.csv")]
    argv += ["--s3-object", f"{CODE_URI}={bundle}"]
    registry = LocalModelRegistry(workspace / "registry")
    head = git(repo, "rev-parse", "HEAD")

    assert cli.main(argv) == 0
    assert registry.load("tiny-models", 1)["CustomerMetadataProperties"]["git_commit"] == head
    (repo / "config" / "environments.yaml").write_text("# uncommitted\n")
    assert cli.main(argv) == 0
    assert registry.load("tiny-models", 2)["CustomerMetadataProperties"]["git_commit"] == f"{head}-dirty"
    assert "uncommitted changes to the app's inputs (config/environments.yaml)" in caplog.text
    assert cli.main([*argv, "--param", "GitCommit=abc1234"]) == 0
    assert registry.load("tiny-models", 3)["CustomerMetadataProperties"]["git_commit"] == "abc1234"


def test_a_definition_without_gitcommit_gets_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> commit.WorkingTreeCommit:
        raise AssertionError("git is not asked when the definition has no GitCommit parameter")

    monkeypatch.setattr(cli, "working_tree_commit", fail)
    overrides: dict[str, str] = {}
    assert cli._set_commit(gated_definition(), overrides) is None
    assert overrides == {}

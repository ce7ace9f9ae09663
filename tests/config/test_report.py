"""One report for everything the app reads from configuration: the config's problems do not hide the dataset spec's
or the accounts' (config.loader.load_everything, what app.build_app calls), and where a spec and its sample may live.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import loader
from config.loader import ConfigError, load_everything
from tests.config.test_loader import DELIVERY, VALID, write
from tests.conftest import REPO_ROOT

SPEC = (REPO_ROOT / "config" / "datasets" / "german_credit.yaml").read_text(encoding="utf-8")
BAD_SPEC = SPEC.replace('positive: "1"}', 'positive: "1", decision_threshold: 2}')
SPEC_PROBLEM = "label.decision_threshold: input should be less than 1, got 2"
NO_ACCOUNT = "environments.dev.account: not set, and CDK_DEFAULT_ACCOUNT is empty (no AWS credentials?)"


def with_spec(tmp_path: Path, spec: str, config: str = VALID) -> tuple[Path, Path]:
    (tmp_path / "datasets").mkdir(exist_ok=True)
    spec_path = tmp_path / "datasets" / "spec.yaml"
    spec_path.write_text(spec, encoding="utf-8")
    return write(tmp_path, config), spec_path


def report(path: Path, default_account: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_everything(path, default_account)
    return info.value.problems


def test_a_valid_config_gives_its_spec_and_every_account(tmp_path: Path) -> None:
    path, _ = with_spec(tmp_path, SPEC, VALID + DELIVERY)
    loaded = load_everything(path, "999999999999")
    assert loaded.spec.name == "german-credit"
    assert loaded.accounts == {"dev": "999999999999", "prod": "123456789012"}
    assert loaded.delivery_account == "999999999999"
    assert loaded.notes == (
        f"{path}: environments.dev.account: not set, using CDK_DEFAULT_ACCOUNT=999999999999",
        f"{path}: delivery.account: not set, using CDK_DEFAULT_ACCOUNT=999999999999",
    )


def test_config_spec_and_account_problems_come_in_one_report(tmp_path: Path) -> None:
    path, spec = with_spec(tmp_path, BAD_SPEC, VALID.replace('"123456789012"', '"12ab"') + DELIVERY)
    problems = report(path)
    assert f"{path}: environments.prod.account: must be 12 digits, got '12ab'" in problems
    assert f"{spec}: {SPEC_PROBLEM}" in problems
    assert any(p.startswith(f"{path}: {NO_ACCOUNT}") for p in problems)  # dev's account is missing in the file
    assert any(p.startswith(f"{path}: delivery.account: not set, and CDK_DEFAULT_ACCOUNT") for p in problems)
    assert len(problems) == 4, problems


def test_cross_checks_report_one_message_per_problem(tmp_path: Path) -> None:
    delivery = DELIVERY.replace("  require_approval: [prod]\n", "  require_approval: [qa]\n")
    path, spec = with_spec(tmp_path, BAD_SPEC, VALID + delivery)
    assert report(path, "999999999999") == [
        f"{path}: delivery.require_approval[0]: unknown environment 'qa' (known: dev, prod)",
        f"{path}: delivery.require_approval: 'prod' keeps its data (environments.prod.retain_data is true) but the "
        "delivery pipeline would deploy it without a manual approval; add 'prod' to delivery.require_approval, or to "
        "delivery.skip_approval to deploy it unattended on purpose",
        f"{spec}: {SPEC_PROBLEM}",
    ]


def test_a_missing_sample_is_reported_with_the_spec_schema_problems(tmp_path: Path) -> None:
    path, spec = with_spec(tmp_path, BAD_SPEC.replace("data/german_credit/german.data", "data/nope.data"))
    problems = report(path, "999999999999")
    assert problems[0] == f"{spec}: {SPEC_PROBLEM}"
    assert problems[1].startswith(f"{spec}: sample_path: file not found: {REPO_ROOT / 'data/nope.data'}")
    assert len(problems) == 2


def test_only_unreadable_yaml_stops_the_report_early(tmp_path: Path) -> None:
    path, _ = with_spec(tmp_path, BAD_SPEC, "project: {name: x\n")
    assert report(path) == [f"{path}:2:1: invalid YAML: expected ',' or '}}', but got '<stream end>'"]


def test_a_spec_outside_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fine for a local experiment; refused for a config in the repository that the delivery pipeline synthesizes."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repo / "config").mkdir(parents=True)
    monkeypatch.setattr(loader, "REPO_ROOT", repo)
    elsewhere.mkdir()
    _, spec = with_spec(elsewhere, SPEC)
    prefix = "  input_data_prefix: datasets/credit/\n"  # no shipped sample in this fake repository
    config = VALID.replace("datasets/spec.yaml", str(spec)) + prefix
    outside = elsewhere / "local.yaml"
    outside.write_text(config + DELIVERY)
    assert load_everything(outside, "999999999999").spec.name == "german-credit"
    inside = repo / "config" / "environments.yaml"
    inside.write_text(config)
    assert load_everything(inside, "999999999999").spec.name == "german-credit"  # no delivery pipeline
    inside.write_text(config + DELIVERY)
    assert report(inside, "999999999999") == [
        f"{inside}: model_build.dataset_spec: {spec} is outside the repository ({repo}), but this config is in it "
        "and has a delivery section: the delivery pipeline synthesizes it from a clone of the repository, where "
        "that file does not exist. Move the spec into the repository (e.g. config/datasets/)"
    ]


def test_a_sample_that_leads_outside_the_repository_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    monkeypatch.setattr(loader, "REPO_ROOT", repo)
    data = tmp_path / "adult.csv"
    data.write_text("1,2\n")
    (repo / "data" / "adult.csv").symlink_to(data)
    path, spec = with_spec(tmp_path, SPEC.replace("data/german_credit/german.data", "data/adult.csv"))
    assert report(path, "999999999999") == [
        f"{spec}: sample_path: data/adult.csv leads outside the repository (to {data}): the sample ships with the "
        "code (a CDK asset; the delivery pipeline builds from a clone, where the link leads nowhere). Copy the file "
        f'into the repository, or keep data elsewhere and run on it with `make local-pipeline ARGS="--input {data}"` '
        "(cloud: model_build.input_data_prefix)"
    ]
    (repo / "data" / "adult.csv").unlink()
    (repo / "data" / "adult.csv").write_text("1,2\n")
    assert load_everything(path, "999999999999").spec.sample_path == "data/adult.csv"


@pytest.mark.parametrize("sample", ["/data/adult.csv", "../data/adult.csv"])
def test_a_sample_path_outside_the_repository_is_a_spec_error(tmp_path: Path, sample: str) -> None:
    path, spec = with_spec(tmp_path, SPEC.replace("data/german_credit/german.data", sample))
    (problem,) = report(path, "999999999999")
    assert problem.startswith(f"{spec}: sample_path: ")
    assert repr(sample) in problem


def test_the_app_reports_config_spec_and_account_problems_together(tmp_path: Path) -> None:
    config = VALID.replace("    retain_data: false\n", "    retian_data: false\n")
    path, spec = with_spec(tmp_path, BAD_SPEC, config)
    outdir = tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if key != "CDK_DEFAULT_ACCOUNT"}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env={**env, "MLOPS_CONFIG": str(path), "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    errors = [line.removeprefix("error: ") for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"{path}: environments.dev.retian_data: unknown key (did you mean 'retain_data'?)",
        f"{spec}: {SPEC_PROBLEM}",
        f"{path}: {NO_ACCOUNT}; set the account in the file or run with credentials",
    ]
    assert "Traceback" not in result.stderr
    assert result.stderr.rstrip().endswith("Configuration is invalid: nothing was synthesized.")
    assert not outdir.exists() or not any(outdir.iterdir())

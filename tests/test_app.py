"""The whole app: one stage per environment, naming, tags, cdk-nag and cfn-lint gates, bad-config exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from app import build_app, cdk_json_context
from config.loader import DEFAULT_CONFIG_PATH, load_config
from stacks import environment_stage
from tests.app_components import components
from tests.conftest import REPO_ROOT, SynthesizedApp

CONFIG = load_config(DEFAULT_CONFIG_PATH)


def expected_tags(stage: str) -> dict[str, str]:
    if stage == "delivery":
        return {"project": "mlops", "environment": "delivery", "owner": CONFIG.project.owner, **CONFIG.project.tags}
    return CONFIG.tags_for(stage)


def test_one_stage_per_environment_with_env_from_config(synthesized_app: SynthesizedApp) -> None:
    assert list(synthesized_app.stages) == list(CONFIG.environments)
    assert CONFIG.delivery is not None
    for (stage, _component), artifact in synthesized_app.stack_artifacts.items():
        account = CONFIG.delivery.account if stage == "delivery" else CONFIG.environments[stage].account
        region = CONFIG.delivery.region if stage == "delivery" else CONFIG.environments[stage].region
        assert artifact.environment.region == region
        assert artifact.environment.account == (account or os.environ["CDK_DEFAULT_ACCOUNT"])


def test_stack_names_carry_prefix_and_environment(synthesized_app: SynthesizedApp) -> None:
    names = {key: artifact.stack_name for key, artifact in synthesized_app.stack_artifacts.items()}
    expected = {(env, c): f"mlops-{env}-{c}" for env in CONFIG.environments for c in components(CONFIG, env)}
    assert names == {**expected, ("delivery", "delivery"): "mlops-delivery"}
    # `cdk deploy 'dev/*'` selects a stage's stacks by their hierarchical id
    assert {a.hierarchical_id for a in synthesized_app.stack_artifacts.values()} == {
        *(f"{env}/{c}" for env in CONFIG.environments for c in components(CONFIG, env)),
        "delivery/delivery",
    }


def test_retained_environments_have_termination_protection(synthesized_app: SynthesizedApp) -> None:
    for (stage, _), artifact in synthesized_app.stack_artifacts.items():
        retained = True if stage == "delivery" else CONFIG.environments[stage].retain_data
        assert artifact.termination_protection is retained


def test_every_taggable_resource_and_stack_carries_the_config_tags(synthesized_app: SynthesizedApp) -> None:
    checked = 0
    for (env_name, component), template in synthesized_app.templates.items():
        expected = expected_tags(env_name)
        assert expected["cost-center"] == "ml-research"
        assert synthesized_app.stack_artifacts[(env_name, component)].tags == expected
        for logical_id, resource in template["Resources"].items():
            tags = resource.get("Properties", {}).get("Tags")
            if tags is None:
                continue
            as_dict = {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else tags
            assert expected.items() <= as_dict.items(), f"{env_name}/{component}/{logical_id}: {as_dict}"
            checked += 1
    assert checked >= 5 * len(CONFIG.environments)  # key + four buckets per environment at least


def test_cdk_nag_has_no_unacknowledged_findings(synthesized_app: SynthesizedApp) -> None:
    report = json.loads((synthesized_app.outdir / "validation-report.json").read_text())
    violations = [
        f"{v['ruleName']}: {c['constructPath']}"
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
        for c in v["violatingConstructs"]
    ]
    assert violations == []


def test_cdk_nag_gate_fails_synth_on_a_non_compliant_resource(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate is live on the real app: one plain bucket added to dev makes synth fail, naming rule and path."""
    original = environment_stage.EnvironmentStage

    class WithUnloggedBucket(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.env_name == "dev":
                s3.Bucket(self.storage, "Unlogged")

    # the delivery stage synthesizes the environment stages while it is built: add the bucket while they are built
    monkeypatch.setattr(environment_stage, "EnvironmentStage", WithUnloggedBucket)
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    build_app(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    found = {
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    }
    assert found == {
        ("AwsSolutions-S1", "dev/storage/Unlogged/Resource"),
        ("AwsSolutions-S10", "dev/storage/Unlogged/Resource"),
    }


def run_cfn_lint(templates: list[Path]) -> subprocess.CompletedProcess[str]:
    regions = sorted({env.region for env in CONFIG.environments.values()})
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(REPO_ROOT / ".cfnlintrc.yaml"),
            "--regions",
            *regions,
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cfn_lint_is_clean_on_every_template(synthesized_app: SynthesizedApp) -> None:
    templates = sorted(synthesized_app.outdir.glob("assembly-*/*.template.json"))
    assert len(templates) == len(synthesized_app.templates)
    result = run_cfn_lint(templates)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_gate_reports_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"Versioning": 1}}}}))
    result = run_cfn_lint([broken])
    assert result.returncode != 0
    assert "E3002" in result.stdout


def test_bad_config_exits_2_before_synthesizing_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        DEFAULT_CONFIG_PATH.read_text().replace(
            "region: eu-west-1\n    retain_data: true", "region: eu-west-1\n    retain_data: true\n    account: '12ab'"
        )
    )
    outdir = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env={**os.environ, "MLOPS_CONFIG": str(bad), "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"error: {bad}: environments.prod.account: must be 12 digits, got '12ab'" in result.stderr
    assert "nothing was synthesized" in result.stderr
    assert not outdir.exists() or not any(outdir.iterdir())

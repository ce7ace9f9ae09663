"""Shared fixtures: the whole app is synthesized once per test session (the first synth costs ~6 s).

`make test` runs two pytest-xdist workers; the tests that use the synthesized apps run on one of them
(tests/shared_fixture_groups.py), so each app is still synthesized once per run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.offline import make_offline

#: Every test runs offline and hermetic (tools/offline.py): no credentials, no metadata service, no MLOPS_CONFIG, a
#: fixed fallback account and region.
make_offline(os.environ, hermetic=True)
# One XGBoost thread per test process: pytest runs a worker per CPU, and two workers training with a thread per CPU
# each oversubscribe the machine; OpenMP's spinning threads then slowed a 1-second fixture to 75 s. The Train step
# reads this variable (sagemaker_code.steps.cluster.available_cpus), and the steps the tests start inherit it.
os.environ["OMP_NUM_THREADS"] = "1"
# Every process the tests start (xdist workers, pipeline steps, tools) sees scikit-learn as not installed, which
# saves xgboost ~1.5 s of import per process: see tests/no_sklearn/sitecustomize.py for why that is sound.
NO_SKLEARN = str(Path(__file__).resolve().parent / "no_sklearn")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [NO_SKLEARN, os.environ.get("PYTHONPATH")]))

# aws-cdk-lib starts its jsii (node) process at import: import it only once the environment above is set.
import aws_cdk as cdk  # noqa: E402
from aws_cdk import cx_api  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from app import build_app, cdk_json_context  # noqa: E402
from config.loader import DEFAULT_CONFIG_PATH  # noqa: E402
from stacks.delivery.stage import DeliveryStage  # noqa: E402
from stacks.environment_stage import EnvironmentStage  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Step-code fixtures (the spec, a preprocess/train/evaluate run on the sample) for every test folder that needs them,
#: and the xdist scheduling that runs the tests sharing an expensive session fixture on one worker.
pytest_plugins = ["tests.step_fixtures", "tests.registered_model", "tests.shared_fixture_groups"]


@dataclass
class SynthesizedApp:
    """The synthesized cloud assembly of the whole app (all environments)."""

    outdir: Path
    stages: dict[str, EnvironmentStage]
    delivery: DeliveryStage | None
    templates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    stack_artifacts: dict[tuple[str, str], cx_api.CloudFormationStackArtifact] = field(default_factory=dict)

    def template(self, env_name: str, component: str) -> Template:
        return Template.from_json(self.templates[(env_name, component)])


def synthesize(outdir: Path, config: Path | None = None) -> SynthesizedApp:
    """Synthesize the whole app (``config``, default the shipped one) into ``outdir``, cdk-nag included."""
    context = cdk_json_context() if config is None else {**cdk_json_context(), "config": str(config)}
    app = cdk.App(context=context, outdir=str(outdir))
    stages = build_app(app)
    assembly = app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    result = SynthesizedApp(outdir=outdir, stages=stages.environments, delivery=stages.delivery)
    for stage in stages.all():
        stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.stage_name}")
        for artifact in stage_assembly.stacks:
            component = artifact.hierarchical_id.split("/")[-1]
            result.templates[(stage.stage_name, component)] = json.loads(Path(artifact.template_full_path).read_text())
            result.stack_artifacts[(stage.stage_name, component)] = artifact
    return result


@pytest.fixture(scope="session")
def synthesized_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


#: Every environment and the delivery pipeline in an account of its own: what cross-account deploys and the Train
#: step need shows up only here (bucket and key policies, role trusts across accounts).
CROSS_ACCOUNT = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333", "delivery": "444444444444"}


def variant_config(directory: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the shipped config edited by ``edit`` (the dataset spec path made absolute), written to a file."""
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["model_build"]["dataset_spec"] = str(REPO_ROOT / "config" / data["model_build"]["dataset_spec"])
    edit(data)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def cross_account_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    def four_accounts(data: dict[str, Any]) -> None:
        for name, env in data["environments"].items():
            env["account"] = CROSS_ACCOUNT[name]
        data["delivery"]["account"] = CROSS_ACCOUNT["delivery"]

    directory = tmp_path_factory.mktemp("cross-account")
    return synthesize(directory / "cdk.out", variant_config(directory, four_accounts))

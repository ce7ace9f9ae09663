"""The serving stacks as synthesized: those of the shipped app (dev and staging serverless, prod on instances), and
one more instance variant built alone (no whole-app synth: a second app would cost ~10-20 s of the test budget)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import cdk_json_context
from config.model import StorageSettings
from config.naming import batch_transform_job_prefix
from config.serving import ServingSettings
from stacks.compliance import add_compliance_checks
from stacks.monitoring.stack import MonitoringStack
from stacks.serving.registry import RegistrySource
from stacks.serving.stack import ServingStack
from stacks.storage.stack import StorageStack
from tests.conftest import SynthesizedApp
from tests.stacks.serving.templates import SERVING

VARIANT_ACCOUNT, REGISTRY_ACCOUNT, REGION = "222222222222", "111111111111", "eu-west-1"
VARIANT_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0"
#: Linear traffic shifting on a fixed fleet without data capture, deploying from a registry in another account.
VARIANT_SETTINGS: dict[str, Any] = {
    "registry": "dev",
    "endpoint": {
        "type": "instances",
        "instance_type": "ml.m5.large",
        "instance_count": 3,
        "data_capture": None,
        "deployment": {"traffic": "linear", "step_percent": 30, "wait_minutes": 4, "bake_minutes": 0},
    },
}


def serving_variant_settings() -> ServingSettings:
    return ServingSettings.model_validate(VARIANT_SETTINGS)


def synth_variant(outdir: Path, settings: ServingSettings) -> Template:
    """The serving stack of ``qa`` (storage beside it, registry dev in another account) with ``settings``, synthesized
    alone into ``outdir`` with cdk-nag (synth raises on an unacknowledged finding)."""
    return synth_variant_stacks(outdir, settings)["serving"]


def synth_variant_stacks(outdir: Path, settings: ServingSettings) -> dict[str, Template]:
    """:func:`synth_variant`'s app: ``qa``'s storage, serving and (health-only) monitoring stacks, by component."""
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    env = cdk.Environment(account=VARIANT_ACCOUNT, region=REGION)
    storage = StorageStack(
        app, "storage", env=env, project="mlops", env_name="qa", settings=StorageSettings(), retain_data=False,
        serving=True,
    )  # fmt: skip
    registry = RegistrySource(
        project="mlops", env_name="dev", account=REGISTRY_ACCOUNT, region=REGION,
        model_package_group_name="mlops-dev-german-credit",
    )  # fmt: skip
    serving = ServingStack(
        app,
        "serving",
        env=env,
        stack_name="mlops-qa-serving",
        project="mlops",
        env_name="qa",
        settings=settings,
        registry=registry,
        storage=storage,
        model_images=[VARIANT_IMAGE],
    )
    monitoring = MonitoringStack(
        app, "monitoring", env=env, stack_name="mlops-qa-monitoring", project="mlops", env_name="qa",
        health=settings.alarms, storage=storage, registry=registry, job=None, training_pipeline_name=None,
        batch_jobs=batch_transform_job_prefix("mlops", "qa") if settings.batch is not None else None,
    )  # fmt: skip
    add_compliance_checks(app)
    app.synth()
    return {"serving": Template.from_stack(serving), "monitoring": Template.from_stack(monitoring)}


@pytest.fixture(scope="session")
def serving_variant(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The serving stack of ``qa`` with :data:`VARIANT_SETTINGS`, cdk-nag included."""
    return synth_variant(tmp_path_factory.mktemp("serving-variant"), serving_variant_settings())


@pytest.fixture(params=SERVING)
def env_name(request: pytest.FixtureRequest) -> str:
    """Each serving environment of the shipped config."""
    return str(request.param)


@pytest.fixture
def serving(synthesized_app: SynthesizedApp, env_name: str) -> Template:
    """That environment's serving stack in the shipped app."""
    return synthesized_app.template(env_name, "serving")


@pytest.fixture(scope="session")
def storage_without_serving(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The storage stack of an environment that serves nothing."""
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path_factory.mktemp("storage-only")))
    storage = StorageStack(
        app, "storage", env=cdk.Environment(account=VARIANT_ACCOUNT, region=REGION), project="mlops", env_name="qa",
        settings=StorageSettings(), retain_data=True,
    )  # fmt: skip
    return Template.from_stack(storage)

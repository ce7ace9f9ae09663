#!/usr/bin/env python3
"""The MLOps platform CDK app: one Stage per environment in the config file.

Config: ``-c config=path.yaml`` (or ``$MLOPS_CONFIG``), default ``config/environments.yaml``. A bad config stops the
app with exit code 2 and one message per problem, before anything is synthesized.

aws-cdk-lib is imported lazily: :func:`main` first starts the background build of the SageMaker pipeline
definitions (see :mod:`sagemaker_code.definition.cache`), so that the SDK's work overlaps the start-up of jsii.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.loader import ConfigError, config_path_from, load_everything
from config.naming import DELIVERY_STAGE
from sagemaker_code.definition.cache import AnySettings, DefinitionBuilds
from sagemaker_code.definition.monitoring import MonitorPipelineSettings, monitor_pipeline_settings
from sagemaker_code.definition.settings import PipelineSettings, pipeline_settings

if TYPE_CHECKING:
    import aws_cdk as cdk

    from config.dataset_spec import DatasetSpec
    from config.model import PlatformConfig
    from stacks.delivery.stage import DeliveryStage
    from stacks.environment_stage import EnvironmentStage

REPO_ROOT = Path(__file__).resolve().parent
DEFINITION_CACHE = REPO_ROOT / ".build" / "pipeline-definitions"


def cdk_json_context() -> dict[str, Any]:
    """The feature flags from cdk.json, for running the app without the CDK CLI (tests, benchmarks)."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class DefinitionSettings:
    """Every pipeline definition the app needs, by environment: each one's model build, and the monitoring
    pipeline of each monitored one."""

    model_builds: dict[str, PipelineSettings]
    monitors: dict[str, MonitorPipelineSettings]

    @classmethod
    def of(cls, config: PlatformConfig, spec: DatasetSpec, accounts: Mapping[str, str]) -> DefinitionSettings:
        monitors = {name: monitor_pipeline_settings(config, name, accounts[name]) for name in config.environments}
        return cls(
            model_builds={name: pipeline_settings(config, name, spec) for name in config.environments},
            monitors={name: monitor for name, monitor in monitors.items() if monitor is not None},
        )

    def all(self) -> list[AnySettings]:
        return [*self.model_builds.values(), *self.monitors.values()]


def start_definition_builds(context_value: object | None, environ: Mapping[str, str]) -> DefinitionBuilds:
    """Load the config and start building every pipeline definition (in the background)."""
    loaded = load_everything(config_path_from(context_value, environ), environ.get("CDK_DEFAULT_ACCOUNT"))
    return DefinitionBuilds.start(
        DefinitionSettings.of(loaded.config, loaded.spec, loaded.accounts).all(), DEFINITION_CACHE
    )


@dataclass(frozen=True)
class AppStages:
    environments: dict[str, EnvironmentStage]
    delivery: DeliveryStage | None

    def all(self) -> list[cdk.Stage]:
        return [*self.environments.values(), *([self.delivery] if self.delivery else [])]


def build_app(app: cdk.App, *, prefetched: DefinitionBuilds | None = None) -> AppStages:
    """Add every environment's stage (and the delivery stage) to ``app``; raises :class:`ConfigError` on bad
    configuration."""
    from stacks.compliance import add_compliance_checks  # aws-cdk-lib loads lazily (see the module docstring)
    from stacks.delivery.stage import DeliveryStage
    from stacks.environment_stage import EnvironmentStage

    path = config_path_from(app.node.try_get_context("config"), os.environ)
    # one report: every problem of the config, its dataset spec and the accounts (ConfigError)
    loaded = load_everything(path, os.environ.get("CDK_DEFAULT_ACCOUNT"))
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    config, spec, accounts, delivery_account = loaded.config, loaded.spec, loaded.accounts, loaded.delivery_account

    wanted = DefinitionSettings.of(config, spec, accounts)
    settings, monitors = wanted.model_builds, wanted.monitors
    builds = prefetched
    if builds is None or builds.settings != {s.pipeline_name: s for s in wanted.all()}:
        builds = DefinitionBuilds.start(wanted.all(), DEFINITION_CACHE)
    stages = {
        name: EnvironmentStage(
            app,
            name,
            config=config,
            dataset_spec=spec,
            pipeline=settings[name],
            definition=builds.get(settings[name].pipeline_name),
            monitoring=(monitors[name], builds.get(monitors[name].pipeline_name)) if name in monitors else None,
            account=accounts[name],
            delivery_account=delivery_account,
            accounts=accounts,
        )
        for name in config.environments
    }
    add_compliance_checks(app)
    delivery = None
    if delivery_account is not None:
        delivery = DeliveryStage(
            app, DELIVERY_STAGE, config=config, account=delivery_account, environment_stages=stages,
            cli_version=npm_pin("aws-cdk"),
            assets_version=npm_pin("cdk-assets"),
        )  # fmt: skip
    return AppStages(stages, delivery)


def npm_pin(package: str) -> str:
    """The version of ``package`` pinned in package.json (aws-cdk, cdk-assets): the pipeline's self-mutation and
    asset publishing install exactly these, like `npm ci` does here."""
    version: str = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"][package]
    return version


def main() -> int:
    # Start jsii's Node.js (import aws_cdk) while the config loads. Only once this module's own imports are done: a
    # test run once failed with both threads importing at start-up (pydantic's lazy imports in one, importlib.resources
    # in the other: "NameError: name 'sys' is not defined" and exit 1 instead of 2).
    threading.Thread(target=__import__, args=("aws_cdk",), daemon=True).start()
    context = json.loads(os.environ.get("CDK_CONTEXT_JSON", "{}"))  # what the CDK CLI passes (-c key=value)
    try:
        prefetched = start_definition_builds(context.get("config"), os.environ)
    except ConfigError:
        prefetched = None  # build_app loads the config again and reports every problem

    import aws_cdk as cdk

    app = cdk.App()
    try:
        build_app(app, prefetched=prefetched)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("Configuration is invalid: nothing was synthesized.", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

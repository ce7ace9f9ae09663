#!/usr/bin/env python3
"""The MLOps platform CDK app: one Stage per environment in the config file.

Config: ``-c config=path.yaml`` (or ``$MLOPS_CONFIG``), default ``config/environments.yaml``. A bad config stops the
app with exit code 2 and one message per problem, before anything is synthesized.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from config.loader import ConfigError, config_path_from, load_config, resolve_account
from stacks.compliance import add_compliance_checks
from stacks.environment_stage import EnvironmentStage


def cdk_json_context() -> dict[str, Any]:
    """The feature flags from cdk.json, for running the app without the CDK CLI (tests, benchmarks)."""
    context: dict[str, Any] = json.loads((Path(__file__).parent / "cdk.json").read_text())["context"]
    return context


def build_app(app: cdk.App) -> list[EnvironmentStage]:
    """Add every environment's stage to ``app``; raises :class:`ConfigError` on bad configuration."""
    path = config_path_from(app.node.try_get_context("config"), os.environ)
    config = load_config(path)
    accounts = {}
    problems: list[str] = []
    for env_name in config.environments:
        try:
            resolved = resolve_account(config, env_name, path, os.environ.get("CDK_DEFAULT_ACCOUNT"))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if resolved.note:
            print(f"note: {resolved.note}", file=sys.stderr)
        accounts[env_name] = resolved.account
    if problems:
        raise ConfigError(problems)
    stages = [EnvironmentStage(app, name, config=config, account=accounts[name]) for name in config.environments]
    add_compliance_checks(app)
    return stages


def main() -> int:
    app = cdk.App()
    try:
        build_app(app)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("Configuration is invalid: nothing was synthesized.", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

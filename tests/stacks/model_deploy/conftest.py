"""One synthesized app for the deploy-flow stack tests (cdk-nag on): the registry ``dev`` with its storage stack and
its model-deploy stack, serving ``dev`` and ``staging`` (same account) and ``prod`` (another account, approval)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from app import cdk_json_context
from config.model import StorageSettings
from stacks.compliance import add_compliance_checks
from stacks.model_deploy.stack import ModelDeployStack
from stacks.model_deploy.targets import ServingTarget
from stacks.storage.stack import StorageStack

ACCOUNT = "111111111111"
PROD_ACCOUNT = "333333333333"
REGION = "eu-west-1"
GROUP = "mlops-dev-german-credit"
SERVING = (
    ServingTarget("dev", ACCOUNT, REGION, require_approval=False, smoke_rows=20, smoke_max_latency_p95_ms=5000),
    ServingTarget("staging", ACCOUNT, REGION, require_approval=False, smoke_rows=50, smoke_max_latency_p95_ms=5000),
    ServingTarget("prod", PROD_ACCOUNT, REGION, require_approval=True, smoke_rows=50, smoke_max_latency_p95_ms=500),
)


@dataclass
class Synthesized:
    outdir: Path
    template: dict[str, Any]
    stack_name: str

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}


def build(app: cdk.App, serving: tuple[ServingTarget, ...] = SERVING) -> ModelDeployStack:
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    storage = StorageStack(app, "storage", env=env, project="mlops", env_name="dev", settings=StorageSettings(),
                           retain_data=False)  # fmt: skip
    return ModelDeployStack(app, "model-deploy", env=env, stack_name="mlops-dev-model-deploy", project="mlops",
                            env_name="dev", model_package_group_name=GROUP, serving=serving, storage=storage,
                            notification_emails=["ml-team@example.com"])  # fmt: skip


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("model-deploy.out")
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    add_compliance_checks(app)
    stack = build(app)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    template = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
    return Synthesized(outdir, template, stack.stack_name)

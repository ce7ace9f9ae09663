"""The synthesized apps as the deploy-invariant rules see them, built once per session: the shipped config, the same
config with every environment and the delivery pipeline in an account of its own, and the shipped config in another
partition (aws-us-gov). Every rule runs over all three."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SynthesizedApp, synthesize, variant_config
from tests.deploy.account import Cloud
from tests.deploy.cfn import Stack

#: A region of another partition where every resource type of the app exists (aws-cn has no
#: AWS::SageMaker::ModelPackageGroup in CloudFormation, which CDK's own validation reports at synth).
OTHER_PARTITION_REGION = "us-gov-west-1"
APPS = ("shipped", "cross-account", "other-partition")


def stacks_of(app: SynthesizedApp) -> list[Stack]:
    stacks = []
    for (stage, component), artifact in app.stack_artifacts.items():
        env = artifact.environment
        template = app.templates[(stage, component)]
        stacks.append(Stack(f"{stage}/{component}", artifact.stack_name, env.account, env.region, template))
    return stacks


@pytest.fixture(scope="session")
def other_partition_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    def move(data: dict[str, Any]) -> None:
        for environment in data["environments"].values():
            environment["region"] = OTHER_PARTITION_REGION
        data["delivery"]["region"] = OTHER_PARTITION_REGION

    directory = tmp_path_factory.mktemp("other-partition")
    return synthesize(directory / "cdk.out", variant_config(directory, move))


@pytest.fixture(scope="session", params=APPS)
def app_stacks(request: pytest.FixtureRequest) -> list[Stack]:
    fixture = {"shipped": "synthesized_app", "cross-account": "cross_account_app"}.get(
        request.param, "other_partition_app"
    )
    app: SynthesizedApp = request.getfixturevalue(fixture)
    return stacks_of(app)


@pytest.fixture(scope="session")
def cloud(app_stacks: list[Stack]) -> Cloud:
    return Cloud(app_stacks)


def report(violations: list[str]) -> str:
    return f"{len(violations)} violation(s):\n" + "\n".join(f"- {v}" for v in violations)

"""The model package group cleanup construct, synthesized with cdk-nag in small stacks: CloudFormation runs it before
deleting the group and while its permissions still exist, it may only delete this group's versions (in the stack's
partition), and it deletes them only when the group is deleted with the stack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_lambda_powertools.shared.version import VERSION as INSTALLED_POWERTOOLS

from app import cdk_json_context
from stacks.common.powertools import LAMBDAS_DIR, POWERTOOLS_VERSION
from stacks.compliance import add_compliance_checks
from stacks.model_build.package_group_cleanup import RESOURCE_TYPE, ModelPackageGroupCleanup

ACCOUNT = "123456789012"
GROUP = "mlops-dev-models"


def build(
    app: cdk.App,
    stack_id: str,
    *,
    region: str | None = "eu-west-1",
    removal: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
) -> ModelPackageGroupCleanup:
    env = cdk.Environment(account=ACCOUNT, region=region) if region else None
    stack = cdk.Stack(app, stack_id, env=env)
    group = sagemaker.CfnModelPackageGroup(stack, "Group", model_package_group_name=GROUP)
    group.apply_removal_policy(removal)
    return ModelPackageGroupCleanup(stack, "Cleanup", group=group)


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cleanup.out")
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    add_compliance_checks(app)
    build(app, "Dev")
    build(app, "Prod", removal=cdk.RemovalPolicy.RETAIN)
    build(app, "GovCloud", region="us-gov-west-1")
    build(app, "Agnostic", region=None)  # account and region (and so the partition) are deploy-time values
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    names = ("Dev", "Prod", "GovCloud", "Agnostic")
    return Synthesized(outdir, {n: json.loads((outdir / f"{n}.template.json").read_text()) for n in names})


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = of_type(template, resource_type).items()
    return item


def references(node: object) -> set[str]:
    """Logical ids a template fragment refers to (Ref, Fn::GetAtt, ${...} of Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def prerequisites(template: dict[str, Any], logical_id: str) -> set[str]:
    """Everything CloudFormation creates before ``logical_id`` and deletes after it (DependsOn and references)."""
    resources = template["Resources"]
    seen: set[str] = set()
    todo = [logical_id]
    while todo:
        resource = resources[todo.pop()]
        depends = resource.get("DependsOn", [])
        for other in ({depends} if isinstance(depends, str) else set(depends)) | references(resource):
            if other in resources and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


@pytest.mark.parametrize("name", ["Dev", "Prod", "GovCloud", "Agnostic"])
def test_the_custom_resource_is_deleted_before_the_group(synthesized: Synthesized, name: str) -> None:
    template = synthesized.templates[name]
    group_id, _ = only(template, "AWS::SageMaker::ModelPackageGroup")
    resource_id, resource = only(template, RESOURCE_TYPE)
    assert group_id in prerequisites(template, resource_id)
    assert resource["Properties"]["ModelPackageGroupName"] == GROUP


@pytest.mark.parametrize("name", ["Dev", "Agnostic"])
def test_its_permissions_and_logs_outlive_its_delete(synthesized: Synthesized, name: str) -> None:
    """Deleting the stack deletes the policies and log groups only after the custom resource ran its Delete."""
    template = synthesized.templates[name]
    resource_id, _ = only(template, RESOURCE_TYPE)
    needed = prerequisites(template, resource_id)
    for resource_type in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Logs::LogGroup"):
        assert set(of_type(template, resource_type)) <= needed, resource_type


def test_it_deletes_versions_only_of_a_group_deleted_with_the_stack(synthesized: Synthesized) -> None:
    for name, expected in (("Dev", "true"), ("Prod", "false")):
        _, resource = only(synthesized.templates[name], RESOURCE_TYPE)
        assert resource["Properties"]["DeletePackagesOnDelete"] == expected, name


def sagemaker_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in of_type(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("sagemaker:") for a in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]))  # noqa: E501
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "partition"), [("Dev", "aws"), ("GovCloud", "aws-us-gov")])
def test_the_role_may_only_delete_this_groups_versions(synthesized: Synthesized, name: str, partition: str) -> None:
    region = "us-gov-west-1" if partition == "aws-us-gov" else "eu-west-1"
    prefix = f"arn:{partition}:sagemaker:{region}:{ACCOUNT}:model-package"
    grants = {
        (statement["Action"], statement["Resource"])
        for statement in sagemaker_statements(synthesized.templates[name])
        if statement["Effect"] == "Allow"
    }
    assert grants == {
        ("sagemaker:DeleteModelPackage", f"{prefix}/{GROUP}/*"),
        ("sagemaker:ListModelPackages", f"{prefix}/*"),
    }


def test_an_environment_agnostic_stack_uses_its_deploy_time_partition(synthesized: Synthesized) -> None:
    (delete,) = [s for s in sagemaker_statements(synthesized.templates["Agnostic"]) if "Delete" in s["Action"]]
    assert {"Ref": "AWS::Partition"} in delete["Resource"]["Fn::Join"][1]
    assert "arn:aws:" not in json.dumps(synthesized.templates["Agnostic"])


def test_the_function_answers_before_the_provider_framework_gives_up(synthesized: Synthesized) -> None:
    template = synthesized.templates["Dev"]
    functions = of_type(template, "AWS::Lambda::Function").values()
    (ours,) = [f for f in functions if f["Properties"]["Runtime"].startswith("python")]
    (framework,) = [f for f in functions if f["Properties"]["Runtime"].startswith("nodejs")]
    _, resource = only(template, RESOURCE_TYPE)
    assert ours["Properties"]["Timeout"] < framework["Properties"]["Timeout"]
    assert int(resource["Properties"]["ServiceTimeout"]) > framework["Properties"]["Timeout"]
    assert ours["Properties"]["Architectures"] == ["x86_64"]


def test_the_asset_holds_this_function_only_and_its_handler(synthesized: Synthesized) -> None:
    template = synthesized.templates["Dev"]
    (ours,) = [f for f in of_type(template, "AWS::Lambda::Function").values() if "python" in f["Properties"]["Runtime"]]
    module, function = ours["Properties"]["Handler"].rsplit(".", 1)
    manifest = json.loads((synthesized.outdir / "Dev.assets.json").read_text())
    (path,) = [
        entry["source"]["path"]
        for entry in manifest["files"].values()
        if any(d["objectKey"] == ours["Properties"]["Code"]["S3Key"] for d in entry["destinations"].values())
    ]
    asset = synthesized.outdir / path
    assert sorted(p.name for p in asset.iterdir()) == [module.split(".")[0]]
    source = (asset / (module.replace(".", "/") + ".py")).read_text()
    assert f"def {function}(" in source
    assert not list(asset.rglob("__pycache__"))
    assert (LAMBDAS_DIR / module.split(".")[0] / "handler.py").read_text() == source


def test_the_layer_is_the_powertools_version_the_tests_run(synthesized: Synthesized) -> None:
    parameters = synthesized.templates["Dev"]["Parameters"]
    layer_parameters = [p["Default"] for p in parameters.values() if "/aws/service/powertools/" in p.get("Default", "")]
    assert layer_parameters == [f"/aws/service/powertools/python/x86_64/python3.13/{POWERTOOLS_VERSION}"]
    assert POWERTOOLS_VERSION == INSTALLED_POWERTOOLS


def test_cdk_nag_runs_in_these_stacks(tmp_path: Path) -> None:
    """The control for the fixture's clean synth: an unacknowledged wildcard in the cleanup role fails it."""
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    add_compliance_checks(app)
    cleanup = build(app, "Dev")
    cleanup.function.add_to_role_policy(
        iam.PolicyStatement(actions=["sagemaker:DeleteModelPackageGroup"], resources=["*"])
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_a_removal_policy_applied_afterwards_fails_the_synth(tmp_path: Path) -> None:
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    cleanup = build(app, "Dev")
    group = cdk.Stack.of(cleanup).node.find_child("Group")
    assert isinstance(group, sagemaker.CfnModelPackageGroup)
    group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    with pytest.raises(RuntimeError, match="apply the removal policy first"):
        app.synth()


def test_a_group_without_a_literal_name_is_rejected() -> None:
    stack = cdk.Stack(
        cdk.App(context=cdk_json_context()), "Dev", env=cdk.Environment(account=ACCOUNT, region="eu-west-1")
    )
    group = sagemaker.CfnModelPackageGroup(stack, "Group", model_package_group_name=cdk.Aws.STACK_NAME)
    with pytest.raises(ValueError, match="needs a literal model_package_group_name"):
        ModelPackageGroupCleanup(stack, "Cleanup", group=group)

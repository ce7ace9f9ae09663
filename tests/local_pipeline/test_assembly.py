"""Reading the deployed definition out of a cloud assembly: the stage's stacks (found the way the delivery pipeline's
Train step finds them), the template's intrinsics resolved, and the CDK assets mapped to their staged files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local_pipeline.assembly import AssemblyError, load_definition, read_stacks
from tests.tools.assemblies import write_root

ACCOUNT, REGION = "123456789012", "eu-west-1"
ASSET_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def storage_template() -> dict[str, Any]:
    return {
        "Resources": {"DataBucketE3889A50": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "DataBucketName": {"Value": {"Ref": "DataBucketE3889A50"}, "Export": {"Name": "dev-storage:DataBucket"}}
        },
    }


def model_build_template(pipelines: int = 1) -> dict[str, Any]:
    body = {
        "Fn::Join": [
            "",
            [
                '{"Version": "2020-12-01", "Parameters": [{"Name": "InputDataUri", "Type": "String", '
                '"DefaultValue": "s3://',
                {"Fn::ImportValue": "dev-storage:DataBucket"},
                '/input/"}], "Steps": [], "RoleArn": "',
                {"Fn::GetAtt": ["PipelineRoleB3C4D5E6", "Arn"]},
                '", "Code": "',
                {"Fn::Sub": f"s3://{ASSET_BUCKET}/code.tar.gz"},
                '", "Key": "',
                {"Fn::GetAtt": "KeyA1B2C3D4.Arn"},
                '"}',
            ],
        ]
    }
    resources: dict[str, Any] = {
        "PipelineRoleB3C4D5E6": {"Type": "AWS::IAM::Role"},
        "KeyA1B2C3D4": {"Type": "AWS::KMS::Key"},
    }
    for index in range(pipelines):
        resources[f"Pipeline{index}"] = {
            "Type": "AWS::SageMaker::Pipeline",
            "Properties": {
                "PipelineName": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "model-build"]]},
                "PipelineDefinition": {"PipelineDefinitionBody": body},
            },
        }
    return {"Resources": resources}


def write_stage(directory: Path, templates: dict[str, dict[str, Any]]) -> None:
    """A stage assembly with the layout cdk synth writes: manifest, templates, an asset manifest and its file."""
    artifacts: dict[str, Any] = {}
    for stack, template in templates.items():
        _write(directory / f"{stack}.template.json", template)
        artifacts[stack] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://{ACCOUNT}/{REGION}",
            "properties": {"templateFile": f"{stack}.template.json", "stackName": f"dev-{stack}"},
        }
    (directory / "asset.abc").mkdir(parents=True, exist_ok=True)
    (directory / "asset.abc" / "code.tar.gz").write_text("code")
    assets = {
        "files": {
            "abc": {
                "source": {"path": "asset.abc/code.tar.gz"},
                "destinations": {"d": {"bucketName": ASSET_BUCKET, "objectKey": "code.tar.gz"}},
            }
        }
    }
    _write(directory / "modelbuild.assets.json", assets)
    _write(directory / "manifest.json", {"version": "55.0.0", "artifacts": artifacts})


def write_assembly(root: Path, pipelines: int = 1) -> Path:
    write_root(root, {"dev": "assembly-dev", "staging": "assembly-staging"})
    write_stage(root / "assembly-dev", {"storage": storage_template(), "modelbuild": model_build_template(pipelines)})
    write_stage(root / "assembly-staging", {"storage": storage_template()})
    return root


def test_the_definition_is_resolved_like_cloudformation_would(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out")
    loaded = load_definition(root, "dev")
    assert loaded.pipeline_name == "dev-modelbuild-model-build"
    assert loaded.definition["Parameters"][0]["DefaultValue"] == "s3://databuckete3889a50/input/"
    assert loaded.definition["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/PipelineRoleB3C4D5E6"
    assert loaded.definition["Key"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/KeyA1B2C3D4"
    code_uri = f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/code.tar.gz"
    assert loaded.definition["Code"] == code_uri
    assert loaded.s3_objects[code_uri] == root / "assembly-dev" / "asset.abc" / "code.tar.gz"
    assert loaded.source == f"{root / 'assembly-dev' / 'modelbuild.template.json'}#Pipeline0"


def test_the_stage_s_stacks_carry_their_environment(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out")
    stacks = {stack.artifact_id: stack for stack in read_stacks(root, "dev")}
    assert sorted(stacks) == ["modelbuild", "storage"]
    assert (stacks["storage"].stack_name, stacks["storage"].account, stacks["storage"].region) == (
        "dev-storage",
        ACCOUNT,
        REGION,
    )
    assert stacks["storage"].directory == root / "assembly-dev"


def test_a_stage_nested_in_another_stage_is_found(tmp_path: Path) -> None:
    """The walk of tools/cloud_assembly.py: directoryName is relative to the assembly that lists it, at every level."""
    root = tmp_path / "cdk.out"
    write_root(root, {"delivery": "assembly-delivery"})
    write_root(root / "assembly-delivery", {"delivery/dev": "assembly-delivery-dev"})
    write_stage(
        root / "assembly-delivery" / "assembly-delivery-dev",
        {"storage": storage_template(), "modelbuild": model_build_template()},
    )
    assert load_definition(root, "delivery/dev").pipeline_name == "dev-modelbuild-model-build"


def test_a_missing_assembly_or_stage_is_named(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match=re.escape(f"{tmp_path}: no cloud assembly here (run `make synth` first)")):
        load_definition(tmp_path, "dev")
    root = write_assembly(tmp_path / "cdk.out")
    with pytest.raises(AssemblyError, match=re.escape(f"{root}: no stage 'prod'; the assembly has ['dev', 'staging']")):
        load_definition(root, "prod")


@pytest.mark.parametrize(
    ("pipelines", "stage", "message"),
    [
        (1, "staging", "stage 'staging' holds no AWS::SageMaker::Pipeline (the delivery stage has none): give the "
         "stage of an environment, e.g. --stage dev"),
        (2, "dev", "stage 'dev' has 2 AWS::SageMaker::Pipeline resources (dev-modelbuild-model-build, "),
    ],
)  # fmt: skip
def test_a_stage_needs_exactly_one_pipeline(tmp_path: Path, pipelines: int, stage: str, message: str) -> None:
    root = write_assembly(tmp_path / "cdk.out", pipelines)
    with pytest.raises(AssemblyError, match=re.escape(message)):
        load_definition(root, stage)


def test_a_broken_template_is_named(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out")
    template = root / "assembly-dev" / "storage.template.json"
    template.write_text("{not json")
    with pytest.raises(AssemblyError, match=re.escape(f"{template}: not a readable JSON file")):
        load_definition(root, "dev")


def test_unsupported_intrinsics_are_named(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out")
    path = root / "assembly-dev" / "modelbuild.template.json"
    template = json.loads(path.read_text())
    template["Resources"]["Pipeline0"]["Properties"]["PipelineName"] = {"Fn::Select": [0, ["a"]]}
    path.write_text(json.dumps(template))
    with pytest.raises(AssemblyError, match="dev-modelbuild: unsupported intrinsic Fn::Select"):
        load_definition(root, "dev")

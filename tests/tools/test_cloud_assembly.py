"""The Train step reads what to train from the commit's cloud assembly, and refuses anything it cannot trust."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import SynthesizedApp
from tests.tools.assemblies import FINGERPRINT, ROLE, outputs, write_assembly, write_root, write_stage
from tools.cloud_assembly import AssemblyError, read_target


def test_reads_the_stage_stack_outputs_and_its_environment(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out")
    target = read_target(root, "dev")
    assert (target.pipeline_name, target.fingerprint, target.starter_role_arn, target.wait_seconds) == (
        "mlops-dev-model-build",
        FINGERPRINT,
        ROLE,
        18000,
    )
    assert (target.account, target.region, target.stack) == ("123456789012", "eu-west-1", "devmodelbuildA07F5107")
    assert target.template == root / "assembly-dev" / "devmodelbuildA07F5107.template.json"

    staging = read_target(root, "staging")
    assert (staging.pipeline_name, staging.region, staging.account) == (
        "mlops-staging-model-build",
        "eu-central-1",
        "210987654321",
    )
    assert staging.fingerprint == "b" * 64


def test_finds_a_stage_nested_in_another_stage(tmp_path: Path) -> None:
    """directoryName is relative to the assembly that lists it, at every level."""
    root = tmp_path / "cdk.out"
    write_root(root, {"delivery": "assembly-delivery"})
    write_root(root / "assembly-delivery", {"delivery/dev": "assembly-delivery-dev"})
    write_stage(root / "assembly-delivery" / "assembly-delivery-dev", {"model": outputs(PipelineName="nested")})
    assert read_target(root, "delivery/dev").pipeline_name == "nested"


@pytest.mark.parametrize(
    ("stack_outputs", "message"),
    [
        (outputs(TrainingWaitSeconds=None), "output TrainingWaitSeconds is missing"),
        (outputs(PipelineStarterRoleArn=None), "output PipelineStarterRoleArn is missing"),
        (
            outputs(PipelineName={"Ref": "ModelBuildPipeline"}),
            'output PipelineName is not a literal string (Value is {"Ref": "ModelBuildPipeline"})',
        ),
        (
            outputs(ModelBuildFingerprint={"Fn::GetAtt": ["Fingerprint", "Value"]}),
            "output ModelBuildFingerprint is not a literal string",
        ),
        (outputs(TrainingWaitSeconds=18000), "output TrainingWaitSeconds is not a literal string (Value is 18000)"),
        (outputs(TrainingWaitSeconds="4h"), "output TrainingWaitSeconds is '4h', expected a positive whole number"),
        (outputs(TrainingWaitSeconds="0"), "expected a positive whole number"),
        (outputs(ModelBuildFingerprint="A" * 64), "is not a lowercase sha256 hex"),
        (outputs(ModelBuildFingerprint="abc"), "is not a lowercase sha256 hex"),
        (outputs(PipelineStarterRoleArn="mlops-dev-pipeline-starter"), "is not an IAM role ARN"),
        (
            outputs(PipelineStarterRoleArn="arn:aws:iam::999999999999:role/x"),
            "is in account 999999999999, but stack devmodelbuildA07F5107 is deployed to 123456789012",
        ),
        (outputs(PipelineName="has space"), "is not a pipeline name"),
    ],
)
def test_bad_outputs_name_the_template_and_the_output(tmp_path: Path, stack_outputs: object, message: str) -> None:
    root = write_assembly(tmp_path / "cdk.out", stack_outputs)  # type: ignore[arg-type]
    with pytest.raises(AssemblyError, match=re.escape(message)) as info:
        read_target(root, "dev")
    assert str(info.value).startswith(f"{root / 'assembly-dev' / 'devmodelbuildA07F5107.template.json'}: ")


def test_unknown_stage_lists_the_stages(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out")
    with pytest.raises(
        AssemblyError,
        match=r"manifest.json: no stage 'prod' in this cloud assembly \(stages: dev, "
        r"staging\)",
    ):
        read_target(root, "prod")


def test_a_stage_without_training_outputs_is_an_error(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out", {"Other": {"Value": "x"}})
    with pytest.raises(
        AssemblyError,
        match="no stack of stage 'dev' has the outputs PipelineName, "
        "ModelBuildFingerprint, PipelineStarterRoleArn, TrainingWaitSeconds",
    ):
        read_target(root, "dev")


def test_two_stacks_with_training_outputs_are_ambiguous(tmp_path: Path) -> None:
    root = write_assembly(tmp_path / "cdk.out", other_stacks={"devother": {"PipelineName": {"Value": "p"}}})
    with pytest.raises(AssemblyError, match="more than one stack of stage 'dev' has training outputs"):
        read_target(root, "dev")


@pytest.mark.parametrize("environment", ["aws://unknown-account/unknown-region", "aws://123456789012/unknown-region"])
def test_an_environment_agnostic_stack_has_no_region(tmp_path: Path, environment: str) -> None:
    root = write_assembly(tmp_path / "cdk.out", environment=environment)
    with pytest.raises(AssemblyError, match=f"has environment '{environment}', expected aws://"):
        read_target(root, "dev")


def test_missing_or_broken_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match=re.escape(f"{tmp_path / 'nowhere' / 'manifest.json'}: no such file")):
        read_target(tmp_path / "nowhere", "dev")
    root = write_assembly(tmp_path / "cdk.out")
    template = root / "assembly-dev" / "devmodelbuildA07F5107.template.json"
    template.write_text("{not json")
    with pytest.raises(AssemblyError, match=re.escape(f"{template}: not a readable JSON file")):
        read_target(root, "dev")


def test_the_app_s_assembly_is_readable_for_every_trained_environment(cross_account_app: SynthesizedApp) -> None:
    """What the stacks synthesize is what the tool reads: literal outputs, the environment's account and region."""
    trained = {
        name: stage
        for name, stage in cross_account_app.stages.items()
        if "PipelineStarterRoleArn" in cross_account_app.templates[(name, "model-build")].get("Outputs", {})
    }
    assert trained, "no environment trains after deploy: nothing to read"
    for name, stage in trained.items():
        target = read_target(cross_account_app.outdir, name)
        assert target.fingerprint == stage.model_build.fingerprint
        assert target.wait_seconds == stage.model_build.training_wait_seconds
        assert (target.account, target.region) == (stage.account, stage.region)
        assert target.starter_role_arn.startswith(f"arn:aws:iam::{stage.account}:role/")

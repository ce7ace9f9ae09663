"""Small cloud assemblies with the layout ``cdk synth`` writes (root manifest -> nested stage assembly -> stacks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FINGERPRINT = "a" * 64
ROLE = "arn:aws:iam::123456789012:role/mlops-dev-pipeline-starter"


def outputs(**overrides: Any) -> dict[str, Any]:
    """The training outputs of a model-build stack; ``Name=None`` drops one, a non-string is used as the Value."""
    values: dict[str, Any] = {
        "PipelineName": "mlops-dev-model-build",
        "ModelBuildFingerprint": FINGERPRINT,
        "PipelineStarterRoleArn": ROLE,
        "TrainingWaitSeconds": "18000",
        **overrides,
    }
    return {name: {"Value": value} for name, value in values.items() if value is not None}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def write_stage(
    directory: Path, stacks: dict[str, dict[str, Any]], environment: str = "aws://123456789012/eu-west-1"
) -> None:
    """A stage assembly in ``directory``: one stack per entry, its template holding the given Outputs."""
    artifacts: dict[str, Any] = {}
    for stack, stack_outputs in stacks.items():
        _write(directory / f"{stack}.template.json", {"Resources": {}, "Outputs": stack_outputs})
        artifacts[f"{stack}.assets"] = {"type": "cdk:asset-manifest", "properties": {"file": f"{stack}.assets.json"}}
        artifacts[stack] = {
            "type": "aws:cloudformation:stack",
            "environment": environment,
            "properties": {"templateFile": f"{stack}.template.json", "validateOnSynth": True},
            "displayName": stack,
        }
    _write(directory / "manifest.json", {"version": "55.0.0", "artifacts": artifacts})


def write_root(root: Path, stages: dict[str, str]) -> None:
    """A manifest listing nested assemblies: ``{display name: directory name}``."""
    artifacts: dict[str, Any] = {
        directory: {"type": "cdk:cloud-assembly", "properties": {"directoryName": directory, "displayName": name}}
        for name, directory in stages.items()
    }
    artifacts["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    _write(root / "manifest.json", {"version": "55.0.0", "artifacts": artifacts})


def write_assembly(
    root: Path,
    stack_outputs: dict[str, Any] | None = None,
    *,
    environment: str = "aws://123456789012/eu-west-1",
    other_stacks: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """cdk.out with stages dev and staging; dev's model-build stack has ``stack_outputs`` (default: all four)."""
    write_root(root, {"dev": "assembly-dev", "staging": "assembly-staging"})
    dev = {"devstorage8AA05FC0": {"BucketName": {"Value": "b"}}, **(other_stacks or {})}
    dev["devmodelbuildA07F5107"] = outputs() if stack_outputs is None else stack_outputs
    write_stage(root / "assembly-dev", dev, environment)
    write_stage(
        root / "assembly-staging",
        {
            "stagingmodelbuild1": outputs(
                ModelBuildFingerprint="b" * 64,
                PipelineName="mlops-staging-model-build",
                PipelineStarterRoleArn="arn:aws:iam::210987654321:role/mlops-staging-pipeline-starter",
            )
        },
        "aws://210987654321/eu-central-1",
    )
    return root

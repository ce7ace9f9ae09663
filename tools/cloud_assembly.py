"""What to train for one stage, read from the cloud assembly that the delivery pipeline synthesized from the commit.

The Train step runs after the stage's stacks of commit X were deployed. Reading the pipeline name, the model-build
fingerprint, the starter role and the wait bound from X's own assembly (not from the deployed stacks) is what ties
the run to X: the fingerprint read here is the one X's definition must carry, and the tool checks it at run time.

Layout read (the one ``cdk synth`` writes): ``<root>/manifest.json`` lists nested assemblies (type
``cdk:cloud-assembly``, ``properties.directoryName`` relative to the listing assembly, ``properties.displayName`` the
stage path); a stage's ``manifest.json`` lists ``aws:cloudformation:stack`` artifacts with ``environment``
``aws://<account>/<region>`` and ``properties.templateFile`` (JSON, relative to the stage's directory).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.naming import FINGERPRINT_OUTPUT, PIPELINE_NAME_OUTPUT, STARTER_ROLE_OUTPUT, WAIT_SECONDS_OUTPUT

NESTED_ASSEMBLY = "cdk:cloud-assembly"
STACK = "aws:cloudformation:stack"
#: The stack outputs the tool relies on (named once, in config/naming.py, for the stacks and this tool); each must
#: be a literal string in the synthesized template.
PIPELINE_NAME = PIPELINE_NAME_OUTPUT
FINGERPRINT = FINGERPRINT_OUTPUT
STARTER_ROLE = STARTER_ROLE_OUTPUT
WAIT_SECONDS = WAIT_SECONDS_OUTPUT
OUTPUTS = (PIPELINE_NAME, FINGERPRINT, STARTER_ROLE, WAIT_SECONDS)

_ENVIRONMENT = re.compile(r"aws://(?P<account>\d{12})/(?P<region>[a-z]{2}(-[a-z]+)+-\d)")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]+")
#: StartPipelineExecution's PipelineName pattern (botocore service model), without the ARN form.
_PIPELINE_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}")


class AssemblyError(Exception):
    """The cloud assembly does not say what to train (or what else its reader needs); the message names the file and
    the problem."""


@dataclass(frozen=True)
class TrainTarget:
    """The SageMaker pipeline of one stage, as commit X's assembly describes it."""

    stage: str
    stack: str
    template: Path
    account: str
    region: str
    pipeline_name: str
    fingerprint: str
    starter_role_arn: str
    wait_seconds: int


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file of the assembly; an :class:`AssemblyError` naming the file otherwise."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AssemblyError(f"{path}: no such file (is this a cloud assembly written by cdk synth?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssemblyError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise AssemblyError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _artifacts(manifest: Path, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    artifacts = load_json(manifest).get("artifacts", {})
    if not isinstance(artifacts, dict):
        raise AssemblyError(f"{manifest}: 'artifacts' is not an object")
    for artifact_id, artifact in artifacts.items():
        if isinstance(artifact, dict) and artifact.get("type") == kind:
            yield artifact_id, artifact


def _file_property(manifest: Path, artifact_id: str, artifact: dict[str, Any], key: str) -> Path:
    value = artifact.get("properties", {}).get(key)
    if not isinstance(value, str) or not value:
        raise AssemblyError(f"{manifest}: artifact {artifact_id} has no properties.{key}")
    return manifest.parent / value


def stages(cloud_assembly: Path) -> dict[str, list[Path]]:
    """Display name -> manifest(s) of every nested assembly, stages nested in stages included (breadth first)."""
    found: dict[str, list[Path]] = {}
    pending = [cloud_assembly / "manifest.json"]
    while pending:
        manifest = pending.pop(0)
        for artifact_id, artifact in _artifacts(manifest, NESTED_ASSEMBLY):
            directory = _file_property(manifest, artifact_id, artifact, "directoryName")
            name = str(artifact.get("properties", {}).get("displayName", artifact_id))
            found.setdefault(name, []).append(directory / "manifest.json")
            pending.append(directory / "manifest.json")
    return found


def stage_manifest(cloud_assembly: Path, stage: str) -> Path:
    """The manifest of the nested assembly whose display name is ``stage`` (stages nested in stages included)."""
    listed = stages(cloud_assembly)
    found = listed.get(stage, [])
    if not found:
        known = ", ".join(sorted(name for name, manifests in listed.items() for _ in manifests)) or "none"
        raise AssemblyError(
            f"{cloud_assembly / 'manifest.json'}: no stage {stage!r} in this cloud assembly (stages: {known})"
        )
    if len(found) > 1:
        raise AssemblyError(f"{cloud_assembly}: stage {stage!r} is ambiguous: {', '.join(map(str, found))}")
    return found[0]


def stack_templates(manifest: Path) -> Iterator[tuple[str, dict[str, Any], Path]]:
    """(artifact id, artifact, template file) of every CloudFormation stack the assembly ``manifest`` lists."""
    for artifact_id, artifact in _artifacts(manifest, STACK):
        yield artifact_id, artifact, _file_property(manifest, artifact_id, artifact, "templateFile")


def _literal(template: Path, outputs: dict[str, Any], name: str) -> str:
    if name not in outputs:
        raise AssemblyError(f"{template}: output {name} is missing")
    output = outputs[name]
    value = output.get("Value") if isinstance(output, dict) else None
    if not isinstance(value, str):
        shown = json.dumps(value)[:200]
        raise AssemblyError(
            f"{template}: output {name} is not a literal string (Value is {shown}); the tool reads it from the "
            "assembly before anything is resolved, so the stack must know it at synth time"
        )
    return value


def _validated(template: Path, name: str, value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise AssemblyError(f"{template}: output {name} is {value!r}, which is not {what}")
    return value


def read_target(cloud_assembly: Path, stage: str) -> TrainTarget:
    """The single stack of ``stage`` with the training outputs; :class:`AssemblyError` if there is not exactly one."""
    manifest = stage_manifest(cloud_assembly, stage)
    candidates: list[tuple[str, dict[str, Any], Path, dict[str, Any]]] = []
    for artifact_id, artifact, template in stack_templates(manifest):
        outputs = load_json(template).get("Outputs", {})
        if isinstance(outputs, dict) and any(name in outputs for name in OUTPUTS):
            candidates.append((artifact_id, artifact, template, outputs))
    if not candidates:
        raise AssemblyError(f"{manifest}: no stack of stage {stage!r} has the outputs {', '.join(OUTPUTS)}")
    if len(candidates) > 1:
        files = ", ".join(str(template) for _, _, template, _ in candidates)
        raise AssemblyError(f"{manifest}: more than one stack of stage {stage!r} has training outputs: {files}")
    artifact_id, artifact, template, outputs = candidates[0]
    values = {name: _literal(template, outputs, name) for name in OUTPUTS}

    environment = artifact.get("environment")
    match = _ENVIRONMENT.fullmatch(environment) if isinstance(environment, str) else None
    if match is None:
        raise AssemblyError(
            f"{manifest}: stack {artifact_id} has environment {environment!r}, expected "
            "aws://<12-digit account>/<region> (an environment-agnostic stack has no region to use)"
        )
    account, region = match["account"], match["region"]

    role = _validated(template, STARTER_ROLE, values[STARTER_ROLE], _ROLE_ARN, "an IAM role ARN")
    role_account = _ROLE_ARN.fullmatch(role)["account"]  # type: ignore[index]  # validated just above
    if role_account != account:
        raise AssemblyError(
            f"{template}: output {STARTER_ROLE} is in account {role_account}, but stack "
            f"{artifact_id} is deployed to {account}: the starter role must be in the pipeline's account"
        )
    seconds = values[WAIT_SECONDS]
    if not re.fullmatch(r"[0-9]+", seconds) or int(seconds) <= 0:
        raise AssemblyError(f"{template}: output {WAIT_SECONDS} is {seconds!r}, expected a positive whole number")
    return TrainTarget(
        stage=stage,
        stack=artifact_id,
        template=template,
        account=account,
        region=region,
        pipeline_name=_validated(template, PIPELINE_NAME, values[PIPELINE_NAME], _PIPELINE_NAME, "a pipeline name"),
        fingerprint=_validated(template, FINGERPRINT, values[FINGERPRINT], _FINGERPRINT, "a lowercase sha256 hex"),
        starter_role_arn=role,
        wait_seconds=int(seconds),
    )

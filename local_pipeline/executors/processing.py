"""``Processing``: the step's container command runs here, in a folder that plays the container's ``/``.

Inputs (``S3Prefix``, ``File`` mode, uncompressed) are copied from the local S3 into their ``LocalPath`` before the
command starts; every output folder is copied to its ``S3Uri`` after it ends; the declared property files are read
from the output folders, where the condition steps' ``Std:JsonGet`` then finds them. The image decides the command
(:mod:`local_pipeline.executors.images`). More than one instance runs as one, with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from local_pipeline.errors import S3Error, StepError
from local_pipeline.execution import Execution, arn
from local_pipeline.executors.base import Executor, StepOutcome, string_map, text, timeout
from local_pipeline.executors.container import run_command, step_root
from local_pipeline.executors.images import ProcessingJob, emulator, image_repository
from local_pipeline.expressions import Json, resolve
from local_pipeline.plan import StepNode
from sagemaker_code.steps.contract import LOCAL_AWS_ROOT

logger = logging.getLogger(__name__)


def _processing_input(run: Execution, job: ProcessingJob, item: Json) -> None:
    name = item.get("InputName", "?") if isinstance(item, dict) else "?"
    source = item.get("S3Input") if isinstance(item, dict) else None
    if not isinstance(source, dict):
        raise StepError(f"ProcessingInput {name}: only S3Input inputs are supported, got {str(item)[:200]}")
    unsupported = {
        "S3DataType": (source.get("S3DataType", "S3Prefix"), "S3Prefix"),
        "S3InputMode": (source.get("S3InputMode", "File"), "File"),
        "S3CompressionType": (source.get("S3CompressionType", "None"), "None"),
    }
    for key, (value, supported) in unsupported.items():
        if value != supported:
            raise StepError(f"ProcessingInput {name}: {key} {value!r} is not supported locally (only {supported!r})")
    uri = text(source.get("S3Uri"), f"ProcessingInput {name}.S3Uri")
    try:
        run.s3.download(uri, job.local(text(source.get("LocalPath"), f"ProcessingInput {name}.LocalPath")))
    except S3Error as exc:
        raise StepError(f"ProcessingInput {name}: {exc}") from None


def _processing_outputs(arguments: dict[str, Json]) -> list[tuple[str, str, str]]:
    """(OutputName, S3Uri, LocalPath) of every ProcessingOutput."""
    outputs = []
    for item in (arguments.get("ProcessingOutputConfig") or {}).get("Outputs", []):
        name = text(item.get("OutputName"), "ProcessingOutput.OutputName")
        target = item.get("S3Output")
        if not isinstance(target, dict):
            raise StepError(f"ProcessingOutput {name}: only S3Output outputs are supported, got {str(item)[:200]}")
        uri = text(target.get("S3Uri"), f"ProcessingOutput {name}.S3Uri")
        outputs.append((name, uri, text(target.get("LocalPath"), f"ProcessingOutput {name}.LocalPath")))
    return outputs


def _read_property_files(node: StepNode, run: Execution, folders: Mapping[str, Path]) -> None:
    for item in node.body.get("PropertyFiles", []):
        name, output, file_path = item.get("PropertyFileName"), item.get("OutputName"), item.get("FilePath")
        if output not in folders:
            raise StepError(f"property file {name}: the step has no output {output!r} (outputs: {sorted(folders)})")
        path = folders[output] / text(file_path, f"property file {name}.FilePath")
        if not path.is_file():
            raise StepError(f"property file {name}: the step did not write {file_path} in output {output!r} ({path})")
        try:
            run.scope.property_files[(node.name, name)] = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StepError(f"property file {name} ({path}) is not valid JSON: {exc}") from None


def local_aws(run: Execution) -> dict[str, str]:
    """The local stand-in for AWS of the steps, when the run's S3 and registry folders are siblings (as the CLI lays
    them out); otherwise nothing, and a step that calls AWS fails naming what it could not reach."""
    root = run.s3.root.resolve().parent
    return {LOCAL_AWS_ROOT: str(root)} if run.registry.root.resolve().parent == root else {}


def run_processing(node: StepNode, run: Execution) -> StepOutcome:
    arguments = resolve(node.arguments, run.scope)
    app = arguments.get("AppSpecification") or {}
    count = (arguments.get("ProcessingResources") or {}).get("ClusterConfig", {}).get("InstanceCount", 1)
    if count != 1:
        logger.warning("%s: InstanceCount %s: the local runner runs one instance", node.name, count)
    image = text(app.get("ImageUri"), "AppSpecification.ImageUri")
    image_emulator = emulator(image, "processing")
    root = step_root(run.workspace, node.name)
    job = ProcessingJob(
        step=node.name,
        image=image,
        entrypoint=[text(item, "ContainerEntrypoint[]") for item in app.get("ContainerEntrypoint") or []],
        arguments=[text(item, "ContainerArguments[]") for item in app.get("ContainerArguments") or []],
        environment={**string_map(arguments.get("Environment"), "Environment"), **local_aws(run)},
        root=root,
    )
    for item in arguments.get("ProcessingInputs") or []:
        _processing_input(run, job, item)
    outputs = _processing_outputs(arguments)
    folders = {name: job.local(local_path) for name, _, local_path in outputs}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    assert image_emulator.processing is not None  # noqa: S101 - checked by emulator()
    command = image_emulator.processing(job)
    run_command(command, log=run.log(node.name), bin_dir=run.bin_dir, timeout=timeout(arguments))
    for name, uri, _ in outputs:
        run.s3.put_tree(folders[name], uri)
    _read_property_files(node, run, folders)
    job_name = run.job_name(node.name)
    properties = {
        **arguments,
        "ProcessingJobName": job_name,
        "ProcessingJobArn": arn("processing-job", job_name),
        "ProcessingJobStatus": "Completed",
    }
    return StepOutcome(properties, f"image {image_repository(job.image)}")


EXECUTOR = Executor("Processing", run_processing, runs_container=True)

"""``Training``: script mode of the SageMaker training toolkit, run here.

``sagemaker_submit_directory`` (a tar.gz in the local S3) is unpacked into the container's code folder, each
``InputDataConfig`` channel (``S3Prefix``) is copied into its channel folder, the image's command runs
(:mod:`local_pipeline.executors.images`), and the model folder becomes
``<S3OutputPath>/<job name>/output/model.tar.gz`` (plus ``output.tar.gz`` when the job wrote output data), as the
cloud publishes it for the steps that read ``ModelArtifacts.S3ModelArtifacts``.
"""

from __future__ import annotations

import json

from local_pipeline.errors import S3Error, StepError
from local_pipeline.execution import Execution, arn
from local_pipeline.executors.base import Executor, StepOutcome, string_map, text, timeout
from local_pipeline.executors.container import extract, local_path, pack, run_command, step_root
from local_pipeline.executors.images import TRAINING_OUTPUT_DATA_DIR, TrainingJob, emulator
from local_pipeline.expressions import Json, resolve
from local_pipeline.plan import StepNode
from sagemaker_code.steps.contract import CODE_DIR, MODEL_DIR, training_channel

#: The hyperparameters through which the SDK tells the toolkit what to run (not passed to the program).
TOOLKIT_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory")
#: SageMaker's names for the published model folder and output data folder.
MODEL_ARCHIVE = "model.tar.gz"
OUTPUT_ARCHIVE = "output.tar.gz"


def decode_hyperparameter(value: str) -> Json:
    """As the training toolkit reads a hyperparameter: its JSON value when it parses, else the text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def run_training(node: StepNode, run: Execution) -> StepOutcome:
    arguments = resolve(node.arguments, run.scope)
    image = text((arguments.get("AlgorithmSpecification") or {}).get("TrainingImage"), "TrainingImage")
    image_emulator = emulator(image, "training")
    raw = string_map(arguments.get("HyperParameters"), "HyperParameters")
    missing = [name for name in TOOLKIT_HYPERPARAMETERS if name not in raw]
    if missing:
        raise StepError(f"image {image}: script mode needs the hyperparameters {missing} (it has {sorted(raw)})")
    root = step_root(run.workspace, node.name)
    code = local_path(root, CODE_DIR)
    submit = raw["sagemaker_submit_directory"]
    extract(run.s3.get(submit), code, "sagemaker_submit_directory")
    program = raw["sagemaker_program"]
    if not (code / program).is_file():
        found = sorted(p.relative_to(code).as_posix() for p in code.rglob("*.py"))
        raise StepError(f"sagemaker_program {program!r} is not in {submit} (its Python files: {found})")
    channels = []
    for item in arguments.get("InputDataConfig") or []:
        channel = text(item.get("ChannelName"), "InputDataConfig.ChannelName")
        source = (item.get("DataSource") or {}).get("S3DataSource")
        if not isinstance(source, dict) or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise StepError(f"channel {channel}: only S3DataSource with S3DataType S3Prefix is supported, got {item}")
        try:
            uri = text(source.get("S3Uri"), f"channel {channel}.S3Uri")
            run.s3.download(uri, local_path(root, training_channel(channel)))
        except S3Error as exc:
            raise StepError(f"channel {channel}: {exc}") from None
        channels.append(channel)
    model, output_data = local_path(root, MODEL_DIR), local_path(root, TRAINING_OUTPUT_DATA_DIR)
    for folder in (model, output_data):
        folder.mkdir(parents=True, exist_ok=True)
    job = TrainingJob(
        step=node.name,
        image=image,
        program=program,
        hyperparameters={
            name: decode_hyperparameter(value) for name, value in raw.items() if not name.startswith("sagemaker_")
        },
        channels=channels,
        environment=string_map(arguments.get("Environment"), "Environment"),
        root=root,
    )
    assert image_emulator.training is not None  # noqa: S101 - checked by emulator()
    command = image_emulator.training(job)
    run_command(command, log=run.log(node.name), bin_dir=run.bin_dir, timeout=timeout(arguments))
    job_name = run.job_name(node.name)
    output_path = text((arguments.get("OutputDataConfig") or {}).get("S3OutputPath"), "OutputDataConfig.S3OutputPath")
    model_uri = f"{output_path.rstrip('/')}/{job_name}/output/{MODEL_ARCHIVE}"
    archive = run.workspace / "archives" / node.name / MODEL_ARCHIVE
    pack(model, archive)
    run.s3.put_file(archive, model_uri)
    if any(output_data.iterdir()):
        pack(output_data, archive.with_name(OUTPUT_ARCHIVE))
        run.s3.put_file(archive.with_name(OUTPUT_ARCHIVE), model_uri.replace(f"/{MODEL_ARCHIVE}", f"/{OUTPUT_ARCHIVE}"))
    properties = {
        **arguments,
        "TrainingJobName": job_name,
        "TrainingJobArn": arn("training-job", job_name),
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
    }
    return StepOutcome(properties, f"model {model_uri}")


EXECUTOR = Executor("Training", run_training, runs_container=True)

"""The container images the runner can stand in for, by ECR repository, and the command each runs for a job.

For the XGBoost framework image a processing job runs the step's own ``ContainerEntrypoint`` +
``ContainerArguments`` (container paths rewritten), and a training job runs the SageMaker training toolkit's script
mode: ``python3 <sagemaker_program> --<name> <value> ...`` in the unpacked code folder, with the toolkit's ``SM_*``
variables pointing at the channels, the model folder and the hyperparameters. An image without an emulator (the
SageMaker Clarify image, any custom image) stops the step with a message naming the image.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from local_pipeline.errors import StepError
from local_pipeline.executors.container import Command, local_path, rewrite_container_paths
from local_pipeline.expressions import Json
from sagemaker_code.steps.contract import (
    CODE_DIR,
    CONTAINER_ROOT,
    MODEL_DIR,
    SM_CHANNEL_PREFIX,
    SM_HPS,
    SM_MODEL_DIR,
    training_channel,
)

#: Script-mode paths the training toolkit sets up that the contract does not name (no step reads them).
TRAINING_INPUT_DIR = f"{CONTAINER_ROOT}/input"
TRAINING_OUTPUT_DIR = f"{CONTAINER_ROOT}/output"
TRAINING_OUTPUT_DATA_DIR = f"{TRAINING_OUTPUT_DIR}/data"
#: The toolkit's variable of each hyperparameter is ``SM_HP_<NAME>``.
SM_HP_PREFIX = "SM_HP_"
#: Entrypoints a framework image's processing job may run (anything else is the image's own program).
SCRIPT_PROGRAMS = frozenset({"sh", "bash", "python", "python3"})


def image_repository(image_uri: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` (or ``@sha256:...``) -> ``<repository>``."""
    path = image_uri.split("/", 1)[1] if "/" in image_uri else image_uri
    return path.split("@", 1)[0].split(":", 1)[0]


@dataclass(frozen=True)
class ProcessingJob:
    """A processing step's resolved arguments, as the container sees them, plus its local root."""

    step: str
    image: str
    entrypoint: list[str]
    arguments: list[str]
    environment: dict[str, str]
    root: Path  # stands for the container's "/"

    def local(self, container_path: str) -> Path:
        return local_path(self.root, container_path)


@dataclass(frozen=True)
class TrainingJob:
    step: str
    image: str
    program: str
    hyperparameters: dict[str, Json]  # decoded, without the sagemaker_* ones
    channels: list[str]
    environment: dict[str, str]
    root: Path

    def local(self, container_path: str) -> Path:
        return local_path(self.root, container_path)


@dataclass(frozen=True)
class ImageEmulator:
    """How the runner stands in for one container image (by ECR repository)."""

    description: str
    processing: Callable[[ProcessingJob], Command] | None = None
    training: Callable[[TrainingJob], Command] | None = None


def entrypoint_command(job: ProcessingJob) -> Command:
    """A framework image runs the step's own command: ContainerEntrypoint + ContainerArguments."""
    if not job.entrypoint:
        raise StepError(
            f"image {job.image} without a ContainerEntrypoint would run the image's own program, "
            "which the local runner cannot; give the step an explicit command"
        )
    program = job.entrypoint[0].rsplit("/", 1)[-1]
    if program not in SCRIPT_PROGRAMS:
        raise StepError(
            f"image {job.image}: the local runner runs entrypoints of {sorted(SCRIPT_PROGRAMS)}, "
            f"not {job.entrypoint[0]!r}"
        )
    argv = [rewrite_container_paths(item, job.root) for item in [*job.entrypoint, *job.arguments]]
    env = {name: rewrite_container_paths(value, job.root) for name, value in job.environment.items()}
    return Command(argv, job.root, env)


def script_mode_command(job: TrainingJob) -> Command:
    """The SageMaker training toolkit's script mode: ``python3 <program> --name value ...`` with the SM_* variables."""
    cli: list[str] = []
    for name in sorted(job.hyperparameters):
        value = job.hyperparameters[name]
        cli += [f"--{name}", value if isinstance(value, str) else json.dumps(value)]
    env = {
        SM_MODEL_DIR: str(job.local(MODEL_DIR)),
        "SM_OUTPUT_DATA_DIR": str(job.local(TRAINING_OUTPUT_DATA_DIR)),
        "SM_OUTPUT_DIR": str(job.local(TRAINING_OUTPUT_DIR)),
        "SM_INPUT_DIR": str(job.local(TRAINING_INPUT_DIR)),
        "SM_INPUT_DATA_CONFIG": json.dumps({channel: {} for channel in job.channels}),
        "SM_CHANNELS": json.dumps(sorted(job.channels)),
        SM_HPS: json.dumps(job.hyperparameters, sort_keys=True),
        "SM_USER_ENTRY_POINT": job.program,
        "SM_MODULE_DIR": str(job.local(CODE_DIR)),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        **{
            f"{SM_CHANNEL_PREFIX}{channel.upper()}": str(job.local(training_channel(channel)))
            for channel in job.channels
        },
        **{f"{SM_HP_PREFIX}{name.upper()}": hyperparameter_text(value) for name, value in job.hyperparameters.items()},
        **{name: rewrite_container_paths(value, job.root) for name, value in job.environment.items()},
    }
    return Command(["python3", job.program, *cli], job.local(CODE_DIR), env)


def hyperparameter_text(value: Json) -> str:
    return value if isinstance(value, str) else json.dumps(value)


#: The images the runner can stand in for, by ECR repository name.
IMAGE_EMULATORS: dict[str, ImageEmulator] = {
    "sagemaker-xgboost": ImageEmulator(
        "XGBoost framework image: explicit processing commands and script-mode training, run with this interpreter",
        processing=entrypoint_command,
        training=script_mode_command,
    ),
}


def emulator(image: str, use: Literal["processing", "training"]) -> ImageEmulator:
    """The emulator of ``image`` for ``use``; a :class:`StepError` naming the image when there is none."""
    found = IMAGE_EMULATORS.get(image_repository(image))
    if found is None or getattr(found, use) is None:
        able = [name for name, each in IMAGE_EMULATORS.items() if getattr(each, use) is not None]
        raise StepError(
            f"cannot run image {image} locally for {use} "
            f"(the runner emulates {use} with the images of {', '.join(able)})"
        )
    return found

"""The command line: ``python -m local_pipeline`` (``make local-pipeline``) runs one execution of the pipeline
definition that CDK deploys, read from the synthesized cloud assembly, or of a definition JSON file.

The workspace is shared by the runs: each execution gets ``WORKSPACE/executions/<id>``, while the local S3
(``WORKSPACE/s3``) and the model registry (``WORKSPACE/registry``) persist, so that versions keep counting (`make
clean` keeps the workspace). ``GitCommit`` is the working tree's commit (:mod:`local_pipeline.commit`) unless
``--param GitCommit=...`` gives it. Exit status: 0 the pipeline succeeded, 1 it failed (a Fail step or a failing
step), 2 bad usage or a definition the runner cannot run, found before anything is written
(:mod:`local_pipeline.arguments`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from local_pipeline import arguments
from local_pipeline.commit import COMMIT_PARAMETER, working_tree_commit
from local_pipeline.errors import DefinitionError, ParameterError, S3Error, UsageError
from local_pipeline.expressions import Json
from local_pipeline.parameters import resolve_parameters
from local_pipeline.plan import plan
from local_pipeline.runner import new_execution_id, run_pipeline
from local_pipeline.s3 import LocalS3, split_s3_uri

__all__ = ["UsageError", "build_parser", "main"]

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_pipeline",
        description="Run the SageMaker Pipeline definition locally (no Docker, no AWS). Exit status: 0 succeeded, "
        "1 the pipeline failed (a Fail step or a failing step), 2 bad usage or a definition the runner cannot run.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--definition", type=Path, help="a pipeline definition JSON file (instead of --cdk-out)")
    source.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), help="synthesized cloud assembly (default: cdk.out)"
    )
    parser.add_argument("--stage", default="dev", help="stage of the assembly whose pipeline runs (default: dev)")
    parser.add_argument(
        "--pipeline-name",
        help="which pipeline of the stage (a monitored environment has its model build and its monitoring), and "
        "Execution.PipelineName (default: the stage's only pipeline, or the file name)",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=Path(".local-pipeline"),
        help="runs go to WORKSPACE/executions/<id>; the local S3 (WORKSPACE/s3) and model registry "
        "(WORKSPACE/registry) are shared by the runs (default: .local-pipeline)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline parameter, once each (GitCommit defaults to the working tree's HEAD, with -dirty "
        "when the app's inputs have uncommitted changes)",
    )
    parser.add_argument(
        "--s3-object",
        action="append",
        default=[],
        metavar="S3URI=PATH",
        help="serve the S3 object S3URI from the file PATH",
    )
    parser.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="S3URI=PATH",
        help="copy a local file or folder into the local S3",
    )
    parser.add_argument(
        "--input",
        help="use this local file or folder (anywhere, not copied) as the InputDataUri parameter",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    return parser


def _load(args: argparse.Namespace) -> tuple[dict[str, Json], str, dict[str, Path]]:
    if args.definition is not None:
        definition = arguments.read_definition(args.definition)
        return definition, args.pipeline_name or args.definition.stem, {}
    from local_pipeline.assembly import AssemblyError, load_definition

    try:
        loaded = load_definition(args.cdk_out, args.stage, args.pipeline_name)
    except AssemblyError as exc:
        raise UsageError(str(exc)) from None
    return loaded.definition, args.pipeline_name or loaded.pipeline_name, dict(loaded.s3_objects)


INPUT_BUCKET = "local-input"
INPUT_PARAMETER = "InputDataUri"


def _declared(definition: dict[str, Json]) -> set[str]:
    parameters = definition.get("Parameters", [])
    items = parameters if isinstance(parameters, list) else []
    return {str(item["Name"]) for item in items if isinstance(item, dict) and "Name" in item}


def _set_commit(definition: dict[str, Json], overrides: dict[str, str]) -> tuple[int, str] | None:
    """GitCommit from the working tree (see :mod:`local_pipeline.commit`), unless ``--param`` gives it; the log
    record that says so (level, message), for once every argument is checked."""
    if COMMIT_PARAMETER not in _declared(definition) or COMMIT_PARAMETER in overrides:
        return None
    found = working_tree_commit()
    if found.value is None:
        return logging.WARNING, f"{COMMIT_PARAMETER} keeps its default value: {found.reason}"
    overrides[COMMIT_PARAMETER] = found.value
    if not found.changed:
        return logging.INFO, f"{COMMIT_PARAMETER}={found.value} (the working tree's HEAD)"
    more = len(found.changed) - 5
    shown = ", ".join(found.changed[:5]) + (f" and {more} more" if more > 0 else "")
    return logging.WARNING, (
        f"{COMMIT_PARAMETER}={found.value}: the working tree has uncommitted changes to the app's inputs ({shown}); "
        "commit them for a run that a commit reproduces"
    )


@dataclass(frozen=True)
class _Prepared:
    definition: dict[str, Json]
    pipeline_name: str
    workspace: Path
    s3: LocalS3
    seeds: list[tuple[str, Path]]
    overrides: dict[str, str]
    execution_id: str


def _prepare(args: argparse.Namespace) -> _Prepared:
    """Every argument checked, in an order that writes nothing (see :mod:`local_pipeline.arguments`)."""
    if args.pipeline_name is not None:
        arguments.pipeline_name(args.pipeline_name)
    definition, pipeline_name, objects = _load(args)
    workspace = arguments.workspace(args.workspace)
    s3 = LocalS3(workspace / "s3", objects)
    for uri, path in arguments.assignments(args.s3_object, "--s3-object"):
        _check_uri(uri, f"--s3-object {uri}={path}")
        if not Path(path).is_file():
            raise UsageError(f"--s3-object {uri}={path}: {path} is not a file")
        s3.objects[uri] = Path(path).resolve()
    seeds = []
    for uri, path in arguments.assignments(args.seed, "--seed"):
        _check_uri(uri, f"--seed {uri}={path}")
        seeds.append((uri, arguments.local_data(path, f"--seed {uri}={path}")))
    overrides = dict(arguments.assignments(args.param, "--param", unique=True))
    execution_id = new_execution_id()
    if args.input is not None:
        if INPUT_PARAMETER in overrides:
            raise UsageError(f"--input sets {INPUT_PARAMETER}: give either --input or --param {INPUT_PARAMETER}=...")
        if INPUT_PARAMETER not in _declared(definition):
            raise UsageError(f"--input sets the parameter {INPUT_PARAMETER}, which this definition does not declare")
        data = arguments.local_data(args.input, f"--input {args.input}")
        overrides[INPUT_PARAMETER] = s3.map_objects(f"s3://{INPUT_BUCKET}/{execution_id}/", data)
    commit_note = _set_commit(definition, overrides)
    plan(definition, resolve_parameters(definition.get("Parameters", []), overrides))  # the run checks again
    if commit_note is not None:
        logger.log(*commit_note)
    return _Prepared(definition, pipeline_name, workspace, s3, seeds, overrides, execution_id)


def _check_uri(uri: str, option: str) -> None:
    try:
        split_s3_uri(uri)
    except S3Error as exc:
        raise UsageError(f"{option}: {exc} (expected s3://bucket/key)") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or an argparse usage error (2, message already on stderr)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        run = _prepare(args)
        arguments.create_workspace(run.workspace)
        for uri, path in run.seeds:
            run.s3.seed(uri, path)
        result = run_pipeline(
            run.definition,
            parameters=run.overrides,
            s3=run.s3,
            workspace=run.workspace / "executions" / run.execution_id,
            execution_id=run.execution_id,
            registry=run.workspace / "registry",
            pipeline_name=run.pipeline_name,
        )
    except (UsageError, DefinitionError, ParameterError, S3Error) as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 2
    except OSError as exc:  # e.g. the disk filled up while seeding: a message, not a traceback
        sys.stderr.write(f"{parser.prog}: error: {exc.filename or ''}: {exc.strerror or exc}\n")
        return 2
    sys.stdout.write(result.summary() + "\n")
    return 0 if result.succeeded else 1

"""The command line: ``python -m local_pipeline`` (``make local-pipeline``) runs one execution of the pipeline
definition that CDK deploys, read from the synthesized cloud assembly, or of a definition JSON file.

The workspace is shared by the runs: each execution gets ``WORKSPACE/executions/<id>``, while the local S3
(``WORKSPACE/s3``) and the model registry (``WORKSPACE/registry``) persist, so that versions keep counting.
Exit status: 0 the pipeline succeeded, 1 it failed (a Fail step or a failing step), 2 bad usage or a definition the
runner cannot run (found before anything runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from local_pipeline.errors import DefinitionError, LocalRunnerError, ParameterError, S3Error
from local_pipeline.expressions import Json
from local_pipeline.runner import new_execution_id, run_pipeline
from local_pipeline.s3 import LocalS3, split_s3_uri


class UsageError(LocalRunnerError):
    """A bad command line (exit status 2)."""


def _assignments(items: Sequence[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{option} {item!r}: expected NAME=VALUE")
        pairs.append((name, value))
    return pairs


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
    parser.add_argument("--pipeline-name", help="Execution.PipelineName (default: from the assembly, or the file name)")
    parser.add_argument(
        "--workspace",
        type=Path,
        default=Path(".local-pipeline"),
        help="runs go to WORKSPACE/executions/<id>; the local S3 (WORKSPACE/s3) and model registry "
        "(WORKSPACE/registry) are shared by the runs (default: .local-pipeline)",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="override a pipeline parameter"
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
    parser.add_argument("--input", type=Path, help="use this local file or folder as the InputDataUri parameter")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    return parser


def _load(args: argparse.Namespace) -> tuple[dict[str, Json], str, dict[str, Path]]:
    if args.definition is not None:
        try:
            definition = json.loads(args.definition.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"--definition {args.definition}: {exc}") from None
        if not isinstance(definition, dict):
            raise UsageError(f"--definition {args.definition}: not a pipeline definition (a JSON object)")
        return definition, args.pipeline_name or args.definition.stem, {}
    from local_pipeline.assembly import AssemblyError, load_definition

    try:
        loaded = load_definition(args.cdk_out, args.stage)
    except AssemblyError as exc:
        raise UsageError(str(exc)) from None
    return loaded.definition, args.pipeline_name or loaded.pipeline_name, dict(loaded.s3_objects)


INPUT_BUCKET = "local-input"


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
        definition, pipeline_name, objects = _load(args)
        workspace: Path = args.workspace.resolve()
        s3 = LocalS3(workspace / "s3", objects)
        for uri, path in _assignments(args.s3_object, "--s3-object"):
            if not Path(path).is_file():
                raise UsageError(f"--s3-object {uri}: {path} is not a file")
            split_s3_uri(uri)
            s3.objects[uri] = Path(path).resolve()
        for uri, path in _assignments(args.seed, "--seed"):
            s3.seed(uri, Path(path))
        overrides = dict(_assignments(args.param, "--param"))
        execution_id = new_execution_id()
        if args.input is not None:
            if "InputDataUri" in overrides:
                raise UsageError("--input sets InputDataUri: give either --input or --param InputDataUri=...")
            overrides["InputDataUri"] = s3.map_objects(f"s3://{INPUT_BUCKET}/{execution_id}/", args.input.resolve())
        result = run_pipeline(
            definition,
            parameters=overrides,
            s3=s3,
            workspace=workspace / "executions" / execution_id,
            execution_id=execution_id,
            registry=workspace / "registry",
            pipeline_name=pipeline_name,
        )
    except (UsageError, DefinitionError, ParameterError, S3Error) as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 2
    sys.stdout.write(result.summary() + "\n")
    return 0 if result.succeeded else 1

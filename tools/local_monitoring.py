"""``make local-monitoring``: run a monitored environment's monitoring pipeline here, on the local workspace.

The monitoring job reads the endpoint's captured traffic, the ground truth and the live model from AWS; run by the
local runner, it reads the same things from the workspace (``WORKSPACE/s3``, ``WORKSPACE/registry``,
``WORKSPACE/ssm``; see ``sagemaker_code/steps/monitor_io.py``). This command:

1. reads the stage's monitoring definition from the synthesized assembly (the very definition CDK deploys) and from
   its arguments where that environment's capture, ground truth and live-model parameter are;
2. makes a version of the local registry live there (the newest, or ``--version``), as an approval would;
3. prints the local folders that stand for the capture and ground-truth prefixes, with the commands that fill them
   (the local endpoint's ``--capture-dir``, or ``tools/synthetic_capture.py``);
4. runs the pipeline (``--window-end`` default: now) and prints the report.

Exit status: 0 the job ran (whatever it found), 1 it failed, 2 bad usage (nothing registered, no such stage).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_endpoint.package import EndpointError, find_version
from local_pipeline.assembly import AssemblyError, LocalDefinition, load_definition, read_stacks
from local_pipeline.runner import run_pipeline
from local_pipeline.s3 import LocalS3, split_s3_uri
from sagemaker_code.steps.contract import MONITOR_OUTPUT, MONITOR_STEP

PROG = "python -m tools.local_monitoring"


def monitor_arguments(definition: dict[str, Any]) -> dict[str, str]:
    """The monitor step's literal ``--name value`` arguments (the per-environment ones the definition fixes)."""
    (step,) = [s for s in definition["Steps"] if s["Name"] == MONITOR_STEP]
    items = step["Arguments"]["AppSpecification"]["ContainerArguments"]
    return {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2) if isinstance(items[i + 1], str)}


def local_folder(workspace: Path, uri: str) -> Path:
    bucket, key = split_s3_uri(uri)
    return workspace / "s3" / bucket / key


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--stage", default="prod", help="a monitored environment (default: prod)")
    parser.add_argument("--workspace", type=Path, default=Path(".local-pipeline"))
    parser.add_argument("--group", help="model package group of the local registry (default: the only one)")
    parser.add_argument("--version", type=int, help="the version to make live (default: the newest)")
    parser.add_argument("--window-end", default="", help="ISO 8601, UTC (default: now)")
    args = parser.parse_args(argv)
    try:
        loaded = _monitoring_definition(args.cdk_out, args.stage)
        registered = find_version(args.workspace, args.group, args.version)
    except (AssemblyError, EndpointError) as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    given = monitor_arguments(loaded.definition)
    parameter = args.workspace / "ssm" / given["--live-model-parameter"].lstrip("/")
    parameter.parent.mkdir(parents=True, exist_ok=True)
    group, version = registered.group, registered.version
    arn = f"arn:aws:sagemaker:local:000000000000:model-package/{group}/{version}"
    parameter.write_text(arn)
    capture = local_folder(args.workspace, given["--capture-uri"])
    truth = local_folder(args.workspace, given["--ground-truth-uri"]) if given.get("--ground-truth-uri") else None
    endpoint = given["--endpoint"]
    sys.stdout.write(
        f"live model of {endpoint}: {group} version {version} ({parameter})\n"
        f"captured traffic is read from {capture}/ - fill it with\n"
        f"  make local-endpoint ARGS='--capture-dir {capture.parent} --endpoint-name {endpoint}'\n"
        f"  python -m tools.synthetic_capture --capture-dir {capture.parent} --endpoint-name {endpoint}"
        + (f" --ground-truth-dir {truth.parent}" if truth else "")
        + " --rows 5000 --shift credit_amount=4000\n"
        + (f"ground truth is read from {truth}/ (README: ground-truth layout)\n" if truth else "")
    )
    end = args.window_end or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run_pipeline(
        loaded.definition,
        parameters={"WindowEnd": end},
        s3=LocalS3(args.workspace / "s3", dict(loaded.s3_objects)),
        workspace=args.workspace / "executions" / f"monitoring-{datetime.now(UTC):%Y%m%dt%H%M%S}",
        registry=args.workspace / "registry",
        pipeline_name=loaded.pipeline_name,
    )
    sys.stdout.write(result.summary() + "\n")
    if not result.succeeded:
        return 1
    for path in sorted(result.workspace.glob(f"steps/{MONITOR_STEP}/**/{MONITOR_OUTPUT}/monitoring_report.md")):
        sys.stdout.write(f"\n{path}:\n{path.read_text()}\n")
        summary = json.loads(path.with_suffix(".json").read_text())
        sys.stdout.write(f"state: {summary.get('state')}\n")
    return 0


def _monitoring_definition(cdk_out: Path, stage: str) -> LocalDefinition:
    """The stage's pipeline that has the monitor step (a monitored stage also has its model build)."""
    names = [
        resource["Properties"]["PipelineName"]
        for stack in read_stacks(cdk_out, stage)
        for resource in stack.template.get("Resources", {}).values()
        if resource["Type"] == "AWS::SageMaker::Pipeline" and isinstance(resource["Properties"]["PipelineName"], str)
    ]
    for name in names:
        loaded = load_definition(cdk_out, stage, name)
        if any(step["Name"] == MONITOR_STEP for step in loaded.definition["Steps"]):
            return loaded
    raise AssemblyError(
        f"{cdk_out}: stage {stage!r} has no monitoring pipeline (pipelines: {names}); is "
        f"environments.{stage}.monitoring set, and the assembly synthesized since?"
    )


if __name__ == "__main__":
    sys.exit(main())

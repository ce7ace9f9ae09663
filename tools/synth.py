"""`make synth`: synthesize every environment offline with the pinned CDK CLI and print a summary table.

Runs ``cdk synth`` with no AWS credentials (credential files point to /dev/null, no metadata service, no telemetry,
no notices), then reads the cloud assembly: one row per stack with its stage, resource count and template size,
and the total wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Environment for offline synthesis; CDK_DEFAULT_ACCOUNT stands in for environments without an account in config.
OFFLINE_ENV = {
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
PLACEHOLDER_ACCOUNT = "123456789012"


def offline_environ(base: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in CREDENTIAL_VARS}
    env.update(OFFLINE_ENV)
    env.setdefault("CDK_DEFAULT_ACCOUNT", PLACEHOLDER_ACCOUNT)
    return env


@dataclass(frozen=True)
class StackRow:
    stage: str
    stack_name: str
    resources: int
    template_bytes: int


def read_assembly(outdir: Path) -> list[StackRow]:
    """Every stack of the assembly in ``outdir``, including those of nested (stage) assemblies."""
    rows: list[StackRow] = []

    def walk(directory: Path, stage: str) -> None:
        manifest = json.loads((directory / "manifest.json").read_text())
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            props = artifact.get("properties", {})
            if artifact["type"] == "cdk:cloud-assembly":
                walk(directory / props["directoryName"], props.get("displayName", artifact_id))
            elif artifact["type"] == "aws:cloudformation:stack":
                template_path = directory / props["templateFile"]
                template = json.loads(template_path.read_text())
                rows.append(
                    StackRow(
                        stage=stage,
                        stack_name=props.get("stackName", artifact_id),
                        resources=len(template.get("Resources", {})),
                        template_bytes=template_path.stat().st_size,
                    )
                )

    walk(outdir, "(app)")
    return rows


def format_table(rows: list[StackRow], seconds: float) -> str:
    header = ("stage", "stack", "resources", "template")
    body = [(r.stage, r.stack_name, str(r.resources), f"{r.template_bytes / 1024:.1f} KiB") for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    total = sum(r.resources for r in rows)
    lines.append(f"{len(rows)} stacks, {total} resources, synthesized in {seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--outdir", type=Path, default=REPO_ROOT / "cdk.out")
    parser.add_argument("cdk_args", nargs="*", help="extra arguments for `cdk synth`, e.g. -c config=other.yaml")
    args = parser.parse_args(argv)
    cdk = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    command = [str(cdk), "synth", "**", "--quiet", "--no-notices", "--output", str(args.outdir), *args.cdk_args]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO_ROOT, env=offline_environ(os.environ), check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(f"cdk synth failed (exit {result.returncode}); see the messages above.", file=sys.stderr)
        return result.returncode
    print(format_table(read_assembly(args.outdir), seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make synth`: synthesize every environment offline with the pinned CDK CLI and print a summary table.

Runs ``cdk synth`` offline (tools/offline.py: no AWS credentials, no metadata service, no telemetry; and no
notices), then reads the cloud assembly: one row per stack with its stage, resource count and template size,
and the total wall time.

Every synth stamps the assembly with a digest of the app's inputs (:func:`inputs_digest`). With ``--if-changed``
(what `make local-pipeline` uses) an assembly whose stamp matches is kept as it is: a synth costs ~10-20 s, and the
local run only needs the definitions to be current. `make synth` always synthesizes.

Another config file: ``make synth ARGS="-c config=path.yaml"`` (``python -m tools.synth -c config=path.yaml``), or
``MLOPS_CONFIG=path.yaml make synth``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools.offline import offline_environ

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The stamp, inside the assembly: the digest of the inputs it was synthesized from.
STAMP = ".inputs.sha256"
#: Folders of the repository that are not inputs of the app: developer tools, tests, outputs, dependencies, caches.
#: Hidden folders and files (.git, .venv, .build, .local-pipeline, .ci, tool caches) are not inputs either. Everything
#: else is: app.py, cdk.json, config/, stacks/, lambdas/, sagemaker_code/, data/, tools/, the lock files, package*.json.
NOT_INPUT_DIRS = frozenset({"tests", "bench", "local_pipeline", "node_modules", "cdk.out", "reports", "__pycache__"})
NOT_INPUT_SUFFIXES = (".md", ".pyc")
#: Environment variables the app reads: a change of any of them makes another assembly.
INPUT_VARIABLES = ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "MLOPS_CONFIG")


def is_input(relative: str) -> bool:
    """Whether the file at ``relative`` (``/``-separated, under the app's folder) is an input of the app: what a
    synth and the local runner's ``-dirty`` check (local_pipeline/commit.py) count as the app's inputs."""
    *folders, name = relative.split("/")
    return (
        not any(part.startswith(".") for part in [*folders, name])
        and not any(folder in NOT_INPUT_DIRS for folder in folders)
        and not name.endswith(NOT_INPUT_SUFFIXES)
    )


def input_files(root: Path, exclude: Sequence[Path] = ()) -> Iterator[Path]:
    """The files under ``root`` that the app may read, in a stable order (``exclude``: more folders to skip)."""
    skipped = {path.resolve() for path in exclude}
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        dirnames[:] = sorted(
            name
            for name in dirnames
            if not name.startswith(".") and name not in NOT_INPUT_DIRS and (here / name).resolve() not in skipped
        )
        for name in sorted(filenames):
            if is_input((here / name).relative_to(root).as_posix()):
                yield here / name


def config_files(cdk_args: Sequence[str], environ: Mapping[str, str], root: Path) -> list[Path]:
    """Config files named by ``-c config=PATH`` or $MLOPS_CONFIG (relative to ``root``, as the app reads them), and
    the dataset spec each config read names (``model_build.dataset_spec``, relative to the config's folder)."""
    named = [arg.split("config=", 1)[1] for arg in cdk_args if arg.startswith("config=")]
    named += [environ["MLOPS_CONFIG"]] if environ.get("MLOPS_CONFIG") else []
    configs = [root / name for name in named if (root / name).is_file()]
    read = configs or [root / "config" / "environments.yaml"]  # the app's default (config.loader.DEFAULT_CONFIG_PATH)
    specs = [spec for config in read if (spec := _spec_of(config))]
    return [*configs, *specs]


def _spec_of(config: Path) -> Path | None:
    """The dataset spec ``config`` names, if it is a readable config naming an existing file (the app reports any
    problem; here a config that cannot be read simply adds nothing to the digest)."""
    try:
        data = yaml.safe_load(config.read_bytes())
    except (OSError, yaml.YAMLError):
        return None
    build = data.get("model_build") if isinstance(data, dict) else None
    reference = build.get("dataset_spec") if isinstance(build, dict) else None
    if not isinstance(reference, str) or not reference:
        return None
    spec = config.parent / reference
    return spec if spec.is_file() else None


def inputs_digest(root: Path, cdk_args: Sequence[str], environ: Mapping[str, str], exclude: Sequence[Path] = ()) -> str:
    """A digest of everything an assembly depends on: the input files' paths and contents, the config file and its
    dataset spec (also when they lie outside the repository), the CDK arguments, the variables the app reads, and the
    Python version. Further files outside the repository (a spec's sample must be inside it) are not covered."""
    digest = hashlib.sha256()
    for path in [*input_files(root, exclude), *config_files(cdk_args, environ, root)]:
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path.resolve())
        digest.update(f"file {name}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    for arg in cdk_args:
        digest.update(f"arg {arg}\0".encode())
    for variable in INPUT_VARIABLES:
        digest.update(f"env {variable}={environ.get(variable, '')}\0".encode())
    digest.update(f"python {platform.python_version()}".encode())
    return digest.hexdigest()


def is_up_to_date(outdir: Path, digest: str) -> bool:
    """Whether ``outdir`` holds a complete assembly stamped with ``digest``."""
    stamp = outdir / STAMP
    return (outdir / "manifest.json").is_file() and stamp.is_file() and stamp.read_text().strip() == digest


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


def format_table(rows: list[StackRow], seconds: float | None) -> str:
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
    done = (
        "up to date with the app's inputs: not synthesized again"
        if seconds is None
        else f"synthesized in {seconds:.1f} s"
    )
    lines.append(f"{len(rows)} stacks, {total} resources, {done}")
    return "\n".join(lines)


def context_argument(item: str) -> str:
    """``KEY=VALUE`` of ``-c`` as `cdk synth` gets it: a config file's path made absolute (the CLI runs the app in
    the app's folder, the user meant the current one), and refused early when there is no such file."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ValueError(f"-c {item!r}: expected KEY=VALUE, e.g. -c config=config/other.yaml")
    if key != "config":
        return item
    path = Path(value).expanduser().absolute()
    if not path.is_file():
        where = "" if Path(value).is_absolute() else f" (relative to the current folder, {Path.cwd()})"
        raise ValueError(f"-c config={value}: no such file {path}{where}")
    return f"config={path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.synth",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="example: python -m tools.synth -c config=config/other.yaml (make synth ARGS='-c config=...')",
    )
    parser.add_argument(
        "--outdir", type=Path, default=REPO_ROOT / "cdk.out", help="the cloud assembly (default cdk.out)"
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the app's folder (cdk.json, node_modules)")
    parser.add_argument(
        "--if-changed", action="store_true", help="keep the assembly when its stamp matches the app's inputs"
    )
    parser.add_argument(
        "--exclude", type=Path, action="append", default=[], help="a folder that is not an input (e.g. a workspace)"
    )
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="CDK context for the app, as `cdk synth -c` takes it; -c config=PATH selects the config file (relative "
        "to the current folder; default config/environments.yaml, or $MLOPS_CONFIG)",
    )
    parser.add_argument("cdk_args", nargs="*", help="more arguments for `cdk synth`, after `--` (e.g. -- --verbose)")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    outdir: Path = args.outdir if args.outdir.is_absolute() else Path.cwd() / args.outdir
    try:
        context = [arg for item in args.context for arg in ("-c", context_argument(item))]
    except ValueError as exc:
        parser.error(str(exc))  # exits 2 with the usage line
    cdk_args = [*context, *args.cdk_args]
    environ = offline_environ(os.environ)
    digest = inputs_digest(root, cdk_args, environ, [outdir, *args.exclude])
    if args.if_changed and is_up_to_date(outdir, digest):
        print(format_table(read_assembly(outdir), None))
        return 0
    (outdir / STAMP).unlink(missing_ok=True)  # a failed or interrupted synth leaves no stamp behind
    cdk = root / "node_modules" / ".bin" / "cdk"
    command = [str(cdk), "synth", "**", "--quiet", "--no-notices", "--output", str(outdir), *cdk_args]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=environ, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(f"cdk synth failed (exit {result.returncode}); see the messages above.", file=sys.stderr)
        return result.returncode
    (outdir / STAMP).write_text(digest + "\n")
    print(format_table(read_assembly(outdir), seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

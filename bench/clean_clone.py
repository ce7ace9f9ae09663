"""Benchmark: set-up from a fresh clone and the test wall time from that warm set-up, as CI runs them.

Clones the repository into a temporary folder, times `make synth` there (a new venv, the locked Python packages, the
pinned CDK CLI with `npm ci`, then a synth of every environment), then times `make test` in the same clone (ruff, mypy
and pytest on the warm set-up). Goals on 2 cores: set-up <= 120 s, tests <= 120 s.

By default the machine's package caches are used (uv, pip, npm, jsii, mypy), as they are on a developer's machine
and on CI here; ``--cold-caches`` points every one of them at an empty folder, as on a new machine. Only committed
work is measured (it is a clone). Usage: ``make bench`` or ``python -m bench.clean_clone [--cold-caches]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GOALS = {"set-up": 120.0, "tests": 120.0}
#: Set by an outer `make bench`: they would pass its flags and variables to the clone's make.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VIRTUAL_ENV")
#: Where each package cache goes with --cold-caches (a folder of the temporary directory each).
CACHE_VARIABLES = (
    "UV_CACHE_DIR",
    "PIP_CACHE_DIR",
    "npm_config_cache",
    "JSII_RUNTIME_PACKAGE_CACHE_ROOT",
    "MYPY_CACHE_DIR",
)


def timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, int]:
    """Wall seconds and exit code of ``command``; its output goes to ``log``."""
    started = time.perf_counter()
    with log.open("w") as out:
        result = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    return time.perf_counter() - started, result.returncode


def tail(log: Path, lines: int = 25) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Set-up and test wall time from a fresh clone")
    parser.add_argument("--source", default=str(REPO_ROOT), help="repository to clone (default: this one)")
    parser.add_argument("--cold-caches", action="store_true", help="empty package caches, as on a new machine")
    parser.add_argument("--skip-tests", action="store_true", help="time the set-up only")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-clean-clone-"))
    clone = work / "clone"
    env = {name: value for name, value in os.environ.items() if name not in MAKE_VARIABLES}
    if args.cold_caches:
        env |= {name: str(work / "caches" / name) for name in CACHE_VARIABLES}
    results: dict[str, tuple[float, int]] = {}
    git, make = shutil.which("git"), shutil.which("make")
    if git is None or make is None:
        parser.error("git and make are needed")
    try:
        started = time.perf_counter()
        subprocess.run([git, "clone", "--quiet", args.source, str(clone)], check=True)
        _, code = timed([make, "synth"], clone, env, work / "synth.log")
        results["set-up"] = (time.perf_counter() - started, code)  # the clone included
        if code != 0:
            print(f"make synth failed (exit {code}):\n{tail(work / 'synth.log')}", file=sys.stderr)
        elif not args.skip_tests:
            results["tests"] = timed([make, "test"], clone, env, work / "test.log")
            if results["tests"][1] != 0:
                print(f"make test failed (exit {results['tests'][1]}):\n{tail(work / 'test.log')}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"clone kept in {clone}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    caches = "empty package caches" if args.cold_caches else "the machine's package caches"
    print(f"date: {datetime.now(UTC):%Y-%m-%d}, machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {caches}")  # fmt: skip
    labels = {"set-up": "set-up (git clone + make synth, installs included)", "tests": "make test (warm set-up)"}
    for name, (seconds, code) in results.items():
        verdict = ("meets" if seconds <= GOALS[name] else "misses") if code == 0 else f"FAILED (exit {code})"
        print(f"{labels[name]}: {seconds:5.1f} s  ({verdict} the goal of <= {GOALS[name]:.0f} s)")
    return max((code for _, code in results.values()), default=1)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: wall time to synthesize the whole app vs a minimal one-bucket CDK app, in one run.

Both run as the CDK CLI runs them (``python <app>`` with ``CDK_OUTDIR`` and the cdk.json context in
``CDK_CONTEXT_JSON``), offline, interleaved so that machine noise hits both alike, after one untimed run of each (which
writes Python's bytecode, jsii's package cache and the pipeline-definition cache, as any earlier synth would have).
The goal for the finished product is a ratio of at most 1.5 (medians of 5 paired runs). Usage: ``make bench`` or
``python -m bench.synth --repeat 5``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tools.offline import offline_environ  # noqa: E402

GOAL_RATIO = 1.5


def time_app(script: Path, context: dict[str, object]) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        env = offline_environ(os.environ) | {"CDK_OUTDIR": outdir, "CDK_CONTEXT_JSON": json.dumps(context)}
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, env=env, check=False, capture_output=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"{script} failed (exit {result.returncode}):\n{result.stderr.decode(errors='replace')[-3000:]}")
        return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synth time of the whole app vs a minimal app")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each app (interleaved); medians are compared")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each app first")
    args = parser.parse_args(argv)
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    apps = {"whole app": REPO_ROOT / "app.py", "minimal app": REPO_ROOT / "bench" / "minimal_app.py"}
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(args.warmup):
        for script in apps.values():
            time_app(script, context)
    for _ in range(args.repeat):
        for name, script in apps.items():
            times[name].append(time_app(script, context))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["whole app"] / medians["minimal app"]
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}, machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    for name, values in times.items():
        print(f"{name:12s} median {medians[name]:5.2f} s  runs: {', '.join(f'{v:.2f}' for v in values)}")
    verdict = "meets" if ratio <= GOAL_RATIO else "misses"
    print(f"ratio whole/minimal: {ratio:.2f} ({verdict} the goal of <= {GOAL_RATIO})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the local pipeline on large CSV files (default 250 MB and 1 GB): peak memory and time per row.

Writes synthetic CSV files of the given sizes from the dataset spec (``bench/synthetic_data.py``: rows of the shipped
sample, drawn with replacement and jittered), synthesizes the app once (offline), and runs the dev stage's pipeline
on each file with ``python -m local_pipeline --input FILE`` under ``/usr/bin/time -v`` (the peak resident set size
of the run: the largest process, i.e. the largest step). While it runs, the process tree is sampled every
``--interval`` seconds to attribute memory to the step that uses it (Preprocess, Train, Evaluate, ...), as the
largest resident set size seen for each. Goals: 1 GB through the pipeline with a peak RSS <= 3 GB, and time linear
in rows (the seconds per million rows of the two sizes about equal).

The shipped sample's model fails the bias gate (see README), so the runs widen it (``DisparateImpactLower=0.4``) to
time every step; the synthetic rows are resampled from the sample, so only timing and memory mean anything.

Usage: ``python -m bench.large_csv [--sizes 250M,1G] [--keep DIR]``. Not a test: it takes minutes and gigabytes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.synthetic_data import DEFAULT_SPEC, load_spec_file, read_sample, write_synthetic  # noqa: E402
from tools.offline import offline_environ  # noqa: E402

GOAL_RSS_BYTES = 3 * 1024**3
TIMED_RUN_PARAMETERS = ["--param", "DisparateImpactLower=0.4"]
#: Step of a process, from its command line (the container entrypoints of the local runner).
STEP_PATTERNS = {
    "Preprocess": re.compile(r"steps[./]preprocess"),
    "Train": re.compile(r"(^|[ /])train(\.py)?( |$)|steps[./]train"),
    "Evaluate": re.compile(r"steps[./]evaluate"),
}
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMG]?)$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'250M' -> bytes."""
    match = SIZE_RE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"a size such as 250M or 1G, got {text!r}")
    return int(float(match[1]) * 1024 ** " KMG".index((match[2] or " ").upper()))


@dataclass
class MemorySampler:
    """Largest resident set size of each step's processes, sampled from /proc while the pipeline runs."""

    root: int
    interval: float
    peaks: dict[str, int] = field(default_factory=dict)
    seen: dict[str, tuple[float, float]] = field(default_factory=dict)  # first and last time a step was running
    _stop: threading.Event = field(default_factory=threading.Event)

    def _tree(self) -> list[int]:
        pids, queue = [], [self.root]
        while queue:
            pid = queue.pop()
            pids.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    queue += [int(child) for child in task.read_text().split()]
                except OSError:
                    continue
        return pids

    def sample(self) -> None:
        for pid in self._tree():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            step = next((name for name, pattern in STEP_PATTERNS.items() if pattern.search(command)), "other")
            if match:
                self.peaks[step] = max(self.peaks.get(step, 0), int(match[1]) * 1024)
                now = time.monotonic()
                self.seen[step] = (self.seen.get(step, (now, now))[0], now)

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class Result:
    size: int
    rows: int
    seconds: float
    peak_rss: int
    steps: dict[str, int]
    durations: dict[str, float]
    exit_code: int
    tail: str


def run_pipeline(
    command: list[str], env: dict[str, str], interval: float
) -> tuple[float, int, MemorySampler, int, str]:
    """(seconds, peak RSS of /usr/bin/time, the step sampler, exit code, output tail) of one pipeline run."""
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile("w+", suffix=".time") as report:
        process = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", report.name, *command],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        sampler = MemorySampler(root=process.pid, interval=interval)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        output, _ = process.communicate()
        sampler.stop()
        seconds = time.perf_counter() - started
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", Path(report.name).read_text())
    return seconds, int(peak[1]) * 1024 if peak else 0, sampler, process.returncode, output[-3000:]


def _gb(value: int) -> str:
    return f"{value / 1024**3:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local pipeline on large synthetic CSV files: memory and time")
    parser.add_argument("--sizes", default="250M,1G", help="comma-separated file sizes (default: 250M,1G)")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="dataset spec YAML (default: German Credit)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between memory samples")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another pipeline parameter for the runs, e.g. NumRound=20 (boosting time grows with rounds x rows)",
    )
    args = parser.parse_args(argv)
    sizes = [parse_size(size) for size in args.sizes.split(",")]
    spec = load_spec_file(args.spec)
    if spec.sample_path is None:
        parser.error(f"{args.spec} has no sample_path to draw rows from")
    sample = read_sample(spec, REPO_ROOT / spec.sample_path)
    env = offline_environ(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-large-csv-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cdk_out = work / "cdk.out"
        context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
        app_env = env | {"CDK_OUTDIR": str(cdk_out), "CDK_CONTEXT_JSON": json.dumps(context)}
        subprocess.run([sys.executable, "app.py"], cwd=REPO_ROOT, env=app_env, check=True, capture_output=True)
        probe = work / "probe.csv"
        bytes_per_row = write_synthetic(spec, sample, 20_000, 1, probe) / 20_000
        probe.unlink()
        results = []
        for size in sizes:
            rows = max(1, round(size / bytes_per_row))
            data = work / f"synthetic-{size // 1024**2}MB.csv"
            written = write_synthetic(spec, sample, rows, 42, data)
            command = [sys.executable, "-m", "local_pipeline", "--cdk-out", str(cdk_out), "--stage", "dev"]
            command += ["--workspace", str(work / f"ws-{size // 1024**2}MB"), "--input", str(data)]
            command += TIMED_RUN_PARAMETERS + [item for param in args.param for item in ("--param", param)]
            seconds, peak, sampler, code, tail = run_pipeline(command, env, args.interval)
            durations = {step: last - first for step, (first, last) in sampler.seen.items()}
            results.append(Result(written, rows, seconds, peak, sampler.peaks, durations, code, tail))
            data.unlink()

    extra = f" with {' '.join(args.param)}" if args.param else ""
    print(f"date: {datetime.now(UTC):%Y-%m-%d}{extra}, machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GB RAM, "
          f"Python {platform.python_version()}")  # fmt: skip
    for result in results:
        verdict = "meets" if result.peak_rss <= GOAL_RSS_BYTES else "misses"
        steps = ", ".join(
            f"{name} {_gb(value)}, {result.durations.get(name, 0):.0f} s"
            for name, value in sorted(result.steps.items())
        )
        print(
            f"{result.size / 1024**2:,.0f} MB, {result.rows:,} rows: exit {result.exit_code}, {result.seconds:,.0f} s "
            f"({result.seconds / result.rows * 1e6:.1f} s per million rows), peak RSS {_gb(result.peak_rss)} "
            f"({verdict} <= 3 GB); per step: {steps}"
        )
        if result.exit_code:
            print(result.tail)
    return 0 if all(r.exit_code in (0, 1) and r.peak_rss <= GOAL_RSS_BYTES for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

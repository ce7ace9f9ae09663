"""Benchmark: the monitoring job's step on 100,000 captured rows of the sample's 20 features (goal: <= 30 s here).

Sets up what the job meets in the cloud, with the local stand-in for AWS (``MLOPS_LOCAL_AWS_ROOT``): a model the real
pipeline definition trained and registered on the shipped sample (run here, in a temporary workspace), the
live-model parameter naming it, ``--rows`` captured requests of the last hours written by
``tools/synthetic_capture.py`` (one row per request, the model's real answers, credit amounts shifted so that the
drift path runs) and delayed ground truth for half of them. Then it runs the step as the container does
(``python -m sagemaker_code.steps.monitor ...``) under ``/usr/bin/time -v``: wall time and peak resident set size of
the job alone, set-up excluded.

Usage: ``python -m bench.monitoring_job [--rows 100000] [--repeat 3]``. Not a test.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from config.naming import CAPTURE_PREFIX, GROUND_TRUTH_PREFIX  # noqa: E402
from sagemaker_code.steps.contract import LOCAL_AWS_ROOT  # noqa: E402
from tools.offline import offline_environ  # noqa: E402

GOAL_SECONDS = 30.0
GROUP, BUCKET, ENDPOINT = "bench-models", "bench-capture", "bench-endpoint"
SPEC = REPO_ROOT / "config" / "datasets" / "german_credit.yaml"
SAMPLE = REPO_ROOT / "data" / "german_credit" / "german.data"


def registered_model(workspace: Path) -> Path:
    """Train and register a model with the real definition on the sample; the dataset spec file the job reads."""
    from config.dataset_spec import DatasetSpec
    from local_pipeline.runner import run_pipeline
    from local_pipeline.s3 import LocalS3
    from sagemaker_code.definition.build import PipelineSettings, Sentinels, build_definition
    from sagemaker_code.definition.bundle import write_bundle

    sentinels = Sentinels()
    settings = PipelineSettings(pipeline_name="bench-model-build", region="eu-west-1", model_package_group_name=GROUP,
                                default_input_uri=sentinels.sample_data_uri, facets=("age", "sex"))  # fmt: skip
    spec = DatasetSpec.model_validate(yaml.safe_load(SPEC.read_text())).model_dump(mode="json")
    bundle = write_bundle(workspace / "bundle", spec)
    s3 = LocalS3(workspace / "s3", {sentinels.code_uri: bundle, sentinels.sample_data_uri: SAMPLE})
    result = run_pipeline(json.loads(build_definition(settings)), parameters={"DisparateImpactLower": "0.2"}, s3=s3,
                          workspace=workspace / "executions", registry=workspace / "registry")  # fmt: skip
    if result.registered is None:
        raise SystemExit(f"the set-up pipeline registered nothing:\n{result.summary()}")
    spec_file = workspace / "dataset_spec.json"  # what the bundle carries to the container's /opt/ml/code
    spec_file.write_text(json.dumps(spec))
    return spec_file


def write_traffic(root: Path, rows: int, end: datetime) -> None:
    from local_endpoint.capture import CaptureLocation
    from local_endpoint.package import find_version, load_model
    from tools.synthetic_capture import write_traffic as write
    from tools.synthetic_traffic import Traffic, load_spec, read_table

    spec = load_spec(SPEC)
    rate = rows / (20 * 3600)  # spread over the last 20 hours: 20 hourly folders
    traffic = Traffic(rows=rows, start=end - timedelta(hours=20), rate=rate, shifts=(("credit_amount", 4000.0),),
                      label_fraction=0.5, labels_delay_hours=2.0)  # fmt: skip
    write(read_table(SAMPLE, spec), load_model(find_version(root, GROUP)), traffic,
          CaptureLocation(root / "s3" / BUCKET / CAPTURE_PREFIX, ENDPOINT, "AllTraffic"),
          root / "s3" / BUCKET / GROUND_TRUTH_PREFIX)  # fmt: skip


def timed_job(root: Path, spec: Path, end: datetime, output: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one run of the step."""
    command = [
        "/usr/bin/time", "-v", sys.executable, "-m", "sagemaker_code.steps.monitor",
        "--live-model-parameter", "/bench/live-model-package",
        "--capture-uri", f"s3://{BUCKET}/{CAPTURE_PREFIX}/{ENDPOINT}/",
        "--ground-truth-uri", f"s3://{BUCKET}/{GROUND_TRUTH_PREFIX}/{ENDPOINT}/",
        "--window-end", end.strftime("%Y-%m-%dT%H:%M:%SZ"), "--window-hours", "24", "--label-lookback-hours", "48",
        "--min-rows", "200", "--psi-threshold", "0.2", "--p-value", "0.001", "--di-lower", "0.8", "--di-upper", "1.25",
        "--namespace", "bench/Monitoring", "--environment", "bench", "--endpoint", ENDPOINT,
        "--spec", str(spec), "--output", str(output),
    ]  # fmt: skip
    env = {**offline_environ(os.environ), LOCAL_AWS_ROOT: str(root)}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the monitoring step failed ({done.returncode}):\n{done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if wall is None or rss is None:
        raise SystemExit(f"/usr/bin/time printed no figures:\n{done.stderr[-2000:]}")
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, int(rss.group(1)) * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.monitoring_job", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as folder:
        root = Path(folder)
        spec_file = registered_model(root)
        parameter = root / "ssm" / "bench" / "live-model-package"
        parameter.parent.mkdir(parents=True)
        parameter.write_text(f"arn:aws:sagemaker:eu-west-1:000000000000:model-package/{GROUP}/1")
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        write_traffic(root, args.rows, end)
        runs = [timed_job(root, spec_file, end, root / f"report-{i}") for i in range(args.repeat)]
        report = json.loads((root / "report-0" / "monitoring_report.json").read_text())
    seconds = sorted(run[0] for run in runs)
    print(
        f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs, Python {platform.python_version()}"
    )
    print(f"monitoring step on {args.rows:,} captured rows (20 features), half labelled: state {report['state']}")
    print(f"wall seconds per run: {', '.join(f'{s:.1f}' for s in seconds)}; median {seconds[len(seconds) // 2]:.1f} s "
          f"(goal <= {GOAL_SECONDS:.0f} s); peak RSS {max(run[1] for run in runs) / 1024**2:.0f} MiB")  # fmt: skip
    return 0 if seconds[len(seconds) // 2] <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())

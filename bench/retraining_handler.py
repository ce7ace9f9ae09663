"""Benchmark: the retraining function's cold import vs a bare ``import boto3``, and its time per event against moto.

Cold import: each sample is a fresh ``python -c`` that times one import with ``time.perf_counter`` inside the process
(interpreter start-up excluded), the handler module and ``import boto3`` interleaved so that machine noise hits both
alike, after one untimed run of each (bytecode written). The goal is a ratio of the medians <= 1.3. The function's
clients are created on first use, so the import excludes them; the first event's time includes them and is printed.

Per event: the real handler (Powertools decorators included) in moto, on distinct alarm events that each start the
pipeline (cooldown 0, no daily cap in the way), then on re-deliveries (duplicates). Usage:
``python bench/retraining_handler.py [--repeat 11] [--events 200]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = REPO_ROOT / "lambdas"
sys.path[:0] = [str(REPO_ROOT), str(LAMBDAS)]

from tools.offline import offline_environ  # noqa: E402

GOAL_RATIO = 1.3
REGION, ACCOUNT, PROJECT = "eu-west-1", "123456789012", "bench"
ALARM = f"{PROJECT}-dev-drift"
ENVIRON = {
    "PIPELINE_NAME": f"{PROJECT}-dev-model-build",
    "PIPELINE_REGION": REGION,
    "STATE_TABLE": f"{PROJECT}-dev-retraining",
    "COOLDOWN_MINUTES": "0",
    "DAILY_MAX": "1000000",
    "ALARM_ARNS": json.dumps([f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{ALARM}"]),
    "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{PROJECT}-dev-alerts",
    "TRAINING_DATA_URI": f"s3://{PROJECT}-dev-data-{ACCOUNT}-{REGION}/training/",
    "ENVIRONMENT": "dev",
    "POWERTOOLS_SERVICE_NAME": "retraining",
    "POWERTOOLS_METRICS_NAMESPACE": "mlops/Retraining",
    "AWS_DEFAULT_REGION": REGION,
}
TIMED = "import time\nstarted = time.perf_counter()\n{statement}\nprint(time.perf_counter() - started)"


def import_seconds(statement: str, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", TIMED.format(statement=statement)],
        cwd=LAMBDAS, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(result.stdout.strip().splitlines()[-1])


def alarm_event(number: int) -> dict[str, Any]:
    return {
        "version": "0", "id": f"bench-{number}", "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": ACCOUNT, "time": "2026-12-01T10:05:12Z", "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{ALARM}"],
        "detail": {"alarmName": ALARM, "state": {"value": "ALARM", "reason": "Threshold Crossed",
                                                 "timestamp": "2026-12-01T10:05:12.345+0000"},
                   "previousState": {"value": "OK", "timestamp": "2026-11-30T10:05:12.345+0000"}},
    }  # fmt: skip


class Context:
    function_name = f"{PROJECT}-dev-retraining"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
    aws_request_id = "bench"


def per_event(events: int) -> dict[str, list[float]]:
    """Seconds per handler call: the first event (clients created), started, duplicate."""
    import boto3
    from moto import mock_aws

    os.environ.update(ENVIRON)
    times: dict[str, list[float]] = {"first": [], "started": [], "duplicate": []}
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=ENVIRON["STATE_TABLE"], KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        boto3.client("sns", region_name=REGION).create_topic(Name=f"{PROJECT}-dev-alerts")
        boto3.client("sagemaker", region_name=REGION).create_pipeline(
            PipelineName=ENVIRON["PIPELINE_NAME"], PipelineDefinition="{}", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/p"
        )
        from retraining import handler

        for number in range(events + 1):
            started = time.perf_counter()
            decision = handler.handler(alarm_event(number), Context())["decision"]
            times["first" if number == 0 else decision].append(time.perf_counter() - started)
        for number in range(1, events + 1):
            started = time.perf_counter()
            decision = handler.handler(alarm_event(number), Context())["decision"]
            times[decision].append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Retraining handler: cold import ratio and time per event")
    parser.add_argument("--repeat", type=int, default=11, help="fresh processes per import (interleaved)")
    parser.add_argument("--events", type=int, default=200, help="distinct events (each also re-delivered once)")
    args = parser.parse_args(argv)
    env = offline_environ(os.environ) | ENVIRON
    statements = {"handler": "import retraining.handler", "boto3": "import boto3"}
    for statement in statements.values():
        import_seconds(statement, env)
    samples: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(args.repeat):
        for name, statement in statements.items():
            samples[name].append(import_seconds(statement, env))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratio = medians["handler"] / medians["boto3"]
    times = per_event(args.events)
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}, machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    for name in samples:
        print(f"cold import {name:8s} median {medians[name] * 1000:6.1f} ms  ({args.repeat} fresh processes)")
    verdict = "meets" if ratio <= GOAL_RATIO else "misses"
    print(f"ratio handler/boto3: {ratio:.2f} ({verdict} the goal of <= {GOAL_RATIO})")
    print(f"first event (creates the clients): {times['first'][0] * 1000:.1f} ms")
    for decision in ("started", "duplicate"):
        values = times[decision]
        if values:
            p90 = statistics.quantiles(values, n=10)[-1]
            print(f"handler p50 per event, {decision:9s}: {statistics.median(values) * 1000:6.2f} ms "
                  f"(p90 {p90 * 1000:.2f} ms, {len(values)} events, moto)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The smoke test by hand: ``python -m tools.smoke_test`` checks an endpoint as the deploy flow does after a deploy.

Against the local endpoint (``make local-endpoint`` logs this command line for the version it serves)::

    python -m tools.smoke_test --local-url http://127.0.0.1:8080 --test-data PATH --threshold 0.91 \
        --model-archive model.tar.gz [--rows 20] [--max-p95-ms 1000]

or a SageMaker endpoint (``--endpoint NAME --region R``, the ambient AWS credentials). ``--test-data`` is the model's
held-out test split (``test_raw.csv``: the package metadata's ``test_data_uri``), ``--threshold`` the package
metadata's ``decision_threshold``; the label (its column and values) comes from the model archive's transform.json
(``--model-archive``) or is given as ``--label COLUMN:POSITIVE:NEGATIVE``. The checks are those of
``lambdas/model_deploy/smoke_test.py``. Prints one line, the verdict. Exit status: 0 passed, 1 the endpoint failed a
check, 2 bad usage or unreadable inputs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

#: The Lambda code's package root, as the deploy function sees it (``model_deploy.smoke_test``): the one smoke test.
LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"
if str(LAMBDAS) not in sys.path:
    sys.path.insert(0, str(LAMBDAS))

from model_deploy.smoke_test import (  # noqa: E402
    Invoke,
    Label,
    SmokeTestFailed,
    SmokeTestInputError,
    http_invoker,
    label_from_model_archive,
    run_smoke_test,
    sagemaker_invoker,
)

PROG = "python -m tools.smoke_test"


class UsageError(Exception):
    """A bad argument (exit status 2); the message names the option."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Smoke-test an endpoint with rows of the model's held-out test split. Exit status: 0 passed, "
        "1 a check failed, 2 bad usage.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--local-url", help="base URL of a local endpoint (make local-endpoint), e.g. http://127.0.0.1:8080"
    )
    target.add_argument("--endpoint", help="name of a SageMaker endpoint (needs --region and AWS credentials)")
    parser.add_argument("--region", help="the SageMaker endpoint's region")
    parser.add_argument(
        "--test-data", type=Path, required=True, help="the test split's test_raw.csv (header row first)"
    )
    parser.add_argument("--threshold", type=float, required=True, help="the package's decision_threshold metadata")
    label = parser.add_mutually_exclusive_group(required=True)
    label.add_argument("--model-archive", type=Path, help="the model.tar.gz whose transform.json names the label")
    label.add_argument("--label", metavar="COLUMN:POSITIVE:NEGATIVE", help="the label column and its two values")
    parser.add_argument("--rows", type=int, default=20, help="test rows to send, one per request (default: 20)")
    parser.add_argument("--max-p95-ms", type=float, default=1000.0, help="p95 latency bound in ms (default: 1000)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer (default: 30)")
    return parser


def _label(args: argparse.Namespace) -> Label:
    if args.label is not None:
        parts = args.label.split(":")
        if len(parts) != 3 or not all(part.strip() for part in parts):
            raise UsageError(f"--label {args.label!r}: expected COLUMN:POSITIVE:NEGATIVE, e.g. credit_risk:1:2")
        return Label(*(part.strip() for part in parts))
    if not args.model_archive.is_file():
        raise UsageError(f"--model-archive {args.model_archive}: no such file")
    return label_from_model_archive(args.model_archive)


def _invoker(args: argparse.Namespace) -> tuple[Invoke, str]:
    if args.local_url is not None:
        if args.region is not None:
            raise UsageError("--region goes with --endpoint, not --local-url")
        url = urllib.parse.urlsplit(args.local_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise UsageError(f"--local-url {args.local_url!r}: expected http://HOST:PORT")
        return http_invoker(args.local_url, timeout=args.timeout), args.local_url
    if args.region is None:
        raise UsageError("--endpoint needs --region")
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=args.timeout, retries={"mode": "standard", "max_attempts": 3})
    runtime = boto3.client("sagemaker-runtime", region_name=args.region, config=config)
    return sagemaker_invoker(runtime, args.endpoint), f"endpoint {args.endpoint} ({args.region})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already on stderr)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if args.rows < 1:
            raise UsageError(f"--rows {args.rows}: send at least 1 row")
        if args.max_p95_ms <= 0 or args.timeout <= 0:
            raise UsageError("--max-p95-ms and --timeout must be positive")
        label = _label(args)
        try:
            test_csv = args.test_data.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--test-data {args.test_data}: {exc}") from None
        invoke, target = _invoker(args)
        report = run_smoke_test(
            invoke, test_csv, label=label, threshold=args.threshold, rows=args.rows, max_p95_ms=args.max_p95_ms
        )
    except (UsageError, SmokeTestInputError) as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except SmokeTestFailed as failed:
        print(f"{target}: {failed}")
        return 1
    print(f"{target}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Train step of a training environment's stage: run commit X's model-build pipeline when its inputs changed.

Runs in CodeBuild after the delivery pipeline deployed commit X to the stage, with the cloud assembly synthesized
from X (``COMMIT_ID`` is the source action's commit id, X)::

    python -m tools.run_sagemaker_pipeline --cloud-assembly cdk.out --stage dev --commit "$COMMIT_ID"

The stage's stack outputs in that assembly name the pipeline, X's model-build fingerprint, the starter role and the
wait bound (:mod:`tools.cloud_assembly`). The tool assumes the role with refreshing credentials, skips or attaches
when an execution already has X's fingerprint (:func:`tools.pipeline_executions.decide`), otherwise starts one with
``GitCommit=X`` and proves from the execution's own ``ModelBuildFingerprint`` that it runs X's definition. Whatever
ends the tool once an execution is started or attached (failure, wait bound, SIGTERM/SIGINT/SIGHUP), the execution
is stopped rather than left training unwatched.

Exit codes: 0 trained, or nothing to train; 1 the execution failed, was stopped, timed out or runs another
definition, or an AWS call failed; 2 bad arguments or cloud assembly (nothing started); 128+N signal N.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.cloud_assembly import AssemblyError, TrainTarget, read_target
from tools.pipeline_executions import ExecutionFailedError, check_lineage, decide, failure_message, start, stop, wait
from tools.termination import Terminated, TerminationSignals

logger = logging.getLogger(__name__)

#: How often a stopping execution with the same inputs may be waited for before deciding again.
MAX_DECISIONS = 3


def sagemaker_client(target: TrainTarget) -> Any:
    """A SageMaker client of the stage's account, acting as its starter role for as long as the wait lasts."""
    from botocore.config import Config

    from tools.assume_role import assumed_role_session

    session = assumed_role_session(target.starter_role_arn, target.region)
    max_attempts = int(os.environ.get("AWS_MAX_ATTEMPTS", "10"))  # botocore's own setting wins when it is given
    return session.create_client(
        "sagemaker",
        region_name=target.region,
        config=Config(retries={"mode": "standard", "max_attempts": max_attempts}),
    )


def _why(exc: BaseException) -> str:
    if isinstance(exc, Terminated):
        return f"the tool {exc}"
    if isinstance(exc, TimeoutError):
        return "the wait bound (TrainingWaitSeconds) was exceeded"
    if isinstance(exc, ExecutionFailedError):
        return "it does not run this commit's definition"
    return f"the tool is exiting on {type(exc).__name__}: {exc}"


def run(
    client: Any,
    target: TrainTarget,
    *,
    commit: str,
    force: bool,
    poll_seconds: float,
    signals: TerminationSignals,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Decide, then start or attach and wait; raise :class:`ExecutionFailedError` unless the execution succeeds."""
    deadline = clock() + target.wait_seconds  # one bound for the whole tool: the build's timeout is set from it
    for _ in range(MAX_DECISIONS):
        decision = decide(client, target.pipeline_name, target.fingerprint, force=force)
        if decision.action == "skip":
            logger.log(logging.WARNING if decision.warning else logging.INFO, "%s", decision.message)
            return 0
        logger.info("%s", decision.message)
        arn = decision.execution_arn
        finished = False
        try:
            if arn is None:
                with signals.deferred():  # a signal now must not cost us the ARN of the execution being started
                    arn = start(
                        client,
                        pipeline_name=target.pipeline_name,
                        commit=commit,
                        fingerprint=target.fingerprint,
                        stage=target.stage,
                        predecessor=decision.predecessor,
                    )
                logger.info("started %s with GitCommit=%s", arn, commit)
                check_lineage(client, arn, commit=commit, expected=target.fingerprint)
            described = wait(client, arn, deadline=deadline, poll_seconds=poll_seconds, sleep=sleep, clock=clock)
            finished = True
        except BaseException as exc:
            if arn is not None and not finished:
                stop(client, arn, _why(exc))
            raise
        if decision.action == "settle":
            continue  # it has ended: decide again (a stopped run trained nothing)
        if described["PipelineExecutionStatus"] != "Succeeded":
            raise ExecutionFailedError(failure_message(client, described))
        logger.info("%s succeeded: commit %s, model-build fingerprint %s", arn, commit, target.fingerprint)
        return 0
    raise ExecutionFailedError(f"executions with the same inputs kept stopping; gave up after {MAX_DECISIONS} tries")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cloud-assembly", type=Path, required=True, help="cdk.out synthesized from the commit")
    parser.add_argument("--stage", required=True, help="the stage (nested assembly display name), e.g. dev")
    parser.add_argument("--commit", required=True, help="the commit the assembly was synthesized from")
    parser.add_argument("--poll-seconds", type=float, default=30, help="seconds between status checks (default 30)")
    parser.add_argument(
        "--force", action="store_true", help="train even if these inputs already succeeded or failed at a gate"
    )
    args = parser.parse_args(argv)
    if not args.commit.strip():
        parser.error("--commit is empty (is the commit id variable set?)")
    if args.poll_seconds < 0:
        parser.error("--poll-seconds must not be negative")
    return args


def main(
    argv: list[str] | None = None,
    *,
    client_factory: Callable[[TrainTarget], Any] = sagemaker_client,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        target = read_target(args.cloud_assembly, args.stage)
    except AssemblyError as exc:
        logger.error("%s", exc)
        return 2
    logger.info(
        "stage %s: pipeline %s in %s/%s (stack %s), model-build fingerprint %s, waiting up to %d s, as %s",
        target.stage,
        target.pipeline_name,
        target.account,
        target.region,
        target.template,
        target.fingerprint,
        target.wait_seconds,
        target.starter_role_arn,
    )
    try:
        with TerminationSignals() as signals:
            return run(
                client_factory(target),
                target,
                commit=args.commit,
                force=args.force,
                poll_seconds=args.poll_seconds,
                signals=signals,
                sleep=sleep,
                clock=clock,
            )
    except Terminated as exc:
        logger.error("%s: exiting with %d", exc, exc.exit_code)
        return exc.exit_code
    except (ExecutionFailedError, TimeoutError) as exc:
        logger.error("%s", exc)  # the message is the whole story: no traceback
        return 1
    except (ClientError, BotoCoreError) as exc:
        logger.error("AWS call failed: %s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())

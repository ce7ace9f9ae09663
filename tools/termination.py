"""Turn SIGTERM, SIGINT and SIGHUP into an exception, so that the tool's clean-up runs however the build ends.

CodeBuild stops a build (timeout, "Stop build", a superseded pipeline execution) by signalling it; without a
handler Python dies on SIGTERM/SIGHUP without running ``finally`` blocks, and the SageMaker execution it started
would go on training, unwatched, for hours.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Terminated(BaseException):  # like KeyboardInterrupt: not an error, so no broad `except` eats it
    """The process received a termination signal; the exit code follows the shell's 128 + signal convention."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class TerminationSignals:
    """While entered (main thread only), the first termination signal raises :class:`Terminated`; later ones are
    logged and ignored so that the clean-up they triggered (stopping the execution) can finish.

    Inside :meth:`deferred` the signal is held back and raised when the block ends: a signal that arrives while
    StartPipelineExecution is in flight must not lose the ARN of the execution it started.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._received: int | None = None
        self._raised = False
        self._deferring = False

    def __enter__(self) -> TerminationSignals:
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._received is not None:
            logger.warning("received %s while already shutting down: ignored, finishing the clean-up", name)
            return
        self._received = signum
        if self._deferring:
            logger.warning("received %s during a start request: acting on it once the request returns", name)
            return
        self._raised = True
        raise Terminated(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a signal back until the block ends (the block should be one short API call)."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            if self._received is not None and not self._raised:
                self._raised = True
                raise Terminated(self._received)

"""The runner's errors, by when they happen: before anything runs (exit 2) or while a step runs (the run fails).

Every message names what is wrong and where (the step, the parameter, the S3 URI), because the developer reading
it has only the summary and the step logs to go on.
"""

from __future__ import annotations


class LocalRunnerError(Exception):
    """Base class of the runner's errors; every message names what is wrong and where."""


class UsageError(LocalRunnerError):
    """A bad command line: an option's value is missing, malformed or points at the wrong thing (exit status 2)."""


class DefinitionError(LocalRunnerError):
    """The definition cannot run here (found before any step starts): bad structure, reference or step type."""


class ParameterError(LocalRunnerError):
    """A parameter override does not fit the definition (unknown name, wrong type)."""


class StepError(LocalRunnerError):
    """A step failed while running; the run ends Failed with this message."""


class S3Error(StepError):
    """A local S3 object or prefix is missing or malformed."""


class ExpressionError(StepError):
    """An expression of the definition cannot be evaluated (missing property, path or value of the wrong type)."""


class PipelineFailed(Exception):  # noqa: N818 - a control-flow signal, not an error of the runner
    """Raised by a Fail step: ends the run Failed with the resolved error message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

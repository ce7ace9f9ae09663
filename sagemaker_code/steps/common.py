"""Helpers shared by the step scripts: the user-facing error type, logging, JSON and CSV files, input folders.

Standard library and numpy only, Python 3.10 compatible (the steps run in the ``sagemaker-xgboost`` container).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StepError(Exception):
    """A problem the user must fix (bad input, bad spec, missing file); the message is what they see."""


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)


def run_step(name: str, step: Callable[[], object]) -> int:
    """Run a step's work for ``main``: log a :class:`StepError` as one clear message and return 1."""
    configure_logging()
    try:
        step()
    except StepError as exc:
        logger.error("%s failed: %s", name, exc)  # the message is the report: no traceback
        return 1
    logger.info("%s finished", name)
    return 0


def read_json(path: Path, what: str) -> object:
    """Parse a JSON file; a missing or malformed file is a :class:`StepError` naming the file and the position."""
    if not path.is_file():
        raise StepError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise StepError(f"{path}: {what} is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise StepError(f"{path}:{exc.lineno}:{exc.colno}: {what} is not valid JSON: {exc.msg}") from None


def dump_json(data: object) -> str:
    """Deterministic JSON text; NaN and infinity are refused (they are not JSON; undefined values must be null)."""
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_json(data), encoding="utf-8")


def input_files(path: Path, what: str) -> list[Path]:
    """The files of an input: the file itself, or every non-hidden file under the folder, sorted by relative path."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise StepError(f"{what} not found: {path}")
    files = sorted(
        (
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ),
        key=lambda p: p.relative_to(path).as_posix(),
    )
    if not files:
        raise StepError(f"{what} folder is empty: {path}")
    return files


def split_file(split: str) -> str:
    """The XGBoost CSV file of a split, in the preprocess output folder of the same name (Train and Evaluate read
    it)."""
    return f"{split}.csv"


def read_xgboost_csv(path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, features) of an XGBoost CSV file written by the preprocess step: label first, no header. float32,
    as XGBoost scores them (half the memory of float64, and the C parser instead of a Python loop)."""
    import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain

    if not path.is_file():
        raise StepError(f"{what} not found: {path}")
    try:
        data = pd.read_csv(path, header=None, dtype=np.float32, engine="c").to_numpy(dtype=np.float32)
    except pd.errors.EmptyDataError:
        raise StepError(f"{path}: {what} is empty") from None
    except ValueError as exc:
        raise StepError(f"{path}: {what} is not a numeric CSV file: {exc}") from None
    labels = data[:, 0].copy()  # an array of its own: a view would keep the whole matrix's column order alive
    if not np.isin(labels, (0.0, 1.0)).all():
        raise StepError(f"{path}: {what}: the first column must be the label, 0 or 1")
    return labels, data[:, 1:]

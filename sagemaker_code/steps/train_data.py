"""The Train step's data: the files of a split's channel read in chunks into XGBoost's quantized matrix.

A split is never held as one float matrix: XGBoost builds its ``QuantileDMatrix`` from :class:`SplitChunks`, an
iterator over the channel's files in chunks of :data:`CHUNK_ROWS` rows (it reads them twice: once to sketch the
quantiles, once to fill in the bins). Memory is the binned matrix (about two bytes per cell) plus a chunk: measured
with XGBoost 3.2 on 2.3 million train rows of 61 features, the Train step peaks at 0.83 GB (reading the split into
one float32 matrix first: 1.2 GB, and 1.5 GB with the CSV parser's copy). On the first pass the iterator keeps what
training needs besides the matrix: the labels, and whatever ``on_chunk`` makes of each chunk's features (the facet
groups of bias mitigation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the toolchain
import xgboost as xgb

from sagemaker_code.steps.common import StepError, split_file

logger = logging.getLogger(__name__)

#: Rows per chunk: 200,000 rows of 60 float32 features are ~50 MB.
CHUNK_ROWS = 200_000


def split_files(folder: Path) -> list[Path]:
    """A split's files in its channel: ``<split>.csv``, or the part files of a split written in parts (``*.csv``,
    sorted); a sharded train channel gives each host some of them."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix == ".csv")


def _checked(path: Path, name: str, features: int, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if data.shape[1] != features + 1:
        raise StepError(
            f"{path} has {data.shape[1] - 1} features, the transform makes {features}: the data and the transform "
            "come from different preprocess runs"
        )
    labels = data[:, 0]
    if not np.isin(labels, (0.0, 1.0)).all():
        raise StepError(f"{path}: {name} data: the first column must be the label, 0 or 1")
    # a copy: pandas gives a column-major array, whose first column is a view that would keep the whole chunk alive
    return labels.copy(), data[:, 1:]


def read_chunks(
    path: Path, name: str, features: int, rows: int = CHUNK_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(labels, features) of one XGBoost CSV file (label first, no header), float32, ``rows`` rows at a time."""
    try:
        with pd.read_csv(path, header=None, dtype=np.float32, engine="c", chunksize=rows) as reader:
            for frame in reader:
                yield _checked(path, name, features, frame.to_numpy(dtype=np.float32, copy=False))
    except pd.errors.EmptyDataError:
        raise StepError(f"{path}: {name} data is empty") from None
    except ValueError as exc:
        raise StepError(f"{path}: {name} data is not a numeric CSV file: {exc}") from None


class SplitChunks(xgb.DataIter):
    """The chunks of a split's files, as XGBoost pulls them (``next``) and rewinds them (``reset``); the labels and
    ``on_chunk`` are taken on the first pass."""

    def __init__(
        self,
        files: list[Path],
        name: str,
        feature_names: list[str],
        on_chunk: Callable[[np.ndarray], None] | None = None,
        rows: int = CHUNK_ROWS,
    ) -> None:
        self.files, self.name, self.feature_names, self.on_chunk, self.rows = files, name, feature_names, on_chunk, rows
        self._labels: list[np.ndarray] = []
        self._first_pass = True
        self._chunks: Iterator[tuple[np.ndarray, np.ndarray]] | None = None
        super().__init__(release_data=True)

    def _all_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for path in self.files:
            yield from read_chunks(path, self.name, len(self.feature_names), self.rows)

    def next(self, input_data: Callable[..., object]) -> bool:
        if self._chunks is None:
            self._chunks = self._all_chunks()
        chunk = next(self._chunks, None)
        if chunk is None:
            self._first_pass = False
            return False
        labels, features = chunk
        if self._first_pass:
            self._labels.append(labels)
            if self.on_chunk is not None:
                self.on_chunk(features)
        input_data(data=features, label=labels, feature_names=self.feature_names)
        return True

    def reset(self) -> None:
        self._chunks = None

    @property
    def labels(self) -> np.ndarray:
        """Every label of the split (0/1, float32), known once XGBoost has read the split through once."""
        if self._first_pass:
            raise RuntimeError("the labels are known after the first pass over the split")
        return np.concatenate(self._labels) if self._labels else np.zeros(0, dtype=np.float32)


def quantized(
    folder: Path,
    name: str,
    feature_names: list[str],
    *,
    threads: int,
    ref: xgb.QuantileDMatrix | None = None,
    on_chunk: Callable[[np.ndarray], None] | None = None,
    may_be_empty: bool = False,
) -> tuple[xgb.QuantileDMatrix, np.ndarray]:
    """(the split as XGBoost's quantized matrix, its labels). ``ref``: the train split's matrix (the validation split
    is binned on the train split's quantiles). ``may_be_empty``: a host of a distributed job whose sharded channel
    got no file trains on no rows (it still takes part in every allreduce)."""
    files = split_files(folder)
    if not files:
        if not may_be_empty:
            raise StepError(f"{name} data not found: {folder / split_file(name)} (nor any other .csv file in {folder})")
        logger.warning("%s: no %s files on this host (fewer files than training instances)", folder, name)
        empty = np.zeros((0, len(feature_names)), dtype=np.float32)
        if on_chunk is not None:
            on_chunk(empty)
        labels = np.zeros(0, dtype=np.float32)
        matrix = xgb.QuantileDMatrix(empty, label=labels, feature_names=feature_names, ref=ref, nthread=threads)
        return matrix, labels
    chunks = SplitChunks(files, name, feature_names, on_chunk)
    matrix = xgb.QuantileDMatrix(chunks, ref=ref, nthread=threads)
    return matrix, chunks.labels

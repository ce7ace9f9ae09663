"""Train step (SageMaker XGBoost framework container, script mode): binary:logistic, AUC, early stopping.

SageMaker runs ``python train.py --max_depth 4 --eta 0.1 ... --bias_mitigation none`` (one ``--name value`` pair per
hyperparameter) with the channels in ``SM_CHANNEL_<NAME>`` and the model folder in ``SM_MODEL_DIR``; every argument
defaults to those variables (then to the container paths of :mod:`sagemaker_code.steps.contract`), and every
hyperparameter defaults to its value in ``SM_HPS`` (then to the table's default). The hyperparameters, their types,
defaults and bounds come from the bundle's hyperparameter table (:mod:`sagemaker_code.steps.hyperparameters`),
derived at synth from the config schema that defines them. Boosting and the decision threshold (by cost on the
validation split unless the spec fixes it; the test split is never seen here) are :mod:`sagemaker_code.steps.boosting`.

Data: every ``.csv`` file of the train and validation channels (one ``<split>.csv`` or part files), read in chunks
into XGBoost's quantized matrix (``QuantileDMatrix``: about one byte per cell; :mod:`.train_data`). Threads: the CPUs
this process may use (:func:`sagemaker_code.steps.cluster.available_cpus`). Several training instances (``SM_HOSTS``)
train one model together through XGBoost's collective (:mod:`sagemaker_code.steps.cluster`); the train channel is
sharded by S3 key, so each host trains on its own files, and the leader writes the model folder.

Bias mitigation (``--bias_mitigation``, :mod:`sagemaker_code.steps.mitigation`): ``none`` or ``reweighing``. When the
spec has facets the model of the other setting is trained too, on the same splits, and written to ``comparison/``:
Evaluate reports both side by side on the same test split.

The model folder is what the serving container expects (see :mod:`sagemaker_code.steps.inference`):
``xgboost-model.json`` (the best round's booster), ``transform.json`` (the preprocess step's transform with the
model's decision threshold: serving decides with it), ``code/`` with ``inference.py`` and the ``sagemaker_code``
modules it imports, ``training.json`` (best round, scores, hyperparameters, the threshold and how it was chosen, the
bias mitigation of both models, hosts and threads) and, with facets, ``comparison/`` (booster and transform of the
comparison model; serving never reads it).

The spec and the hyperparameter table are the bundle's ``dataset_spec.json`` and ``hyperparameters.json`` (next to
the ``sagemaker_code`` package, where the script-mode container unpacks the code: ``/opt/ml/code``), unless
``--spec`` and ``--hyperparameter-table`` name other files.

Usage: ``python -m sagemaker_code.steps.train --train DIR --validation DIR --transform DIR --model-dir DIR``
``[--spec FILE] [--hyperparameter-table FILE] [--bias_mitigation none|reweighing]``
``[--max_depth 4 --eta 0.1 --num_round 300 --subsample 0.8 --colsample_bytree 0.8 --min_child_weight 1``
``--early_stopping_rounds 30 --seed 42]`` (the table's rows).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

if not __package__:  # run as a file (python .../train.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

# Idle OpenMP threads sleep instead of spinning (read when XGBoost's OpenMP runtime loads: before the imports below):
# on a machine that other work keeps busy, spinning threads take the CPUs the working ones need (10x slower locally).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from sagemaker_code.steps import contract
from sagemaker_code.steps.boosting import Fitted, fit
from sagemaker_code.steps.cluster import Cluster, available_cpus, collective
from sagemaker_code.steps.common import StepError, run_step, write_json
from sagemaker_code.steps.hyperparameters import (
    Hyperparameter,
    HyperparameterTableError,
    Value,
    load_table,
    problems,
    xgboost_params,
)
from sagemaker_code.steps.inference import MODEL_FILE
from sagemaker_code.steps.mitigation import cell_counts, facet_groups, reweighing_weights, weight_table
from sagemaker_code.steps.spec import DatasetSpec, load_spec
from sagemaker_code.steps.train_data import quantized
from sagemaker_code.steps.transform import TRANSFORM_FILE, Transform, TransformFileError

logger = logging.getLogger(__name__)

#: What serving imports besides inference.py (inference.py imports sagemaker_code.steps.transform only).
SERVING_MODULES = ("__init__.py", "transform.py")
TRAINING_REPORT = "training.json"
#: The root of the unpacked code bundle (``/opt/ml/code`` in the container): ``<root>/sagemaker_code/steps/train.py``.
BUNDLE_ROOT = Path(__file__).resolve().parents[2]
#: The spec and the hyperparameter table inside the code bundle, next to the ``sagemaker_code`` package.
BUNDLED_SPEC = BUNDLE_ROOT / contract.SPEC_FILE
BUNDLED_HYPERPARAMETER_TABLE = BUNDLE_ROOT / contract.HYPERPARAMETER_TABLE


def load_transform(path: Path) -> Transform:
    if not path.is_file():
        raise StepError(f"transform not found: {path}")
    try:
        return Transform.from_json(path.read_text(encoding="utf-8"), threshold_required=False)
    except TransformFileError as exc:
        raise StepError(f"{path}: {exc}") from None


def _allreduce(values: np.ndarray, cluster: Cluster) -> np.ndarray:
    """Sum over the training hosts (the values themselves on one host)."""
    if cluster.size == 1:
        return values
    from xgboost import collective

    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()  # the collective reduces flat buffers
    summed: np.ndarray = np.asarray(collective.allreduce(flat, collective.Op.SUM)).reshape(values.shape)
    return summed


def copy_serving_code(code_dir: Path) -> None:
    """code/inference.py and code/sagemaker_code/steps/<the modules it imports>, copied from this file's folder."""
    here = Path(__file__).resolve().parent
    if code_dir.exists():
        shutil.rmtree(code_dir)
    package = code_dir / "sagemaker_code" / "steps"
    package.mkdir(parents=True)
    (code_dir / "sagemaker_code" / "__init__.py").write_text("")
    shutil.copyfile(here / contract.SERVING_PROGRAM, code_dir / contract.SERVING_PROGRAM)
    for name in SERVING_MODULES:
        shutil.copyfile(here / name, package / name)


def write_model(folder: Path, fitted: Fitted, transform: Transform) -> None:
    """The booster and the transform with the model's threshold (what serving, or Evaluate, loads)."""
    folder.mkdir(parents=True, exist_ok=True)
    fitted.booster.save_model(str(folder / MODEL_FILE))
    (folder / TRANSFORM_FILE).write_text(transform.with_threshold(fitted.threshold).to_json(), encoding="utf-8")


def train(
    train_dir: Path,
    validation_dir: Path,
    transform_dir: Path,
    model_dir: Path,
    hp: Mapping[str, Value],
    *,
    spec: DatasetSpec,
    mitigation: str = contract.NO_MITIGATION,
    cluster: Cluster | None = None,
    threads: int | None = None,
) -> dict[str, object]:
    """Train, keep the best round, choose the decision threshold, write the model folder; return the report.

    ``hp`` holds every hyperparameter of the table (checked by :func:`parse_args`); ``num_round`` and
    ``early_stopping_rounds`` drive the boosting loop, the rest are XGBoost's booster parameters. ``mitigation`` is
    the served model's bias mitigation; when the spec has facets the model of the other setting is trained too and
    written to ``comparison/`` for Evaluate's side-by-side report. ``cluster``: the training hosts (default: one);
    only the leader writes the model folder. ``threads``: XGBoost's threads (default: the CPUs available).
    """
    if mitigation not in contract.BIAS_MITIGATIONS:
        raise StepError(f"bias mitigation must be one of {list(contract.BIAS_MITIGATIONS)}, got {mitigation!r}")
    cluster = cluster or Cluster.single()
    threads = threads or available_cpus()
    transform_path = transform_dir / TRANSFORM_FILE
    transform = load_transform(transform_path)
    if transform.spec_name != spec.name:
        raise StepError(
            f"{transform_path} was fitted for the dataset spec {transform.spec_name!r}, the spec is {spec.name!r}: "
            "the preprocess output and the code bundle come from different pipeline versions"
        )
    names = list(transform.feature_names)
    params = {**xgboost_params(hp), "nthread": threads}
    logger.info("XGBoost threads: %d (CPUs available to this process)", threads)
    group_parts: list[np.ndarray] = []  # the facet groups of each chunk of the train split, in order

    def keep_groups(features: np.ndarray) -> None:
        group_parts.append(facet_groups(transform, spec.facets, features))

    with collective(cluster):
        dtrain, labels = quantized(
            train_dir, "train", names, threads=threads, on_chunk=keep_groups, may_be_empty=cluster.size > 1
        )
        dvalidation, validation_labels = quantized(validation_dir, "validation", names, threads=threads, ref=dtrain)
        classes = _allreduce(np.array([np.sum(labels == 0), np.sum(labels == 1)]), cluster)
        if np.count_nonzero(classes) < 2:
            raise StepError(f"{train_dir}: the train split has rows of one class only; training needs both")
        if np.unique(validation_labels).size < 2:
            raise StepError(f"{validation_dir}: the validation split has rows of one class only; training needs both")
        groups = np.concatenate(group_parts)
        counts = _allreduce(cell_counts(labels, groups), cluster)
        models: dict[str, Fitted] = {}
        wanted = contract.BIAS_MITIGATIONS if spec.facets else (mitigation,)
        for name in wanted:  # "none" first: no weights yet
            if name == contract.REWEIGHING:
                dtrain.set_weight(reweighing_weights(labels, groups, counts))
            models[name] = fit(params, dtrain, dvalidation, hp=hp, spec=spec, mitigation=name)
    served = models[mitigation]
    comparison = next((models[name] for name in models if name != mitigation), None)
    report: dict[str, object] = {
        "spec_name": transform.spec_name,
        "best_round": served.report["best_round"],
        "rounds_trained": served.report["rounds_trained"],
        "validation_auc": served.report["validation_auc"],
        "validation_logloss": served.report["validation_logloss"],
        "rows": {"train": int(classes.sum()), "validation": int(validation_labels.size)},
        "features": len(names),
        "hyperparameters": dict(hp),
        "decision_threshold": served.report["decision_threshold"],
        "bias_mitigation": {
            "served": mitigation,
            "comparison": None if comparison is None else comparison.report["bias_mitigation"],
            "models": {name: fitted.report for name, fitted in models.items()},
            "reweighing_weights": weight_table(counts, spec.facets) if spec.facets else [],
        },
        "hosts": list(cluster.hosts),
        "threads": threads,
    }
    if not cluster.is_leader:  # every host holds the same model; the leader's folder is the job's model
        return report
    write_model(model_dir, served, transform)
    if comparison is not None:
        write_model(model_dir / contract.COMPARISON_FOLDER, comparison, transform)
    copy_serving_code(model_dir / contract.SERVING_CODE_FOLDER)
    write_json(model_dir / TRAINING_REPORT, report)
    return report


def _sm_hps(environ: Mapping[str, str], parser: argparse.ArgumentParser) -> dict[str, object]:
    """The job's hyperparameters from SM_HPS (JSON), when set: they become the defaults of the arguments."""
    text = environ.get(contract.SM_HPS)
    if not text:
        return {}
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        parser.error(f"{contract.SM_HPS} is not valid JSON: {exc.msg}")
    if not isinstance(given, dict):
        parser.error(f"{contract.SM_HPS} must be a JSON object, got {type(given).__name__}")
    return given


def _default(row: Hyperparameter, value: object, parser: argparse.ArgumentParser) -> Value:
    wanted = "a whole number" if row.kind is int else "a number"
    problem = f"{contract.SM_HPS}: {row.name} must be {wanted}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        parser.error(problem)
    if row.kind is int and isinstance(value, float) and not value.is_integer():
        parser.error(problem)
    try:
        return row.kind(value)
    except ValueError:
        parser.error(problem)


def _table(argv: Sequence[str] | None, parser: argparse.ArgumentParser) -> tuple[Hyperparameter, ...]:
    """The hyperparameter table named by ``--hyperparameter-table`` (default: the bundle's).

    Read before the other arguments, because its rows are arguments. Without a readable table ``--help`` still
    works (listing no hyperparameters); anything else stops with the table's problem.
    """
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--hyperparameter-table", type=Path, default=BUNDLED_HYPERPARAMETER_TABLE)
    known, _ = pre.parse_known_args(argv)
    try:
        return load_table(known.hyperparameter_table)
    except HyperparameterTableError as exc:
        parser.error(str(exc))
    except StepError as exc:  # not found, not JSON
        if {"-h", "--help"} & set(sys.argv[1:] if argv is None else argv):
            return ()
        parser.error(f"{exc} (give the code bundle's {contract.HYPERPARAMETER_TABLE} with --hyperparameter-table)")


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> tuple[argparse.Namespace, dict[str, Value]]:
    """Paths default to the SM_* variables (then the container paths), hyperparameters to SM_HPS (then the table)."""
    parser = argparse.ArgumentParser(description="Train the XGBoost model (train step)", allow_abbrev=False)
    for channel in contract.TRAINING_INPUTS:  # --train, --validation, --transform
        default = environ.get(f"{contract.SM_CHANNEL_PREFIX}{channel.upper()}", contract.training_channel(channel))
        parser.add_argument(f"--{channel}", type=Path, default=Path(default), help=f"the {channel} channel")
    parser.add_argument(
        "--model-dir",
        "--model_dir",
        dest="model_dir",
        type=Path,
        default=Path(environ.get(contract.SM_MODEL_DIR, contract.MODEL_DIR)),
    )
    parser.add_argument(
        "--spec", type=Path, default=BUNDLED_SPEC, help="dataset spec JSON (default: the code bundle's)"
    )
    parser.add_argument(
        "--hyperparameter-table",
        type=Path,
        default=BUNDLED_HYPERPARAMETER_TABLE,
        help="hyperparameter table JSON: the arguments below, their defaults and bounds (default: the code bundle's)",
    )
    table = _table(argv, parser)
    given = _sm_hps(environ, parser)
    mitigation = given.get(contract.BIAS_MITIGATION_HYPERPARAMETER, contract.NO_MITIGATION)
    parser.add_argument(
        f"--{contract.BIAS_MITIGATION_HYPERPARAMETER}",
        choices=contract.BIAS_MITIGATIONS,
        default=mitigation,
        help=f"bias mitigation of the served model (default {mitigation}, from SM_HPS when set); with facets in the "
        "spec the other setting's model is trained too, for the comparison",
    )
    hyperparameters = parser.add_argument_group("hyperparameters (from the table; defaults from SM_HPS when set)")
    for row in table:
        value = _default(row, given.get(row.name, row.default), parser)
        bounds = row.range_text()
        hyperparameters.add_argument(
            f"--{row.name}",
            type=row.kind,
            default=value,
            metavar=row.kind.__name__.upper(),
            help=f"{row.description} ({bounds + '; ' if bounds else ''}default {value})".replace("%", "%%"),
        )
    args = parser.parse_args(argv)
    if args.bias_mitigation not in contract.BIAS_MITIGATIONS:  # a default from SM_HPS skips argparse's choices
        parser.error(
            f"{contract.SM_HPS}: {contract.BIAS_MITIGATION_HYPERPARAMETER} must be one of "
            f"{list(contract.BIAS_MITIGATIONS)}, got {args.bias_mitigation!r}"
        )
    hp = {row.name: getattr(args, row.name) for row in table}
    found = problems(table, hp)
    if found:
        parser.error("; ".join(found))
    return args, hp


def main(argv: list[str] | None = None) -> int:
    environ = dict(os.environ)
    args, hp = parse_args(argv, environ)

    def work() -> None:
        train(
            args.train,
            args.validation,
            args.transform,
            args.model_dir,
            hp,
            spec=load_spec(args.spec),
            mitigation=args.bias_mitigation,
            cluster=Cluster.from_environ(environ),
        )

    return run_step("train", work)


if __name__ == "__main__":
    sys.exit(main())

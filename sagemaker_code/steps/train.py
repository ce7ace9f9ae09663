"""Train step (SageMaker XGBoost framework container, script mode): binary:logistic, AUC, early stopping.

SageMaker runs ``python train.py --max_depth 4 --eta 0.1 ...`` (one ``--name value`` pair per hyperparameter) with the
channels in ``SM_CHANNEL_<NAME>`` and the model folder in ``SM_MODEL_DIR``; every argument defaults to those
variables (then to the container paths of :mod:`sagemaker_code.steps.contract`), and every hyperparameter defaults to
its value in ``SM_HPS`` (then to the table's default). The hyperparameters, their types, defaults and bounds come
from the bundle's hyperparameter table (:mod:`sagemaker_code.steps.hyperparameters`), derived at synth from the
config schema that defines them. Each boosting round logs ``[i] train-auc:<v> validation-auc:<v>`` and the end logs
the best round again, for the estimator's metric definition ``validation-auc:([0-9.]+)``.

After training, the step chooses the model's decision threshold: the spec's ``label.decision_threshold`` when it
gives one (a fixed override), else the threshold with the least expected cost (the spec's cost matrix) on the
validation split (:mod:`sagemaker_code.steps.cost`). The test split is never seen here, so the Evaluate step's test cost
stays an honest estimate.

The model folder is what the serving container expects (see :mod:`sagemaker_code.steps.inference`):
``xgboost-model.json``
(the best round's booster), ``transform.json`` (the preprocess step's transform with the model's decision threshold:
serving decides with it), ``code/`` with ``inference.py`` and the ``sagemaker_code`` modules it imports, and
``training.json`` (best round, scores, hyperparameters, the threshold and how it was chosen).

The spec and the hyperparameter table are the bundle's ``dataset_spec.json`` and ``hyperparameters.json`` (next to
the ``sagemaker_code`` package, where the script-mode container unpacks the code: ``/opt/ml/code``), unless
``--spec`` and ``--hyperparameter-table`` name other files.

Usage: ``python -m sagemaker_code.steps.train --train DIR --validation DIR --transform DIR --model-dir DIR``
``[--spec FILE] [--hyperparameter-table FILE]``
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
import xgboost as xgb

if not __package__:  # run as a file (python .../train.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.steps import contract
from sagemaker_code.steps.common import StepError, read_xgboost_csv, run_step, split_file, write_json
from sagemaker_code.steps.cost import ConstantCosts, cost_optimal_threshold, expected_cost
from sagemaker_code.steps.hyperparameters import (
    EARLY_STOPPING_ROUNDS,
    NUM_ROUND,
    Hyperparameter,
    HyperparameterTableError,
    Value,
    load_table,
    problems,
    xgboost_params,
)
from sagemaker_code.steps.inference import MODEL_FILE
from sagemaker_code.steps.spec import DatasetSpec, load_spec
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


class _LogScores(xgb.callback.TrainingCallback):
    """Log ``[i] train-auc:<v> validation-auc:<v>`` after every boosting round."""

    def after_iteration(  # the signature is xgboost's; the booster is not needed here
        self,
        model: xgb.Booster,  # noqa: ARG002
        epoch: int,
        evals_log: xgb.callback.TrainingCallback.EvalsLog,
    ) -> bool:
        scores = []
        for data, metrics in evals_log.items():
            for metric, history in metrics.items():
                last = history[-1]
                scores.append(f"{data}-{metric}:{last[0] if isinstance(last, tuple) else last:.6f}")
        logger.info("[%d] %s", epoch, " ".join(scores))
        return False


def load_transform(path: Path) -> Transform:
    if not path.is_file():
        raise StepError(f"transform not found: {path}")
    try:
        return Transform.from_json(path.read_text(encoding="utf-8"), threshold_required=False)
    except TransformFileError as exc:
        raise StepError(f"{path}: {exc}") from None


def _matrix(folder: Path, name: str, feature_names: list[str]) -> xgb.DMatrix:
    path = folder / split_file(name)
    labels, features = read_xgboost_csv(path, f"{name} data")
    if features.shape[1] != len(feature_names):
        raise StepError(
            f"{path} has {features.shape[1]} features, the transform makes {len(feature_names)}: "
            "the data and the transform come from different preprocess runs"
        )
    if np.unique(labels).size < 2:
        raise StepError(f"{path} has rows of one class only; training needs both")
    return xgb.DMatrix(features, label=labels, feature_names=feature_names)


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


def decision_threshold(
    booster: xgb.Booster, dvalidation: xgb.DMatrix, spec: DatasetSpec
) -> tuple[float, dict[str, object]]:
    """The model's decision threshold and its record for training.json (see the module docstring)."""
    labels = dvalidation.get_label()
    probabilities = booster.predict(dvalidation)
    cost = spec.cost_matrix
    override = spec.label.decision_threshold
    if override is None:
        choice = cost_optimal_threshold(labels, probabilities, cost.false_positive, cost.false_negative)
        threshold, source = choice.threshold, "cost_on_validation"
    else:
        threshold, source = override, "spec"
    validation_cost = expected_cost(labels, probabilities >= threshold, cost.false_positive, cost.false_negative)
    constants = ConstantCosts.of(labels, cost.false_positive, cost.false_negative)
    logger.info(
        "decision threshold %.6f (%s): validation cost %.4f per row; accept everyone %.4f, reject everyone %.4f",
        threshold, source, validation_cost, constants.accept_all, constants.reject_all,
    )  # fmt: skip
    return threshold, {
        "value": threshold,
        "source": source,
        "validation_cost_per_row": validation_cost,
        "validation_constant_costs": constants.as_dict(),
        "cost_matrix": {"false_positive": cost.false_positive, "false_negative": cost.false_negative},
    }


def train(
    train_dir: Path,
    validation_dir: Path,
    transform_dir: Path,
    model_dir: Path,
    hp: Mapping[str, Value],
    *,
    spec: DatasetSpec,
) -> dict[str, object]:
    """Train, keep the best round, choose the decision threshold, write the model folder; return the report.

    ``hp`` holds every hyperparameter of the table (checked by :func:`parse_args`); ``num_round`` and
    ``early_stopping_rounds`` drive the boosting loop, the rest are XGBoost's booster parameters.
    """
    transform_path = transform_dir / TRANSFORM_FILE
    transform = load_transform(transform_path)
    if transform.spec_name != spec.name:
        raise StepError(
            f"{transform_path} was fitted for the dataset spec {transform.spec_name!r}, the spec is {spec.name!r}: "
            "the preprocess output and the code bundle come from different pipeline versions"
        )
    names = list(transform.feature_names)
    dtrain = _matrix(train_dir, "train", names)
    dvalidation = _matrix(validation_dir, "validation", names)
    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        xgboost_params(hp),
        dtrain,
        num_boost_round=int(hp[NUM_ROUND]),
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        early_stopping_rounds=int(hp[EARLY_STOPPING_ROUNDS]),
        evals_result=history,
        callbacks=[_LogScores()],
        verbose_eval=False,
    )
    best_round = int(booster.best_iteration)
    best_auc = float(history["validation"]["auc"][best_round])
    best_logloss = float(booster.best_score)
    logger.info(
        "best round %d of %d: validation-auc:%.6f validation-logloss:%.6f",
        best_round, booster.num_boosted_rounds() - 1, best_auc, best_logloss,
    )  # fmt: skip
    best = booster[: best_round + 1]
    threshold, threshold_report = decision_threshold(best, dvalidation, spec)
    model_dir.mkdir(parents=True, exist_ok=True)
    best.save_model(str(model_dir / MODEL_FILE))
    (model_dir / TRANSFORM_FILE).write_text(transform.with_threshold(threshold).to_json(), encoding="utf-8")
    copy_serving_code(model_dir / contract.SERVING_CODE_FOLDER)
    report: dict[str, object] = {
        "spec_name": transform.spec_name,
        "best_round": best_round,
        "rounds_trained": booster.num_boosted_rounds(),
        "validation_auc": best_auc,
        "validation_logloss": best_logloss,
        "rows": {"train": dtrain.num_row(), "validation": dvalidation.num_row()},
        "features": len(names),
        "hyperparameters": dict(hp),
        "decision_threshold": threshold_report,
    }
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
    hp = {row.name: getattr(args, row.name) for row in table}
    found = problems(table, hp)
    if found:
        parser.error("; ".join(found))
    return args, hp


def main(argv: list[str] | None = None) -> int:
    args, hp = parse_args(argv, dict(os.environ))
    return run_step(
        "train",
        lambda: train(args.train, args.validation, args.transform, args.model_dir, hp, spec=load_spec(args.spec)),
    )


if __name__ == "__main__":
    sys.exit(main())

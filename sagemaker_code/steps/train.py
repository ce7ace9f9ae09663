"""Train step (SageMaker XGBoost framework container, script mode): binary:logistic, AUC, early stopping.

SageMaker runs ``python train.py --max_depth 4 --eta 0.1 ...`` (one ``--name value`` pair per hyperparameter) with the
channels in ``SM_CHANNEL_<NAME>`` and the model folder in ``SM_MODEL_DIR``; every argument defaults to those
variables (then to the container paths), and every hyperparameter defaults to its value in ``SM_HPS`` (then to the
built-in default). Each boosting round logs ``[i] train-auc:<v> validation-auc:<v>`` and the end logs the best round
again, for the estimator's metric definition ``validation-auc:([0-9.]+)``.

After training, the step chooses the model's decision threshold: the spec's ``label.decision_threshold`` when it
gives one (a fixed override), else the threshold with the least expected cost (the spec's cost matrix) on the
validation split (:mod:`sagemaker_code.steps.cost`). The test split is never seen here, so the Evaluate step's test cost
stays an honest estimate.

The model folder is what the serving container expects (see :mod:`sagemaker_code.steps.inference`):
``xgboost-model.json``
(the best round's booster), ``transform.json`` (the preprocess step's transform with the model's decision threshold:
serving decides with it), ``code/`` with ``inference.py`` and the ``sagemaker_code`` modules it imports, and
``training.json`` (best round, scores, hyperparameters, the threshold and how it was chosen).

The spec is the bundle's ``dataset_spec.json`` (next to the ``sagemaker_code`` package, where the script-mode
container unpacks the code), unless ``--spec`` names another file.

Usage: ``python -m sagemaker_code.steps.train --train DIR --validation DIR --transform DIR --model-dir DIR``
``[--spec FILE]``
``[--max_depth 4 --eta 0.1 --num_round 300 --subsample 0.8 --colsample_bytree 0.8 --min_child_weight 1``
``--early_stopping_rounds 30 --seed 42]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import xgboost as xgb

if not __package__:  # run as a file (python .../train.py): make `sagemaker_code` importable, see _bootstrap.py
    __import__("_bootstrap")

from sagemaker_code.steps.common import StepError, read_xgboost_csv, run_step, write_json
from sagemaker_code.steps.cost import ConstantCosts, cost_optimal_threshold, expected_cost
from sagemaker_code.steps.hyperparameters import Hyperparameters
from sagemaker_code.steps.inference import MODEL_FILE, TRANSFORM_FILE
from sagemaker_code.steps.spec import DatasetSpec, load_spec
from sagemaker_code.steps.transform import Transform, TransformFileError

logger = logging.getLogger(__name__)

#: What serving imports besides inference.py (inference.py imports sagemaker_code.steps.transform only).
SERVING_MODULES = ("__init__.py", "transform.py")
TRAINING_REPORT = "training.json"
#: The spec inside the code bundle: ``<bundle>/dataset_spec.json`` next to ``<bundle>/sagemaker_code/steps/``.
BUNDLED_SPEC = Path(__file__).resolve().parents[2] / "dataset_spec.json"


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
    labels, features = read_xgboost_csv(folder / f"{name}.csv", f"{name} data")
    if features.shape[1] != len(feature_names):
        raise StepError(
            f"{folder / name}.csv has {features.shape[1]} features, the transform makes {len(feature_names)}: "
            "the data and the transform come from different preprocess runs"
        )
    if np.unique(labels).size < 2:
        raise StepError(f"{folder / name}.csv has rows of one class only; training needs both")
    return xgb.DMatrix(features, label=labels, feature_names=feature_names)


def copy_serving_code(code_dir: Path) -> None:
    """code/inference.py and code/sagemaker_code/steps/<the modules it imports>, copied from this file's folder."""
    here = Path(__file__).resolve().parent
    if code_dir.exists():
        shutil.rmtree(code_dir)
    package = code_dir / "sagemaker_code" / "steps"
    package.mkdir(parents=True)
    (code_dir / "sagemaker_code" / "__init__.py").write_text("")
    shutil.copyfile(here / "inference.py", code_dir / "inference.py")
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
    hp: Hyperparameters,
    *,
    spec: DatasetSpec,
) -> dict[str, object]:
    """Train, keep the best round, choose the decision threshold, write the model folder; return the report."""
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
        hp.xgboost_params(),
        dtrain,
        num_boost_round=hp.num_round,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        early_stopping_rounds=hp.early_stopping_rounds,
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
    copy_serving_code(model_dir / "code")
    report: dict[str, object] = {
        "spec_name": transform.spec_name,
        "best_round": best_round,
        "rounds_trained": booster.num_boosted_rounds(),
        "validation_auc": best_auc,
        "validation_logloss": best_logloss,
        "rows": {"train": dtrain.num_row(), "validation": dvalidation.num_row()},
        "features": len(names),
        "hyperparameters": asdict(hp),
        "decision_threshold": threshold_report,
    }
    write_json(model_dir / TRAINING_REPORT, report)
    return report


def _sm_hps(environ: dict[str, str], parser: argparse.ArgumentParser) -> dict[str, object]:
    """The job's hyperparameters from SM_HPS (JSON), when set: they become the defaults of the arguments."""
    text = environ.get("SM_HPS")
    if not text:
        return {}
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        parser.error(f"SM_HPS is not valid JSON: {exc.msg}")
    if not isinstance(given, dict):
        parser.error(f"SM_HPS must be a JSON object, got {type(given).__name__}")
    return given


def _default(name: str, kind: type[int] | type[float], value: object, parser: argparse.ArgumentParser) -> int | float:
    wanted = "a whole number" if kind is int else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        parser.error(f"SM_HPS: {name} must be {wanted}, got {value!r}")
    if kind is int and isinstance(value, float) and not value.is_integer():
        parser.error(f"SM_HPS: {name} must be {wanted}, got {value!r}")
    try:
        return kind(value)
    except ValueError:
        parser.error(f"SM_HPS: {name} must be {wanted}, got {value!r}")


def parse_args(argv: list[str] | None, environ: dict[str, str]) -> tuple[argparse.Namespace, Hyperparameters]:
    """Paths default to the SM_* variables (then the container paths), hyperparameters to SM_HPS (then built-in)."""
    parser = argparse.ArgumentParser(description="Train the XGBoost model (train step)", allow_abbrev=False)
    channel = "/opt/ml/input/data"
    parser.add_argument("--train", type=Path, default=Path(environ.get("SM_CHANNEL_TRAIN", f"{channel}/train")))
    parser.add_argument(
        "--validation", type=Path, default=Path(environ.get("SM_CHANNEL_VALIDATION", f"{channel}/validation"))
    )
    parser.add_argument(
        "--transform", type=Path, default=Path(environ.get("SM_CHANNEL_TRANSFORM", f"{channel}/transform"))
    )
    parser.add_argument(
        "--model-dir",
        "--model_dir",
        dest="model_dir",
        type=Path,
        default=Path(environ.get("SM_MODEL_DIR", "/opt/ml/model")),
    )
    parser.add_argument(
        "--spec", type=Path, default=BUNDLED_SPEC, help="dataset spec JSON (default: the code bundle's)"
    )
    given = _sm_hps(environ, parser)
    builtin = asdict(Hyperparameters())
    for field in fields(Hyperparameters):
        kind: type[int] | type[float] = int if field.type == "int" else float
        default = _default(field.name, kind, given.get(field.name, builtin[field.name]), parser)
        parser.add_argument(f"--{field.name}", type=kind, default=default, metavar=kind.__name__.upper())
    args = parser.parse_args(argv)
    hp = Hyperparameters(**{field.name: getattr(args, field.name) for field in fields(Hyperparameters)})
    problems = hp.problems()
    if problems:
        parser.error("; ".join(problems))
    return args, hp


def main(argv: list[str] | None = None) -> int:
    args, hp = parse_args(argv, dict(os.environ))
    return run_step(
        "train",
        lambda: train(args.train, args.validation, args.transform, args.model_dir, hp, spec=load_spec(args.spec)),
    )


if __name__ == "__main__":
    sys.exit(main())

"""Train step: SageMaker script-mode arguments, the model folder, the cost-optimal decision threshold, metric logs,
reproducibility, serving code."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from sagemaker_code.definition.settings import hyperparameter_table
from sagemaker_code.steps import contract
from sagemaker_code.steps import train as train_module
from sagemaker_code.steps.common import StepError, read_xgboost_csv
from sagemaker_code.steps.cost import cost_optimal_threshold, expected_cost
from sagemaker_code.steps.hyperparameters import Value, defaults, table_json, xgboost_params
from sagemaker_code.steps.spec import DatasetSpec, load_spec
from sagemaker_code.steps.train import BUNDLED_HYPERPARAMETER_TABLE, BUNDLED_SPEC, main, parse_args, train
from tests.step_fixtures import PipelineRun, write_spec_json

SAGEMAKER_ARGS = [
    *("--max_depth", "4", "--eta", "0.1", "--num_round", "300", "--subsample", "0.8"),
    *("--colsample_bytree", "0.8", "--min_child_weight", "1", "--early_stopping_rounds", "30", "--seed", "42"),
]
#: The config schema's defaults (config.model_build.HyperparameterDefaults), as the bundle's table carries them.
DEFAULTS: dict[str, Value] = defaults(hyperparameter_table())
FAST: dict[str, Value] = {**DEFAULTS, "num_round": 20, "early_stopping_rounds": 5}


def folders(run: PipelineRun) -> tuple[Path, Path, Path]:
    return run.data / "train", run.data / "validation", run.data / "transform"


class TestArguments:
    @pytest.fixture
    def table(self, hyperparameter_table_path: Path) -> list[str]:
        return ["--hyperparameter-table", str(hyperparameter_table_path)]

    def test_sagemaker_script_mode_arguments_and_channels(self, table: list[str]) -> None:
        environ = {
            "SM_CHANNEL_TRAIN": "/data/train",
            "SM_CHANNEL_VALIDATION": "/data/validation",
            "SM_CHANNEL_TRANSFORM": "/data/transform",
            "SM_MODEL_DIR": "/model",
        }
        args, hp = parse_args([*SAGEMAKER_ARGS, *table], environ)
        assert hp == {
            "max_depth": 4,
            "eta": 0.1,
            "num_round": 300,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 1.0,
            "early_stopping_rounds": 30,
            "seed": 42,
        }
        assert [type(value) for value in hp.values()] == [int, float, int, float, float, float, int, int]
        assert (args.train, args.validation, args.transform, args.model_dir) == (
            Path("/data/train"),
            Path("/data/validation"),
            Path("/data/transform"),
            Path("/model"),
        )

    def test_container_paths_and_table_defaults_without_environment(self, table: list[str]) -> None:
        args, hp = parse_args(table, {})
        assert hp == DEFAULTS
        assert args.train == Path("/opt/ml/input/data/train")
        assert args.transform == Path("/opt/ml/input/data/transform")
        assert args.model_dir == Path("/opt/ml/model")
        assert args.spec == BUNDLED_SPEC

    def test_the_spec_and_table_default_to_the_bundle_root(self) -> None:
        """The bundle's layout (sagemaker_code.definition.bundle): both files next to the sagemaker_code package, so
        /opt/ml/code/<file> where script mode unpacks the bundle."""
        root = Path(train_module.__file__).resolve().parents[2]
        assert root / "sagemaker_code" / "steps" / "train.py" == Path(train_module.__file__).resolve()
        assert root / contract.SPEC_FILE == BUNDLED_SPEC
        assert root / contract.HYPERPARAMETER_TABLE == BUNDLED_HYPERPARAMETER_TABLE

    def test_without_a_table_it_says_which_file_is_missing(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert not BUNDLED_HYPERPARAMETER_TABLE.exists()  # the repository is not an unpacked bundle
        with pytest.raises(SystemExit) as info:
            parse_args([], {})
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"hyperparameter table not found: {BUNDLED_HYPERPARAMETER_TABLE}" in err
        assert "--hyperparameter-table" in err

    def test_help_works_without_a_table(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            parse_args(["--help"], {})
        assert info.value.code == 0
        assert "--hyperparameter-table" in capsys.readouterr().out

    def test_help_lists_every_hyperparameter_with_its_bounds(
        self, table: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit):
            parse_args([*table, "--help"], {})
        out = " ".join(capsys.readouterr().out.split())
        for row in hyperparameter_table():
            assert f"--{row.name} {row.kind.__name__.upper()} {row.description}" in out
        assert "Learning rate. (in (0, 1]; default 0.1)" in out

    def test_sm_hps_gives_the_defaults_and_arguments_win(self, table: list[str]) -> None:
        environ = {"SM_HPS": json.dumps({"max_depth": 6, "eta": "0.3", "sagemaker_program": "train.py"})}
        _, hp = parse_args(["--eta", "0.2", *table], environ)
        assert (hp["max_depth"], hp["eta"]) == (6, 0.2)

    @pytest.mark.parametrize(
        ("argv", "environ", "message"),
        [
            (["--eta", "1.5"], {}, "--eta must be in (0, 1], got 1.5"),
            (["--max_depth", "0", "--subsample", "0"], {}, "--max_depth must be in [1, 20], got 0; --subsample must"),
            (["--num_round", "10001"], {}, "--num_round must be in [1, 10000], got 10001"),
            (["--min_child_weight", "-1"], {}, "--min_child_weight must be at least 0, got -1.0"),
            (["--seed", "-1"], {}, "--seed must be at least 0, got -1"),
            (["--max_depth", "4.5"], {}, "argument --max_depth: invalid int value: '4.5'"),
            (["--max_dept", "4"], {}, "unrecognized arguments: --max_dept 4"),
            ([], {"SM_HPS": '{"num_round": "many"}'}, "SM_HPS: num_round must be a whole number, got 'many'"),
            ([], {"SM_HPS": '{"max_depth": 4.5}'}, "SM_HPS: max_depth must be a whole number, got 4.5"),
            ([], {"SM_HPS": "[4]"}, "SM_HPS must be a JSON object, got list"),
        ],
    )
    def test_bad_hyperparameters(
        self,
        table: list[str],
        argv: list[str],
        environ: dict[str, str],
        message: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        with pytest.raises(SystemExit) as info:
            parse_args([*argv, *table], environ)
        assert info.value.code == 2
        assert message in capsys.readouterr().err

    def test_a_malformed_table_is_named(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        data = table_json(hyperparameter_table())
        rows = data["hyperparameters"]
        assert isinstance(rows, list)
        rows[1]["type"] = "string"
        path = tmp_path / "hyperparameters.json"
        path.write_text(json.dumps(data))
        with pytest.raises(SystemExit) as info:
            parse_args(["--hyperparameter-table", str(path)], {})
        assert info.value.code == 2
        assert f"{path}: hyperparameters[1] (eta): type must be one of ['integer', 'number'], got 'string'" in (
            capsys.readouterr().err
        )

    def test_a_row_added_to_the_table_is_an_argument_and_reaches_xgboost(self, tmp_path: Path) -> None:
        """One definition: a hyperparameter added to the config model needs no edit of the training step."""
        data = table_json(hyperparameter_table())
        rows = data["hyperparameters"]
        assert isinstance(rows, list)
        rows.append({"name": "gamma", "type": "number", "default": 0, "description": "Split loss.", "minimum": 0})
        path = tmp_path / "hyperparameters.json"
        path.write_text(json.dumps(data))
        _, hp = parse_args(["--hyperparameter-table", str(path), "--gamma", "0.5"], {})
        assert hp == {**DEFAULTS, "gamma": 0.5}
        params = xgboost_params(hp)
        assert params["gamma"] == 0.5
        assert "num_round" not in params  # the loop's, not the booster's
        assert "early_stopping_rounds" not in params


class TestModelFolder:
    def test_layout_and_report(self, sample_run: PipelineRun) -> None:
        files = sorted(p.relative_to(sample_run.model).as_posix() for p in sample_run.model.rglob("*") if p.is_file())
        assert files == [
            "code/inference.py",
            "code/sagemaker_code/__init__.py",
            "code/sagemaker_code/steps/__init__.py",
            "code/sagemaker_code/steps/transform.py",
            "comparison/transform.json",  # the other bias mitigation's model: the spec has facets
            "comparison/xgboost-model.json",
            "training.json",
            "transform.json",
            "xgboost-model.json",
        ]
        model_transform = json.loads((sample_run.model / "transform.json").read_text())
        fitted = json.loads((sample_run.data / "transform" / "transform.json").read_text())
        assert fitted["label"]["decision_threshold"] is None  # the preprocess output: not a model's yet
        report = json.loads((sample_run.model / "training.json").read_text())
        fitted["label"]["decision_threshold"] = report["decision_threshold"]["value"]
        assert model_transform == fitted  # the fitted transform plus the model's threshold
        booster = xgb.Booster(model_file=str(sample_run.model / "xgboost-model.json"))
        assert booster.num_boosted_rounds() == report["best_round"] + 1  # only the best round's trees are kept
        assert report["rounds_trained"] == report["best_round"] + 31  # early stopping: 30 rounds without a gain
        assert booster.feature_names is not None
        assert len(booster.feature_names) == report["features"] == 61
        assert report["rows"] == {"train": 700, "validation": 150}
        assert report["hyperparameters"] == DEFAULTS

    def test_code_folder_is_self_contained(self, sample_run: PipelineRun, tmp_path: Path) -> None:
        """The serving code runs with nothing but code/ on the path (no repository, no spec file)."""
        script = (
            "import sys; sys.path.insert(0, sys.argv[1]); import inference; "
            "m = inference.model_fn(sys.argv[2]); "
            "print(inference.transform_fn(m, sys.stdin.read(), 'text/csv', 'application/json')[0]); "
            "print(sorted(name for name in sys.modules if name.startswith('sagemaker_code')))"
        )
        rows = (sample_run.data / "test" / "test_raw.csv").read_text().splitlines()[1:4]
        features = "\n".join(row.rsplit(",", 1)[0] for row in rows)  # without the label
        result = subprocess.run(
            [sys.executable, "-I", "-c", script, str(sample_run.model / "code"), str(sample_run.model)],
            input=features,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=True,
        )
        body, modules = result.stdout.splitlines()
        predictions = json.loads(body)["predictions"]
        assert len(predictions) == 3
        threshold = json.loads((sample_run.model / "transform.json").read_text())["label"]["decision_threshold"]
        assert [p["label"] for p in predictions] == ["1" if p["probability"] >= threshold else "2" for p in predictions]
        assert modules == "['sagemaker_code', 'sagemaker_code.steps', 'sagemaker_code.steps.transform']"


def validation_probabilities(run: PipelineRun, model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    labels, features = read_xgboost_csv(run.data / "validation" / "validation.csv", "validation")
    booster = xgb.Booster(model_file=str(model_dir / "xgboost-model.json"))
    names = json.loads((model_dir / "transform.json").read_text())["feature_names"]
    probabilities: np.ndarray = booster.predict(xgb.DMatrix(features, feature_names=names))
    return labels, probabilities


class TestDecisionThreshold:
    def test_least_cost_on_the_validation_split(self, sample_run: PipelineRun, spec: DatasetSpec) -> None:
        labels, probabilities = validation_probabilities(sample_run, sample_run.model)
        chosen = sample_run.training_json()["decision_threshold"]
        assert isinstance(chosen, dict)
        assert chosen["source"] == "cost_on_validation"
        expected = cost_optimal_threshold(labels, probabilities, 5, 1)
        assert chosen["value"] == expected.threshold
        assert chosen["validation_cost_per_row"] == pytest.approx(expected.cost)
        at_half = expected_cost(labels, probabilities >= 0.5, 5, 1)
        assert chosen["validation_cost_per_row"] < at_half  # the point of choosing: 0.5 ignores the costs
        assert chosen["validation_constant_costs"] == {"accept_all": pytest.approx(1.5), "reject_all": 0.7}
        transform = json.loads((sample_run.model / "transform.json").read_text())
        assert transform["label"]["decision_threshold"] == chosen["value"]  # what serving decides with

    def test_a_fixed_threshold_in_the_spec_is_used_as_it_is(self, sample_run: PipelineRun, tmp_path: Path) -> None:
        label = {"column": "credit_risk", "values": ["1", "2"], "positive": "1", "decision_threshold": 0.6}
        spec = load_spec(write_spec_json(tmp_path / "spec.json", label=label))
        report = train(*folders(sample_run), tmp_path / "model", FAST, spec=spec)
        chosen = report["decision_threshold"]
        assert isinstance(chosen, dict)
        assert (chosen["value"], chosen["source"]) == (0.6, "spec")
        labels, probabilities = validation_probabilities(sample_run, tmp_path / "model")
        assert chosen["validation_cost_per_row"] == pytest.approx(expected_cost(labels, probabilities >= 0.6, 5, 1))
        assert json.loads((tmp_path / "model" / "transform.json").read_text())["label"]["decision_threshold"] == 0.6

    def test_the_cost_matrix_moves_the_threshold(self, sample_run: PipelineRun, tmp_path: Path) -> None:
        """Make false rejections the expensive error: the threshold drops below the 5:1 one."""
        spec = load_spec(
            write_spec_json(tmp_path / "spec.json", cost_matrix={"false_positive": 1, "false_negative": 5})
        )
        report = train(*folders(sample_run), tmp_path / "model", DEFAULTS, spec=spec)
        chosen, default = report["decision_threshold"], sample_run.training_json()["decision_threshold"]
        assert isinstance(chosen, dict)
        assert isinstance(default, dict)
        assert chosen["value"] < 0.5 < default["value"]

    def test_a_transform_of_another_spec_is_refused(self, sample_run: PipelineRun, tmp_path: Path) -> None:
        spec = load_spec(write_spec_json(tmp_path / "spec.json", name="other-data"))
        with pytest.raises(
            StepError, match=r"was fitted for the dataset spec 'german-credit', the spec is 'other-data'"
        ):
            train(*folders(sample_run), tmp_path / "model", FAST, spec=spec)


class TestTraining:
    def test_logs_validation_auc_for_the_metric_definition(
        self, sample_run: PipelineRun, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        spec = load_spec(write_spec_json(tmp_path / "spec.json", facets=[]))  # one model: one series of rounds
        with caplog.at_level(logging.INFO, logger="sagemaker_code.steps.train"):
            report = train(*folders(sample_run), tmp_path / "model", FAST, spec=spec)
        values = re.findall(r"validation-auc:([0-9.]+)", caplog.text)
        rounds = report["rounds_trained"]
        assert isinstance(rounds, int)
        assert len(values) == rounds + 1  # one per round, and the best one at the end
        assert float(values[-1]) == pytest.approx(report["validation_auc"], abs=1e-6)
        assert "train-auc:" in caplog.text

    def test_two_runs_give_identical_models(self, sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
        # the same threads (training.json records them; by default they follow how busy the machine is right now)
        train(*folders(sample_run), tmp_path / "a", FAST, spec=spec, threads=2)
        train(*folders(sample_run), tmp_path / "b", FAST, spec=spec, threads=2)
        for name in ("xgboost-model.json", "training.json", "transform.json"):
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    def test_another_seed_gives_another_model(self, sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
        train(*folders(sample_run), tmp_path / "a", FAST, spec=spec)
        other = {**FAST, "seed": 7}
        train(*folders(sample_run), tmp_path / "b", other, spec=spec)
        assert (tmp_path / "a" / "xgboost-model.json").read_bytes() != (
            tmp_path / "b" / "xgboost-model.json"
        ).read_bytes()

    def test_data_and_transform_of_different_runs(
        self, sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path
    ) -> None:
        transform = json.loads((sample_run.data / "transform" / "transform.json").read_text())
        transform["columns"] = transform["columns"][1:]
        transform["feature_names"] = transform["feature_names"][4:]
        (tmp_path / "transform").mkdir()
        (tmp_path / "transform" / "transform.json").write_text(json.dumps(transform))
        with pytest.raises(StepError, match=r"train\.csv has 61 features, the transform makes 57: the data and the"):
            train(
                sample_run.data / "train",
                sample_run.data / "validation",
                tmp_path / "transform",
                tmp_path,
                FAST,
                spec=spec,
            )

    def test_main_reports_a_missing_channel(
        self, sample_run: PipelineRun, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        argv = ["--train", str(tmp_path / "nope"), "--validation", str(sample_run.data / "validation")]
        argv += ["--transform", str(sample_run.data / "transform"), "--model-dir", str(tmp_path / "model")]
        argv += ["--spec", str(sample_run.spec_path), "--hyperparameter-table", str(sample_run.hyperparameter_table)]
        assert main(argv) == 1
        assert f"train failed: train data not found: {tmp_path / 'nope' / 'train.csv'}" in caplog.text
        assert not (tmp_path / "model").exists()  # nothing half-written

    def test_a_split_in_part_files_trains_the_same_model(
        self, sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path
    ) -> None:
        """Preprocess may write a split as part files (the train channel is sharded by S3 key over instances)."""
        lines = (sample_run.data / "train" / "train.csv").read_text().splitlines(keepends=True)
        parts = tmp_path / "train"
        parts.mkdir()
        (parts / "part-00000.csv").write_text("".join(lines[:300]))
        (parts / "part-00001.csv").write_text("".join(lines[300:]))
        _, validation, transform = folders(sample_run)
        report = train(parts, validation, transform, tmp_path / "parts", FAST, spec=spec)
        train(*folders(sample_run), tmp_path / "one", FAST, spec=spec)
        assert report["rows"] == {"train": 700, "validation": 150}
        assert (tmp_path / "parts" / "xgboost-model.json").read_bytes() == (
            tmp_path / "one" / "xgboost-model.json"
        ).read_bytes()

    def test_threads_are_the_cpus_available(
        self, sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        used: list[object] = []
        real = xgb.train

        def spy(params: dict[str, object], *args: object, **kwargs: object) -> xgb.Booster:
            used.append(params["nthread"])
            return real(params, *args, **kwargs)

        monkeypatch.setattr(train_module, "available_cpus", lambda: 1)
        monkeypatch.setattr(xgb, "train", spy)
        assert train(*folders(sample_run), tmp_path / "model", FAST, spec=spec)["threads"] == 1
        assert used == [1, 1]  # both models (the spec has facets)


class TestBiasMitigation:
    def test_both_models_are_trained_and_named(self, sample_run: PipelineRun) -> None:
        report = sample_run.training_json()["bias_mitigation"]
        assert isinstance(report, dict)
        assert (report["served"], report["comparison"]) == ("none", "reweighing")
        models = report["models"]
        assert isinstance(models, dict)
        assert set(models) == {"none", "reweighing"}
        assert sample_run.training_json()["decision_threshold"] == models["none"]["decision_threshold"]
        threshold = json.loads((sample_run.model / "comparison" / "transform.json").read_text())["label"]
        assert threshold["decision_threshold"] == models["reweighing"]["decision_threshold"]["value"]
        weights = report["reweighing_weights"]
        assert isinstance(weights, list)
        assert sum(row["rows"] for row in weights) == 700
        assert all(row["weight"] > 0 for row in weights)

    def test_serving_reweighing_swaps_the_models(
        self, sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path
    ) -> None:
        """The comparison model is the model that reweighing serves, and the reverse: same splits, same training."""
        report = train(*folders(sample_run), tmp_path / "model", DEFAULTS, spec=spec, mitigation="reweighing")
        mitigation = report["bias_mitigation"]
        assert isinstance(mitigation, dict)
        assert (mitigation["served"], mitigation["comparison"]) == ("reweighing", "none")
        for served, compared in (
            ("xgboost-model.json", "comparison/xgboost-model.json"),
            ("transform.json", "comparison/transform.json"),
        ):
            assert (tmp_path / "model" / served).read_bytes() == (sample_run.model / compared).read_bytes()
            assert (tmp_path / "model" / compared).read_bytes() == (sample_run.model / served).read_bytes()

    def test_reweighing_changes_the_model(self, sample_run: PipelineRun) -> None:
        assert (sample_run.model / "xgboost-model.json").read_bytes() != (
            sample_run.model / "comparison" / "xgboost-model.json"
        ).read_bytes()

    def test_without_facets_only_the_served_model_is_trained(self, sample_run: PipelineRun, tmp_path: Path) -> None:
        spec = load_spec(write_spec_json(tmp_path / "spec.json", facets=[]))
        report = train(*folders(sample_run), tmp_path / "model", FAST, spec=spec, mitigation="reweighing")
        assert not (tmp_path / "model" / "comparison").exists()
        mitigation = report["bias_mitigation"]
        assert isinstance(mitigation, dict)
        assert (mitigation["served"], mitigation["comparison"], mitigation["reweighing_weights"]) == (
            "reweighing",
            None,
            [],
        )

    def test_the_argument_and_sm_hps(self, hyperparameter_table_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        table = ["--hyperparameter-table", str(hyperparameter_table_path)]
        assert parse_args(table, {})[0].bias_mitigation == "none"
        assert parse_args([*table, "--bias_mitigation", "reweighing"], {})[0].bias_mitigation == "reweighing"
        assert parse_args(table, {"SM_HPS": '{"bias_mitigation": "reweighing"}'})[0].bias_mitigation == "reweighing"
        for argv, environ, message in (
            (["--bias_mitigation", "fair"], {}, "argument --bias_mitigation: invalid choice: 'fair'"),
            (
                [],
                {"SM_HPS": '{"bias_mitigation": "fair"}'},
                "SM_HPS: bias_mitigation must be one of ['none', 'reweighing'], got 'fair'",
            ),
        ):
            with pytest.raises(SystemExit):
                parse_args([*table, *argv], environ)
            assert message in capsys.readouterr().err

    def test_an_unknown_mitigation_is_refused(self, sample_run: PipelineRun, spec: DatasetSpec, tmp_path: Path) -> None:
        with pytest.raises(StepError, match=r"bias mitigation must be one of \['none', 'reweighing'\], got 'fair'"):
            train(*folders(sample_run), tmp_path / "model", FAST, spec=spec, mitigation="fair")

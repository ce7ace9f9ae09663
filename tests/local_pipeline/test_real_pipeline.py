"""The real definition (built with the SageMaker SDK) run on the shipped German credit sample with the real step
code: the gates decide as gates.json says, and registration carries the lineage.
"""

from __future__ import annotations

import copy
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_pipeline.cli import main
from local_pipeline.errors import DefinitionError
from local_pipeline.execution import RunResult
from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import run

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_definition() -> dict[str, Any]:
    from sagemaker_code.definition.build import Hyperparameters, PipelineSettings, Sentinels, build_definition

    settings = PipelineSettings(
        pipeline_name="t-model-build",
        region="eu-west-1",
        model_package_group_name="t-models",
        dataset_name="german-credit",
        default_input_uri=Sentinels().sample_data_uri,
        facets=("age", "sex"),
        hyperparameters=Hyperparameters(num_round=50),
    )
    definition: dict[str, Any] = json.loads(build_definition(settings))
    return definition


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from config.dataset_spec import DatasetSpec
    from sagemaker_code.definition.bundle import write_bundle

    raw = yaml.safe_load((REPO_ROOT / "config" / "datasets" / "german_credit.yaml").read_text())
    spec = DatasetSpec.model_validate(raw).model_dump(mode="json")
    return write_bundle(tmp_path_factory.mktemp("bundle"), spec)


@pytest.fixture
def real_s3(tmp_path: Path, real_bundle: Path) -> LocalS3:
    from sagemaker_code.definition.build import Sentinels

    sentinels = Sentinels()
    return LocalS3(
        tmp_path / "s3",
        {
            sentinels.code_uri: real_bundle,
            sentinels.sample_data_uri: REPO_ROOT / "data" / "german_credit" / "german.data",
        },
    )


GATE_ORDER = (
    ("quality", "QualityGate", "QualityGateFailed"),
    ("cost", "CostGate", "CostGateFailed"),
    ("bias", "BiasGate", "BiasGateFailed"),
)


def gate_file(result: RunResult, s3: LocalS3) -> dict[str, Any]:
    """The Evaluate step's gates.json of this run (what the condition and Fail steps read)."""
    data: dict[str, Any] = json.loads(s3.get(gate_file_uri(result)).read_text())
    return data


def gate_file_uri(result: RunResult) -> str:
    outputs = result.properties["Evaluate"]["ProcessingOutputConfig"]["Outputs"]
    (gates,) = [o for o in outputs if o["OutputName"] == "gates"]
    return f"{gates['S3Output']['S3Uri']}/gates.json"


def walk(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step of a definition, the condition steps' branches included."""
    found = []
    for step in steps:
        found.append(step)
        for branch in ("IfSteps", "ElseSteps"):
            found += walk(step.get("Arguments", {}).get(branch, []))
    return found


def remove_step(steps: list[dict[str, Any]], name: str) -> bool:
    """Remove the step ``name`` wherever it is (the parameter check holds the others in its IfSteps)."""
    for index, step in enumerate(steps):
        if step["Name"] == name:
            del steps[index]
            return True
        if any(remove_step(step.get("Arguments", {}).get(branch, []), name) for branch in ("IfSteps", "ElseSteps")):
            return True
    return False


def assert_follows_the_gate_file(result: RunResult, gates: dict[str, Any]) -> None:
    """Each gate's branch follows `passed`; a run ends in the first failing gate's Fail step, with its message."""
    taken = {gate.step: gate.branch for gate in result.gates}
    for key, step, failed in GATE_ORDER:
        assert taken[step] == ("IfSteps" if gates[key]["passed"] == 1 else "ElseSteps"), step
        if gates[key]["passed"] != 1:
            assert result.status == "Failed"
            assert result.failure_reason == gates[key]["message"]
            assert result.steps[-1].name == failed
            assert result.registered is None
            return
    assert result.status == "Succeeded", result.summary()
    assert result.registered is not None


def test_real_pipeline_registers_when_every_gate_passes(
    real_definition: dict[str, Any], real_s3: LocalS3, tmp_path: Path
) -> None:
    """Registration with its lineage. The DI lower bound is relaxed: on the shipped sample the model decides at its
    cost-optimal threshold and fails the four-fifths rule (test_real_pipeline_with_the_shipped_gates shows it)."""
    result = run(
        real_definition,
        real_s3,
        tmp_path / "run",
        DisparateImpactLower="0.2",
        ModelBuildFingerprint="sha256-abc",
        GitCommit="0123abc-dirty",  # what `python -m local_pipeline` sets from the working tree (test_commit.py)
    )
    assert result.status == "Succeeded", result.summary()
    assert [r.name for r in result.steps] == [
        "CheckParameters",
        "Preprocess",
        "Train",
        "Evaluate",
        "QualityGate",
        "CostGate",
        "BiasGate",
        "Register",
    ]
    assert [(g.step, g.branch) for g in result.gates] == [
        ("CheckParameters", "IfSteps"),
        ("QualityGate", "IfSteps"),
        ("CostGate", "IfSteps"),
        ("BiasGate", "IfSteps"),
    ]
    gates = gate_file(result, real_s3)
    assert_follows_the_gate_file(result, gates)
    assert [message for _, message in result.gate_messages] == [gates[key]["message"] for key, _, _ in GATE_ORDER]
    assert result.metrics is not None
    auc = result.metrics["binary_classification_metrics"]["auc"]["value"]
    assert 0.5 < auc <= 1
    assert result.registered is not None
    assert (result.registered.group, result.registered.version, result.registered.status) == (
        "t-models",
        1,
        "PendingManualApproval",
    )
    package = json.loads(result.registered.path.read_text())
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["Content"] == result.metrics
    bias_report = package["ModelMetrics"]["Bias"]["Report"]["Content"]
    assert set(bias_report["post_training_bias_metrics"]["facets"]) == {"facet_age", "facet_sex"}
    config = package["DriftCheckBaselines"]["Bias"]["ConfigFile"]["Content"]
    assert [f["name_or_index"] for f in config["facet"]] == ["facet_age", "facet_sex"]
    metadata = package["CustomerMetadataProperties"]
    assert metadata["dataset_rows"] == "1000"
    assert metadata["model_build_fingerprint"] == "sha256-abc"
    assert metadata["git_commit"] == "0123abc-dirty"
    assert metadata["dataset_name"] == "german-credit"
    assert metadata["bias_mitigation"] == "none"
    test_rows = real_s3.get(metadata["test_data_uri"])  # the held-out rows a deployment's smoke test sends
    assert test_rows.read_text().splitlines()[0].startswith("checking_status,duration_months,")
    assert float(metadata["decision_threshold"]) == result.metrics["decision_threshold"] == gates["decision_threshold"]
    (container,) = package["InferenceSpecification"]["Containers"]
    with tarfile.open(container["ModelDataLocalPath"], "r:gz") as archive:
        assert {"xgboost-model.json", "transform.json", "training.json", "code/inference.py"} <= set(archive.getnames())
        transform = json.loads(archive.extractfile("transform.json").read())  # type: ignore[union-attr]
        training = json.loads(archive.extractfile("training.json").read())  # type: ignore[union-attr]
    # serving decides with the threshold in the artifact; it is the one chosen on the validation split
    assert transform["label"]["decision_threshold"] == float(metadata["decision_threshold"])
    assert training["decision_threshold"]["source"] == "cost_on_validation"


def test_real_pipeline_with_the_shipped_gates(
    real_definition: dict[str, Any], real_s3: LocalS3, tmp_path: Path
) -> None:
    """The sample under the shipped gate settings: the run follows gates.json, and the cost gate passes (issue 7
    item 9: at threshold 0.5 the model cost 0.99 per test row against 0.70 for rejecting everyone)."""
    result = run(real_definition, real_s3, tmp_path / "run")
    gates = gate_file(result, real_s3)
    assert_follows_the_gate_file(result, gates)
    assert gates["cost"]["passed"] == 1, gates["cost"]["message"]
    assert gates["cost"]["model_cost_per_row"] < gates["cost"]["limit"] < 0.70
    for facet in ("age", "sex"):
        di = gates["bias"]["facets"][facet]["disparate_impact"]
        assert gates["bias"]["facets"][facet]["passed"] == int(0.8 <= di <= 1.25)
        assert f"facet '{facet}' (" in gates["bias"]["message"]


def test_real_pipeline_quality_gate_fails_with_the_auc(
    real_definition: dict[str, Any], real_s3: LocalS3, tmp_path: Path
) -> None:
    result = run(real_definition, real_s3, tmp_path / "run", AucThreshold="0.99")
    assert result.status == "Failed"
    assert result.metrics is not None
    auc = result.metrics["binary_classification_metrics"]["auc"]["value"]
    interval = result.metrics["confidence_intervals"]["auc"]
    assert result.failure_reason == (
        f"Quality gate failed: test AUC {auc:.3f} (95% interval {interval['lower']:.3f} to {interval['upper']:.3f}) "
        "is below the threshold 0.99"
    )
    assert result.steps[-1].name == "QualityGateFailed"
    assert result.registered is None
    assert "CostGate" in result.not_executed


def test_real_pipeline_cost_gate_fails_naming_both_costs(
    real_definition: dict[str, Any], real_s3: LocalS3, tmp_path: Path
) -> None:
    result = run(real_definition, real_s3, tmp_path / "run", CostMargin="0.9")  # the largest margin config allows
    assert result.status == "Failed"
    assert result.steps[-1].name == "CostGateFailed"
    gates = gate_file(result, real_s3)
    assert result.failure_reason == gates["cost"]["message"]
    cost = gates["cost"]["model_cost_per_row"]
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(f"Cost gate failed: the model costs {cost:.3f} per test row (95% interval")
    assert result.failure_reason.endswith(
        "rejecting everyone (credit_risk=2 for every row) costs 0.700; it must cost at most 0.070 (margin 90%)"
    )


def test_real_pipeline_bias_gate_fails_on_a_biased_dataset(
    real_definition: dict[str, Any], real_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every female applicant (personal_status_sex A92/A95) labelled bad credit: the model learns it, DI(sex) ~ 0."""
    rows = [line.split(" ") for line in (REPO_ROOT / "data" / "german_credit" / "german.data").read_text().splitlines()]
    biased = tmp_path / "biased.data"
    biased.write_text(
        "".join(" ".join([*row[:-1], "2" if row[8] in {"A92", "A95"} else row[-1]]) + "\n" for row in rows)
    )
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(real_definition))
    from sagemaker_code.definition.build import Sentinels

    argv = ["--definition", str(definition), "--workspace", str(tmp_path / "ws"), "--input", str(biased)]
    argv += ["--param", "AucThreshold=0.5", "--param", "CostMargin=0"]  # so that the run reaches the bias gate
    assert main([*argv, "--s3-object", f"{Sentinels().code_uri}={real_bundle}"]) == 1
    out = capsys.readouterr().out
    assert "BiasGateFailed" in out
    assert "Failure: Bias gate failed: disparate impact must be within [0.8, 1.25]; facet '" in out
    # both failing facets are named (the second in its short form when the full one does not fit 1,024 characters)
    sex = re.search(r"facet 'sex'(?: \(personal_status_sex\))?: DI ([-+0-9.e]+) ", out)
    assert sex is not None
    assert float(sex.group(1)) < 0.8
    assert re.search(r"group \d+ of 150(?: test rows \(|, )label positive rate 0\.000", out)
    assert "more facets in gates.json" not in out


def test_real_pipeline_empty_facet_group_fails_the_bias_gate_readably(
    real_definition: dict[str, Any], real_s3: LocalS3, tmp_path: Path
) -> None:
    """No applicant aged 25 or less: DI of 'age' is undefined, which is a failed gate with a message, not an error."""
    rows = [line.split(" ") for line in (REPO_ROOT / "data" / "german_credit" / "german.data").read_text().splitlines()]
    older = tmp_path / "older.data"
    older.write_text("".join(" ".join([*row[:12], str(max(int(row[12]), 26)), *row[13:]]) + "\n" for row in rows))
    real_s3.objects["s3://local-input/older.data"] = older
    result = run(
        real_definition,
        real_s3,
        tmp_path / "run",
        InputDataUri="s3://local-input/older.data",
        AucThreshold="0.5",
        CostMargin="0",
    )
    assert result.status == "Failed", result.summary()
    assert result.steps[-1].name == "BiasGateFailed"
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(
        "Bias gate failed: disparate impact must be within [0.8, 1.25]; facet 'age': the disadvantaged group has no "
        "rows in the test split (0 of 150); "
    )
    assert gate_file(result, real_s3)["bias"]["facets"]["age"]["disparate_impact"] is None


def test_real_pipeline_without_favourable_predictions_fails_the_bias_gate_readably(
    real_definition: dict[str, Any], real_s3: LocalS3, tmp_path: Path
) -> None:
    """A spec that fixes the threshold at 0.999: nobody is predicted favourable, so DI is 0/0 for every facet."""
    from config.dataset_spec import DatasetSpec
    from sagemaker_code.definition.build import Sentinels
    from sagemaker_code.definition.bundle import write_bundle

    raw = yaml.safe_load((REPO_ROOT / "config" / "datasets" / "german_credit.yaml").read_text())
    raw["label"]["decision_threshold"] = 0.999
    spec = DatasetSpec.model_validate(raw).model_dump(mode="json")
    real_s3.objects[Sentinels().code_uri] = write_bundle(tmp_path / "bundle", spec)
    result = run(real_definition, real_s3, tmp_path / "run", CostMargin="0")  # rejecting all costs what it costs
    assert result.status == "Failed", result.summary()
    assert result.steps[-1].name == "BiasGateFailed"
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(
        "Bias gate failed: disparate impact must be within [0.8, 1.25]; facet 'age': disparate impact is undefined: "
        "the model predicts credit_risk=1 for none of the 123 test rows outside the disadvantaged group; "
    )
    assert "facet 'sex': disparate impact is undefined" in result.failure_reason
    assert result.metrics is not None
    assert result.metrics["decision_threshold"] == 0.999  # the spec's fixed override, used as it is


def test_real_pipeline_follows_the_definition(
    real_definition: dict[str, Any], real_s3: LocalS3, tmp_path: Path
) -> None:
    without_evaluate = copy.deepcopy(real_definition)
    assert remove_step(without_evaluate["Steps"], "Evaluate")
    with pytest.raises(
        DefinitionError, match=re.escape("step QualityGate reads Steps.Evaluate.PropertyFiles.Gates, but")
    ):
        run(without_evaluate, real_s3, tmp_path / "removed")

    renamed = copy.deepcopy(real_definition)
    (preprocess,) = [s for s in walk(renamed["Steps"]) if s["Name"] == "Preprocess"]
    (train_output,) = [
        o for o in preprocess["Arguments"]["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == "train"
    ]
    train_output["OutputName"] = "training"
    result = run(renamed, real_s3, tmp_path / "renamed")
    assert result.status == "Failed"
    assert [r.name for r in result.steps] == ["CheckParameters", "Preprocess", "Train"]
    assert result.failure_reason is not None
    assert result.failure_reason.startswith("step Train (Training) failed: Get Steps.Preprocess.ProcessingOutputConfig")
    assert "no element named 'train'" in result.failure_reason
    assert "'training'" in result.failure_reason

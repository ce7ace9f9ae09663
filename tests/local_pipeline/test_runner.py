"""The local pipeline runner: expressions, conditions, parameters, local S3, planning, step executors, registry, CLI.

Part 1 runs small hand-written definitions whose steps are tiny scripts bundled in a tmp dir (independent of the real
step code). Part 2 runs the real definition (built with the SageMaker SDK) on the shipped German credit sample.
"""

from __future__ import annotations

import copy
import io
import json
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_pipeline.runner import (
    DefinitionError,
    ExpressionError,
    LocalModelRegistry,
    LocalS3,
    ParameterError,
    PathToken,
    PropertyFileRef,
    RunResult,
    S3Error,
    Scope,
    as_text,
    evaluate_condition,
    image_repository,
    main,
    parse_json_path,
    parse_property_path,
    plan,
    relative_key,
    resolve,
    resolve_parameters,
    rewrite_container_paths,
    run_pipeline,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
XGBOOST_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0"
CLARIFY_IMAGE = "131013547314.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-clarify-processing:1.0"
CODE_URI = "s3://code-bucket/assets/0123abcd.gz"
DATA_URI = "s3://data-bucket/input/"
OUT_ROOT = "s3://out-bucket/runs"

# ---- tiny step code ----------------------------------------------------------------------------------------------

EMIT = """\
import argparse, json, os, sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--input")
parser.add_argument("--output")
parser.add_argument("--score", type=float)
args = parser.parse_args()
files = sorted(p.relative_to(args.input).as_posix() for p in Path(args.input).rglob("*") if p.is_file())
folder = Path(args.output) / "metrics"
folder.mkdir(parents=True, exist_ok=True)
report = {
    "quality": {"score": {"value": args.score}},
    "files": files,
    "python": sys.executable,
    "step_env": os.environ.get("STEP_ENV"),
}
(folder / "metrics.json").write_text(json.dumps(report))
print("emitted", args.score)
"""

FAIL = """\
import sys
print("about to fail")
print("boom: the input is bad", file=sys.stderr)
sys.exit(3)
"""

TRAIN_LAUNCHER = """\
import json, os, sys
from pathlib import Path

model = Path(os.environ["SM_MODEL_DIR"])
report = {
    "argv": sys.argv[1:],
    "hps": json.loads(os.environ["SM_HPS"]),
    "channels": json.loads(os.environ["SM_CHANNELS"]),
    "train_files": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])),
    "hp_max_depth": os.environ["SM_HP_MAX_DEPTH"],
    "num_cpus": os.environ["SM_NUM_CPUS"],
}
(model / "model.json").write_text(json.dumps(report))
"""

STEP_FILES = {
    "sagemaker_code/__init__.py": "",
    "sagemaker_code/emit.py": EMIT,
    "sagemaker_code/fail.py": FAIL,
    "train.py": TRAIN_LAUNCHER,
}


def write_tar(path: Path, files: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# ---- tiny definitions --------------------------------------------------------------------------------------------


def get(reference: str) -> dict[str, Any]:
    return {"Get": reference}


def join(*values: Any, on: str = "") -> dict[str, Any]:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def json_get(step: str, property_file: str, path: str) -> dict[str, Any]:
    return {"Std:JsonGet": {"PropertyFile": get(f"Steps.{step}.PropertyFiles.{property_file}"), "Path": path}}


def output_uri(step: str, name: str) -> dict[str, Any]:
    return join(OUT_ROOT, get("Execution.PipelineExecutionId"), step, name, on="/")


def step_output(step: str, name: str) -> dict[str, Any]:
    return get(f"Steps.{step}.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri")


def s3_input(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix"}}


def shell_entrypoint(module: str) -> list[str]:
    script = (
        "mkdir -p /opt/ml/code && tar -xzf /opt/ml/processing/input/code/* -C /opt/ml/code && "
        f'cd /opt/ml/code && exec python3 -m {module} "$@"'
    )
    return ["/bin/sh", "-c", script, module]


def processing_step(
    name: str,
    module: str | None,
    *,
    arguments: list[Any] | None = None,
    inputs: list[dict[str, Any]] | None = None,
    outputs: dict[str, str] | None = None,
    property_files: list[dict[str, str]] | None = None,
    image: str = XGBOOST_IMAGE,
    environment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    app: dict[str, Any] = {"ImageUri": image}
    code_inputs = []
    if module is not None:
        app["ContainerEntrypoint"] = shell_entrypoint(module)
        app["ContainerArguments"] = arguments or []
        code_inputs = [s3_input("code", CODE_URI, "/opt/ml/processing/input/code")]
    step: dict[str, Any] = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": app,
            "ProcessingInputs": code_inputs + (inputs or []),
            "ProcessingOutputConfig": {
                "Outputs": [
                    {"OutputName": out, "S3Output": {"S3Uri": output_uri(name, out), "LocalPath": local}}
                    for out, local in (outputs or {}).items()
                ]
            },
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}},
            "Environment": environment or {},
        },
        "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"},
    }
    if property_files:
        step["PropertyFiles"] = property_files
    return step


def emit_step(name: str = "Emit", score: str = "0.8") -> dict[str, Any]:
    return processing_step(
        name,
        "sagemaker_code.emit",
        arguments=[
            "--input",
            "/opt/ml/processing/input/data",
            "--output",
            "/opt/ml/processing/output",
            "--score",
            score,
        ],
        inputs=[s3_input("data", get("Parameters.InputDataUri"), "/opt/ml/processing/input/data")],
        outputs={"metrics": "/opt/ml/processing/output/metrics"},
        property_files=[{"PropertyFileName": "Metrics", "OutputName": "metrics", "FilePath": "metrics.json"}],
        environment={"STEP_ENV": "/opt/ml/processing/input/data"},
    )


def register_step() -> dict[str, Any]:
    report = join(step_output("Emit", "metrics"), "metrics.json", on="/")
    return {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": "tiny-models",
            "ModelApprovalStatus": get("Parameters.ApprovalStatus"),
            "InferenceSpecification": {
                "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": report, "Environment": {"A": "b"}}],
                "SupportedContentTypes": ["text/csv"],
            },
            "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report}}},
            "DriftCheckBaselines": {},
            "CustomerMetadataProperties": {
                "score": join(json_get("Emit", "Metrics", "quality.score.value")),
                "execution": get("Execution.PipelineExecutionId"),
            },
        },
    }


PARAMETERS: list[dict[str, Any]] = [
    {"Name": "InputDataUri", "Type": "String", "DefaultValue": DATA_URI},
    {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
    {"Name": "ApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"},
    {"Name": "Rounds", "Type": "Integer", "DefaultValue": 3},
    {"Name": "Strict", "Type": "Boolean", "DefaultValue": False},
]


def gated_definition(score: str = "0.8") -> dict[str, Any]:
    """The condition step comes first in the list: the runner must order by dependencies, not by position."""
    score_value = json_get("Emit", "Metrics", "quality.score.value")
    gate = {
        "Name": "Gate",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {"Type": "GreaterThanOrEqualTo", "LeftValue": score_value, "RightValue": get("Parameters.Threshold")}
            ],
            "IfSteps": [register_step()],
            "ElseSteps": [
                {
                    "Name": "GateFailed",
                    "Type": "Fail",
                    "Arguments": {
                        "ErrorMessage": join("score ", score_value, " is below ", get("Parameters.Threshold"))
                    },
                }
            ],
        },
    }
    return {"Version": "2020-12-01", "Parameters": PARAMETERS, "Steps": [gate, emit_step(score=score)]}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "bundle" / "sourcedir.tar.gz", STEP_FILES)


@pytest.fixture
def s3(tmp_path: Path, bundle: Path) -> LocalS3:
    local = LocalS3(tmp_path / "s3", {CODE_URI: bundle})
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("1,2\n")
    (data / "sub" / "b.csv").write_text("3,4\n")
    local.seed(DATA_URI, data)
    return local


def run(definition: dict[str, Any], s3: LocalS3, workspace: Path, **parameters: str) -> RunResult:
    return run_pipeline(
        definition, parameters=parameters, s3=s3, workspace=workspace, registry=workspace.parent / "registry"
    )


# ---- expressions ---------------------------------------------------------------------------------------------------


def scope_with_steps() -> Scope:
    return Scope(
        parameters={"Threshold": 0.75, "Name": "x"},
        execution={"PipelineExecutionId": "exec1", "PipelineName": "p"},
        steps={
            "Prep": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
                    ]
                },
                "Channels": [{"ChannelName": "c0"}, {"ChannelName": "c1"}],
            }
        },
        property_files={("Eval", "Evaluation"): {"metrics": {"auc": {"value": 0.81}}, "facets": [{"v": [1, 2]}]}},
    )


def test_join_renders_parameters_execution_variables_and_numbers() -> None:
    value = join(
        "s3://b/", get("Execution.PipelineExecutionId"), "/", get("Parameters.Threshold"), get("Parameters.Name")
    )
    assert resolve(value, scope_with_steps()) == "s3://b/exec1/0.75x"


def test_get_follows_named_list_elements_and_indexes() -> None:
    scope = scope_with_steps()
    assert resolve(step_output("Prep", "test"), scope) == "s3://b/test"
    assert resolve(get("Steps.Prep.Channels[1].ChannelName"), scope) == "c1"
    assert resolve({"nested": [get("Parameters.Name")]}, scope) == {"nested": ["x"]}


def test_get_of_a_missing_output_names_the_step_and_the_available_outputs() -> None:
    with pytest.raises(ExpressionError, match=r"step Prep has no such property.*'bias'.*\['train', 'test'\]"):
        resolve(step_output("Prep", "bias"), scope_with_steps())


def test_get_of_a_step_that_has_not_run_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="step Other has not run"):
        resolve(get("Steps.Other.ProcessingJobName"), scope_with_steps())


def test_json_get_reads_dotted_paths_with_indexes() -> None:
    scope = scope_with_steps()
    assert resolve(json_get("Eval", "Evaluation", "metrics.auc.value"), scope) == 0.81
    assert resolve(json_get("Eval", "Evaluation", "facets[0].v[1]"), scope) == 2


@pytest.mark.parametrize("path", ["metrics.f1.value", "facets[3].v", "metrics.auc.value.deeper"])
def test_json_get_of_a_missing_path_names_step_property_file_and_path(path: str) -> None:
    with pytest.raises(
        ExpressionError, match=re.escape(f"property file Evaluation of step Eval has no value at '{path}'")
    ):
        resolve(json_get("Eval", "Evaluation", path), scope_with_steps())


def test_a_property_file_reference_is_not_text() -> None:
    with pytest.raises(ExpressionError, match="only be read with Std:JsonGet"):
        as_text(PropertyFileRef("Eval", "Evaluation"))


def test_unknown_function_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="unsupported function Std:Frobnicate"):
        resolve({"Std:Frobnicate": {}}, scope_with_steps())


def test_property_and_json_paths_parse_into_tokens() -> None:
    assert parse_property_path(".ProcessingOutputConfig.Outputs['train'].S3Output[0]") == [
        PathToken("attr", "ProcessingOutputConfig"),
        PathToken("attr", "Outputs"),
        PathToken("key", "train"),
        PathToken("attr", "S3Output"),
        PathToken("index", 0),
    ]
    assert parse_json_path("a.facet_age[0].metrics[10].value") == [
        PathToken("attr", "a"),
        PathToken("attr", "facet_age"),
        PathToken("index", 0),
        PathToken("attr", "metrics"),
        PathToken("index", 10),
        PathToken("attr", "value"),
    ]
    with pytest.raises(ExpressionError, match="cannot parse"):
        parse_property_path(".Outputs[train]")


# ---- conditions ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "left", "right", "expected"),
    [
        ("GreaterThanOrEqualTo", 0.75, 0.75, True),
        ("GreaterThanOrEqualTo", 0.7, 0.75, False),
        ("GreaterThan", 0.75, 0.75, False),
        ("GreaterThan", 2, 1.5, True),
        ("LessThanOrEqualTo", 1.25, 1.25, True),
        ("LessThan", 1.25, 1.25, False),
        ("LessThan", 1, 1.25, True),
        ("Equals", 1, 1.0, True),
        ("Equals", "a", "b", False),
        ("Equals", True, 1, False),
    ],
)
def test_comparisons(kind: str, left: Any, right: Any, expected: bool) -> None:
    outcome = evaluate_condition({"Type": kind, "LeftValue": left, "RightValue": right}, scope_with_steps())
    assert outcome.outcome is expected
    assert outcome.values == (left, right)


def test_in_not_or_and_resolved_operands() -> None:
    scope = scope_with_steps()
    auc = json_get("Eval", "Evaluation", "metrics.auc.value")
    at_least = {"Type": "GreaterThanOrEqualTo", "LeftValue": auc, "RightValue": get("Parameters.Threshold")}
    outcome = evaluate_condition(at_least, scope)
    assert (outcome.outcome, outcome.values, outcome.text) == (True, (0.81, 0.75), "0.81 >= 0.75")
    assert evaluate_condition({"Type": "Not", "Expression": at_least}, scope).outcome is False
    member = {"Type": "In", "QueryValue": get("Parameters.Name"), "Values": ["y", "x"]}
    assert evaluate_condition(member, scope).outcome is True
    either = {"Type": "Or", "Conditions": [{"Type": "Not", "Expression": member}, at_least]}
    assert evaluate_condition(either, scope).outcome is True
    assert (
        evaluate_condition({"Type": "Or", "Conditions": [{"Type": "Not", "Expression": member}]}, scope).outcome
        is False
    )


def test_ordering_needs_numbers_and_unknown_condition_types_are_errors() -> None:
    with pytest.raises(ExpressionError, match="compares numbers"):
        evaluate_condition({"Type": "LessThan", "LeftValue": "0.5", "RightValue": 1}, scope_with_steps())
    with pytest.raises(ExpressionError, match="unsupported condition 'Between'"):
        evaluate_condition({"Type": "Between"}, scope_with_steps())


# ---- parameters ----------------------------------------------------------------------------------------------------


def test_parameters_take_defaults_and_typed_overrides() -> None:
    assert resolve_parameters(PARAMETERS, {}) == {
        "InputDataUri": DATA_URI,
        "Threshold": 0.5,
        "ApprovalStatus": "PendingManualApproval",
        "Rounds": 3,
        "Strict": False,
    }
    values = resolve_parameters(
        PARAMETERS, {"Threshold": "0.9", "Rounds": " 7", "Strict": "TRUE", "InputDataUri": "s3://x/"}
    )
    assert (values["Threshold"], values["Rounds"], values["Strict"], values["InputDataUri"]) == (
        0.9,
        7,
        True,
        "s3://x/",
    )
    assert isinstance(values["Rounds"], int)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Rounds", "2.5", "parameter Rounds is Integer: expected an integer, got '2.5'"),
        ("Threshold", "high", "parameter Threshold is Float: expected a number, got 'high'"),
        ("Threshold", "nan", "parameter Threshold is Float"),
        ("Strict", "yes", "parameter Strict is Boolean: expected true or false, got 'yes'"),
    ],
)
def test_badly_typed_overrides_name_the_parameter(name: str, value: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(PARAMETERS, {name: value})


def test_unknown_parameter_lists_the_declared_ones() -> None:
    with pytest.raises(ParameterError, match="unknown parameter Treshold; the definition declares: ApprovalStatus, "):
        resolve_parameters(PARAMETERS, {"Treshold": "1"})


def test_parameter_without_default_needs_a_value_and_enums_are_checked() -> None:
    declared = [{"Name": "Mode", "Type": "String", "EnumValues": ["a", "b"]}]
    with pytest.raises(ParameterError, match="Mode has no default"):
        resolve_parameters(declared, {})
    with pytest.raises(ParameterError, match=r"Mode must be one of \['a', 'b'\]"):
        resolve_parameters(declared, {"Mode": "c"})
    assert resolve_parameters(declared, {"Mode": "b"}) == {"Mode": "b"}


# ---- local S3 ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "key", "lands_as"),
    [
        ("runs/1/train", "runs/1/train/train.csv", "train.csv"),
        ("runs/1/train/", "runs/1/train/sub/a.csv", "sub/a.csv"),
        ("runs/1/model.tar.gz", "runs/1/model.tar.gz", "model.tar.gz"),
        ("assets/abc.gz", "assets/abc.gz", "abc.gz"),
        ("runs/1/tra", "runs/1/train/a.csv", "train/a.csv"),
        ("", "top/a.csv", "top/a.csv"),
    ],
)
def test_relative_key(prefix: str, key: str, lands_as: str) -> None:
    assert relative_key(prefix, key) == lands_as


def test_s3_prefix_download_keeps_paths_and_overrides_win(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.csv").write_text("a")
    (source / "sub" / "b.csv").write_text("b")
    assert s3.seed("s3://bkt/data/", source) == ["s3://bkt/data/a.csv", "s3://bkt/data/sub/b.csv"]
    elsewhere = tmp_path / "elsewhere.gz"
    elsewhere.write_text("asset")
    s3.objects["s3://bkt/data/c.gz"] = elsewhere
    s3.objects["s3://other/data/d.csv"] = elsewhere
    landed = s3.download("s3://bkt/data", tmp_path / "dst")
    assert sorted(p.relative_to(tmp_path / "dst").as_posix() for p in landed) == ["a.csv", "c.gz", "sub/b.csv"]
    assert (tmp_path / "dst" / "c.gz").read_text() == "asset"
    exact = s3.download("s3://bkt/data/c.gz", tmp_path / "one")
    assert [p.name for p in exact] == ["c.gz"]


def test_s3_errors_name_the_uri(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3", {"s3://b/folder-asset.zip": tmp_path})
    with pytest.raises(S3Error, match=r"no object at or under s3://b/missing/"):
        s3.download("s3://b/missing/", tmp_path / "dst")
    with pytest.raises(S3Error, match="mapped to the folder"):
        s3.get("s3://b/folder-asset.zip")
    with pytest.raises(S3Error, match="not an S3 URI"):
        s3.local_path("/local/file")
    with pytest.raises(S3Error, match="malformed"):
        s3.local_path("s3://b/../escape")


def test_map_objects_serves_local_files_without_copying(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3")
    data = tmp_path / "german.data"
    data.write_text("x")
    uri = s3.map_objects("s3://local-input/run1/", data)
    assert uri == "s3://local-input/run1/german.data"
    assert s3.get(uri) == data
    assert not (tmp_path / "s3").exists()


# ---- planning ------------------------------------------------------------------------------------------------------


def test_plan_orders_by_data_dependencies_and_depends_on() -> None:
    definition = gated_definition()
    late = {"Name": "Late", "Type": "Fail", "Arguments": {"ErrorMessage": "x"}, "DependsOn": ["Emit"]}
    definition["Steps"].insert(0, late)
    order = [node.name for node in plan(definition, resolve_parameters(PARAMETERS, {}))]
    assert order == ["Emit", "Late", "Gate", "Register", "GateFailed"]


def definition_error(definition: dict[str, Any]) -> str:
    with pytest.raises(DefinitionError) as caught:
        plan(definition, resolve_parameters(definition.get("Parameters", []), {}))
    return str(caught.value)


def test_unsupported_step_type_names_the_type_and_the_step() -> None:
    definition = gated_definition()
    definition["Steps"].append({"Name": "BatchScore", "Type": "Transform", "Arguments": {}})
    assert "step BatchScore has type 'Transform', which the local runner does not support" in definition_error(
        definition
    )


def test_references_to_missing_steps_property_files_and_parameters_are_errors() -> None:
    no_emit = gated_definition()
    no_emit["Steps"] = no_emit["Steps"][:1]
    assert (
        "step Gate reads Steps.Emit.PropertyFiles.Metrics, but the definition has no step 'Emit'"
        in definition_error(no_emit)
    )
    no_property_file = gated_definition()
    del no_property_file["Steps"][1]["PropertyFiles"]
    assert "step Gate reads property file 'Metrics' of step Emit, which declares no property files" in definition_error(
        no_property_file
    )
    bad_path = gated_definition()
    bad_path["Steps"][0]["Arguments"]["Conditions"][0]["RightValue"] = get(
        "Steps.Emit.ProcessingOutputConfig.Outputs[x]"
    )
    assert "step Gate reads Steps.Emit.ProcessingOutputConfig.Outputs[x]: property path" in definition_error(bad_path)
    no_parameter = gated_definition()
    no_parameter["Parameters"] = [p for p in PARAMETERS if p["Name"] != "Threshold"]
    assert "step Gate reads parameter 'Threshold', which the definition does not declare" in definition_error(
        no_parameter
    )


def test_cycles_and_duplicate_names_are_errors() -> None:
    definition = gated_definition()
    definition["Steps"][1]["DependsOn"] = ["Register"]
    assert "cycle" in definition_error(definition)
    duplicate = gated_definition()
    duplicate["Steps"].append(emit_step())
    assert "two steps are named 'Emit'" in definition_error(duplicate)


# ---- runs of tiny definitions --------------------------------------------------------------------------------------


def test_processing_condition_and_registration(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(), s3, tmp_path / "run1")
    assert result.status == "Succeeded", result.summary()
    assert [(r.name, r.status) for r in result.steps] == [
        ("Emit", "Succeeded"),
        ("Gate", "Succeeded"),
        ("Register", "Succeeded"),
    ]
    assert result.not_executed == ("GateFailed",)
    (gate,) = result.gates
    assert (gate.step, gate.outcome, gate.branch, gate.conditions[0].values) == ("Gate", True, "IfSteps", (0.8, 0.5))
    # The step ran the container command for real: inputs with their paths, /opt/ml rewritten, this interpreter.
    report = json.loads(s3.get(f"{OUT_ROOT}/{result.execution_id}/Emit/metrics/metrics.json").read_text())
    assert report["files"] == ["a.csv", "sub/b.csv"]
    assert report["python"] == sys.executable
    assert report["step_env"] == str(result.workspace / "steps" / "Emit" / "opt/ml/processing/input/data")
    assert "emitted 0.8" in (result.workspace / "logs" / "Emit.log").read_text()
    # The registry entry: version, status, resolved spec and metadata, each report's URI, local path and content.
    assert result.registered is not None
    assert (result.registered.group, result.registered.version) == ("tiny-models", 1)
    package = json.loads(result.registered.path.read_text())
    assert result.registered.path == tmp_path / "registry" / "tiny-models" / "version-0001.json"
    assert package["ModelPackageVersion"] == 1
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["PipelineExecutionId"] == result.execution_id
    assert package["CustomerMetadataProperties"] == {"score": "0.8", "execution": result.execution_id}
    (container,) = package["InferenceSpecification"]["Containers"]
    assert Path(container["ModelDataLocalPath"]).is_file()
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == container["ModelDataUrl"]
    assert Path(statistics["LocalPath"]).is_file()
    assert statistics["Content"]["quality"]["score"]["value"] == 0.8
    assert result.metrics is None  # no property file named Evaluation
    assert "Registered tiny-models version 1 (PendingManualApproval)" in result.summary()


def test_registry_versions_increase_across_runs(tmp_path: Path, s3: LocalS3) -> None:
    first = run(gated_definition(), s3, tmp_path / "run1")
    second = run(gated_definition(), s3, tmp_path / "run2", ApprovalStatus="Approved")
    assert first.registered is not None
    assert second.registered is not None
    assert (first.registered.version, second.registered.version) == (1, 2)
    registry = LocalModelRegistry(tmp_path / "registry")
    assert registry.versions("tiny-models") == [1, 2]
    assert registry.load("tiny-models", 2)["ModelApprovalStatus"] == "Approved"


def test_bad_approval_status_fails_the_register_step(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(), s3, tmp_path / "run", ApprovalStatus="Maybe")
    assert result.status == "Failed"
    assert result.failure_reason is not None
    assert "step Register (RegisterModel) failed: ModelApprovalStatus must be one of" in result.failure_reason


def test_else_branch_fail_step_ends_the_run_with_its_resolved_message(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(score="0.3"), s3, tmp_path / "run")
    assert result.status == "Failed"
    assert result.failure_reason == "score 0.3 is below 0.5"
    assert result.step("GateFailed").status == "Failed"
    assert result.registered is None
    assert "Register" in result.not_executed
    assert result.gates[0].branch == "ElseSteps"


def test_parameter_override_changes_the_branch(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(score="0.8"), s3, tmp_path / "run", Threshold="0.95")
    assert result.failure_reason == "score 0.8 is below 0.95"


def test_failing_step_reports_step_name_and_log_tail(tmp_path: Path, s3: LocalS3) -> None:
    definition = gated_definition()
    definition["Steps"].append(processing_step("Broken", "sagemaker_code.fail", inputs=[]))
    definition["Steps"][0]["DependsOn"] = ["Broken"]  # the gate waits for it
    result = run(definition, s3, tmp_path / "run")
    assert result.status == "Failed"
    assert result.failure_reason is not None
    assert result.failure_reason.startswith("step Broken (Processing) failed: exited with status 3")
    assert "boom: the input is bad" in result.failure_reason
    assert result.step("Broken").log == result.workspace / "logs" / "Broken.log"
    assert {"Gate", "Register"} <= set(result.not_executed)


def test_missing_property_file_value_fails_the_condition_step(tmp_path: Path, s3: LocalS3) -> None:
    definition = gated_definition()
    definition["Steps"][0]["Arguments"]["Conditions"][0]["LeftValue"] = json_get("Emit", "Metrics", "quality.auc.value")
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert "step Gate (Condition) failed" in result.failure_reason
    assert "property file Metrics of step Emit has no value at 'quality.auc.value'" in result.failure_reason


def test_image_without_an_emulator_stops_the_run_naming_step_and_image(tmp_path: Path, s3: LocalS3) -> None:
    definition = gated_definition()
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-custom-image:latest"
    definition["Steps"][1]["Arguments"]["AppSpecification"]["ImageUri"] = image
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(f"step Emit (Processing) failed: cannot run image {image} locally")


def test_xgboost_image_without_an_entrypoint_is_not_runnable(tmp_path: Path, s3: LocalS3) -> None:
    definition = {"Parameters": [], "Steps": [processing_step("Serve", None)]}
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert "step Serve (Processing) failed: image" in result.failure_reason
    assert "without a ContainerEntrypoint" in result.failure_reason


def test_the_clarify_image_is_not_emulated(tmp_path: Path, s3: LocalS3) -> None:
    """The pipeline no longer runs Clarify (closed to new customers); a definition that does cannot run here."""
    definition = {"Parameters": [], "Steps": [processing_step("BiasCheck", None, image=CLARIFY_IMAGE)]}
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(
        f"step BiasCheck (Processing) failed: cannot run image {CLARIFY_IMAGE} locally for processing (the runner "
        "emulates processing with the images of sagemaker-xgboost)"
    )


def training_definition() -> dict[str, Any]:
    train = {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": {
                "max_depth": join(get("Parameters.Rounds")),
                "eta": "0.1",
                "objective": "binary:logistic",
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": CODE_URI,
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {"S3DataSource": {"S3Uri": get("Parameters.InputDataUri"), "S3DataType": "S3Prefix"}},
                }
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://out-bucket/models"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }
    use = processing_step(
        "UseModel",
        "sagemaker_code.emit",
        arguments=[
            "--input",
            "/opt/ml/processing/input/model",
            "--output",
            "/opt/ml/processing/output",
            "--score",
            "1",
        ],
        inputs=[
            s3_input("model", get("Steps.Train.ModelArtifacts.S3ModelArtifacts"), "/opt/ml/processing/input/model")
        ],
        outputs={"metrics": "/opt/ml/processing/output/metrics"},
    )
    return {"Parameters": PARAMETERS, "Steps": [use, train]}


def test_training_runs_script_mode_and_publishes_model_tar_gz(tmp_path: Path, s3: LocalS3) -> None:
    result = run(training_definition(), s3, tmp_path / "run", Rounds="6")
    assert result.status == "Succeeded", result.summary()
    assert [r.name for r in result.steps] == ["Train", "UseModel"]
    job = result.properties["Train"]["TrainingJobName"]
    model_uri = result.properties["Train"]["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://out-bucket/models/{job}/output/model.tar.gz"
    with tarfile.open(s3.get(model_uri), "r:gz") as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        report = json.loads(member.read())
    assert report["argv"] == ["--eta", "0.1", "--max_depth", "6", "--objective", "binary:logistic"]
    assert report["hps"] == {"eta": 0.1, "max_depth": 6, "objective": "binary:logistic"}
    assert (report["channels"], report["train_files"], report["hp_max_depth"]) == (["train"], ["a.csv", "sub"], "6")
    assert int(report["num_cpus"]) >= 1
    used = json.loads(s3.get(f"{OUT_ROOT}/{result.execution_id}/UseModel/metrics/metrics.json").read_text())
    assert used["files"] == ["model.tar.gz"]


def test_training_without_script_mode_hyperparameters_fails(tmp_path: Path, s3: LocalS3) -> None:
    definition = training_definition()
    del definition["Steps"][1]["Arguments"]["HyperParameters"]["sagemaker_program"]
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert "step Train (Training) failed" in result.failure_reason
    assert "['sagemaker_program']" in result.failure_reason


def test_container_paths_and_image_names() -> None:
    root = Path("/w/steps/A")
    assert rewrite_container_paths("tar -xzf /opt/ml/processing/input/code/* -C /opt/ml/code", root) == (
        "tar -xzf /w/steps/A/opt/ml/processing/input/code/* -C /w/steps/A/opt/ml/code"
    )
    assert rewrite_container_paths("/opt/ml", root) == "/w/steps/A/opt/ml"
    assert rewrite_container_paths("/x/opt/ml/y /opt/mlx", root) == "/x/opt/ml/y /opt/mlx"
    assert image_repository(XGBOOST_IMAGE) == "sagemaker-xgboost"
    assert image_repository("1.dkr.ecr.r.amazonaws.com/team/img@sha256:ab") == "team/img"


# ---- command line --------------------------------------------------------------------------------------------------


def test_cli_runs_a_definition_file(tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = tmp_path / "tiny.json"
    definition.write_text(json.dumps(gated_definition()))
    data = tmp_path / "input.csv"
    data.write_text("1,2\n")
    workspace = tmp_path / "ws"
    argv = ["--definition", str(definition), "--workspace", str(workspace), "--s3-object", f"{CODE_URI}={bundle}"]
    assert main([*argv, "--input", str(data)]) == 0
    out = capsys.readouterr().out
    assert "Pipeline tiny, execution " in out
    assert "Registered tiny-models version 1" in out
    assert main([*argv, "--input", str(data), "--param", "Threshold=0.9"]) == 1
    assert "Failure: score 0.8 is below 0.9" in capsys.readouterr().out
    assert main([*argv, "--input", str(data)]) == 0
    assert LocalModelRegistry(workspace / "registry").versions("tiny-models") == [1, 2]
    assert len(list((workspace / "executions").iterdir())) == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "Threshold"], "--param 'Threshold': expected NAME=VALUE"),
        (["--param", "Nope=1"], "unknown parameter Nope"),
        (["--param", "Rounds=many"], "parameter Rounds is Integer"),
        (["--input", "x.csv", "--param", "InputDataUri=s3://a/b"], "give either --input or --param InputDataUri"),
    ],
)
def test_cli_bad_usage_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    definition = tmp_path / "tiny.json"
    definition.write_text(json.dumps(gated_definition()))
    (tmp_path / "x.csv").write_text("1\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert main(["--definition", str(definition), "--workspace", str(tmp_path / "ws"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_cli_help_and_missing_assembly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--cdk-out" in capsys.readouterr().out
    assert main(["--cdk-out", str(tmp_path / "nowhere"), "--workspace", str(tmp_path / "ws")]) == 2
    assert "no cloud assembly here" in capsys.readouterr().err


# ---- the real definition ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_definition() -> dict[str, Any]:
    from sagemaker_code.definition.build import Hyperparameters, PipelineSettings, Sentinels, build_definition

    settings = PipelineSettings(
        pipeline_name="t-model-build",
        region="eu-west-1",
        model_package_group_name="t-models",
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
        real_definition, real_s3, tmp_path / "run", DisparateImpactLower="0.2", ModelBuildFingerprint="sha256-abc"
    )
    assert result.status == "Succeeded", result.summary()
    assert [r.name for r in result.steps] == [
        "Preprocess",
        "Train",
        "Evaluate",
        "QualityGate",
        "CostGate",
        "BiasGate",
        "Register",
    ]
    assert [(g.step, g.branch) for g in result.gates] == [
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
    result = run(real_definition, real_s3, tmp_path / "run", CostMargin="0.99")
    assert result.status == "Failed"
    assert result.steps[-1].name == "CostGateFailed"
    gates = gate_file(result, real_s3)
    assert result.failure_reason == gates["cost"]["message"]
    cost = gates["cost"]["model_cost_per_row"]
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(f"Cost gate failed: the model costs {cost:.3f} per test row (95% interval")
    assert result.failure_reason.endswith(
        "rejecting everyone (credit_risk=2 for every row) costs 0.700; it must cost at most 0.007 (margin 99%)"
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
    sex = re.search(r"facet 'sex' \(personal_status_sex\): DI ([-+0-9.e]+) \(95% interval", out)
    assert sex is not None
    assert float(sex.group(1)) < 0.8
    assert re.search(r"disadvantaged group \d+ of 150 test rows \(label positive rate 0\.000, ", out)


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
    without_evaluate["Steps"] = [s for s in without_evaluate["Steps"] if s["Name"] != "Evaluate"]
    with pytest.raises(
        DefinitionError, match=re.escape("step QualityGate reads Steps.Evaluate.PropertyFiles.Gates, but")
    ):
        run(without_evaluate, real_s3, tmp_path / "removed")

    renamed = copy.deepcopy(real_definition)
    (preprocess,) = [s for s in renamed["Steps"] if s["Name"] == "Preprocess"]
    (train_output,) = [
        o for o in preprocess["Arguments"]["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == "train"
    ]
    train_output["OutputName"] = "training"
    result = run(renamed, real_s3, tmp_path / "renamed")
    assert result.status == "Failed"
    assert [r.name for r in result.steps] == ["Preprocess", "Train"]
    assert result.failure_reason is not None
    assert result.failure_reason.startswith("step Train (Training) failed: Get Steps.Preprocess.ProcessingOutputConfig")
    assert "no element named 'train'" in result.failure_reason
    assert "'training'" in result.failure_reason

"""Small hand-written definitions whose steps are tiny scripts bundled in a tmp dir, independent of the real step
code: what the runner's tests run. Builders for expressions (``get``, ``join``, ``json_get``) and steps, and
:func:`run`, which runs a definition in a workspace whose registry sits next to it (shared by the runs of a test).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from local_pipeline.execution import RunResult
from local_pipeline.expressions import Scope
from local_pipeline.runner import run_pipeline
from local_pipeline.s3 import LocalS3

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


def run(definition: dict[str, Any], s3: LocalS3, workspace: Path, **parameters: str) -> RunResult:
    return run_pipeline(
        definition, parameters=parameters, s3=s3, workspace=workspace, registry=workspace.parent / "registry"
    )


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

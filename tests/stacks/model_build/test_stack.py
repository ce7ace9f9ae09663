"""The model-build stack: the SageMaker Pipeline as deployed, its model package group and least-privilege roles."""

from __future__ import annotations

import json
import re
import tarfile
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template

from config.loader import DEFAULT_CONFIG_PATH, load_config, load_dataset_spec
from local_pipeline.assembly import load_definition
from sagemaker_code.definition.build import XGBOOST_IMAGE_VERSION
from tests.conftest import SynthesizedApp

CONFIG = load_config(DEFAULT_CONFIG_PATH)
SPEC = load_dataset_spec(CONFIG, DEFAULT_CONFIG_PATH)
ENVS = list(CONFIG.environments)
ACCOUNT = "123456789012"


def group_name(env_name: str) -> str:
    """One group per model: <project>-<env>-<model>, the model named after the dataset spec by default."""
    return f"mlops-{env_name}-{CONFIG.model_build.model_name_for(SPEC.name)}"


@pytest.fixture(params=ENVS)
def env_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def build(synthesized_app: SynthesizedApp, env_name: str) -> Template:
    return synthesized_app.template(env_name, "model-build")


@pytest.fixture
def definition(synthesized_app: SynthesizedApp, env_name: str) -> dict[str, Any]:
    return load_definition(synthesized_app.outdir, env_name, f"mlops-{env_name}-model-build").definition


def all_steps(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every step by name, including those nested in a condition's branches."""
    found: dict[str, dict[str, Any]] = {}
    for step in steps:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            found.update(all_steps(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]))
    return found


def test_pipeline_and_model_package_group(build: Template, env_name: str) -> None:
    role = Capture()
    build.has_resource_properties(
        "AWS::SageMaker::Pipeline",
        {
            "PipelineName": f"mlops-{env_name}-model-build",
            "RoleArn": {"Fn::GetAtt": [role, "Arn"]},
            "PipelineDefinition": {"PipelineDefinitionBody": Match.any_value()},
        },
    )
    assert build.find_resources("AWS::IAM::Role")[role.as_string()]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ] == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]
    assert group_name(env_name) == f"mlops-{env_name}-german-credit"
    build.has_resource_properties("AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": group_name(env_name)})
    build.has_output("ModelPackageGroupName", {"Value": group_name(env_name)})
    retained = CONFIG.environments[env_name].retain_data
    build.has_resource("AWS::SageMaker::ModelPackageGroup", {"DeletionPolicy": "Retain" if retained else "Delete"})


def test_step_graph(definition: dict[str, Any]) -> None:
    """The parameter check first, holding the run; no Clarify job (closed to new customers): Evaluate computes the
    bias report; three gates, then Register."""
    (check,) = definition["Steps"]
    assert (check["Name"], check["Type"]) == ("CheckParameters", "Condition")
    assert {s["Type"] for s in check["Arguments"]["ElseSteps"]} == {"Condition"}  # one check per parameter
    run = check["Arguments"]["IfSteps"]
    assert [(s["Name"], s["Type"]) for s in run] == [
        ("Preprocess", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("QualityGate", "Condition"),
    ]
    gate = run[3]
    for name, failed, then in (
        ("QualityGate", "QualityGateFailed", "CostGate"),
        ("CostGate", "CostGateFailed", "BiasGate"),
        ("BiasGate", "BiasGateFailed", "Register"),
    ):
        assert gate["Name"] == name
        assert [(s["Name"], s["Type"]) for s in gate["Arguments"]["ElseSteps"]] == [(failed, "Fail")]
        (gate,) = gate["Arguments"]["IfSteps"]
        assert gate["Name"] == then
    assert gate["Type"] == "RegisterModel"


def test_every_job_has_a_max_runtime(definition: dict[str, Any]) -> None:
    """The stack sums the jobs' limits into the pipeline's worst case: every job must have one."""
    jobs = [s for s in all_steps(definition["Steps"]).values() if s["Type"] in {"Processing", "Training"}]
    assert [s["Name"] for s in jobs] == ["Preprocess", "Train", "Evaluate"]
    for step in jobs:
        seconds = step["Arguments"]["StoppingCondition"]["MaxRuntimeInSeconds"]
        assert seconds == CONFIG.model_build.max_runtime_minutes * 60, step["Name"]


def test_parameters_and_defaults(definition: dict[str, Any]) -> None:
    params = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in definition["Parameters"]}
    build = CONFIG.model_build
    assert params["AucThreshold"] == ("Float", build.auc_threshold)
    assert params["CostMargin"] == ("Float", build.cost_margin)
    assert params["DisparateImpactLower"] == ("Float", build.disparate_impact.lower)
    assert params["DisparateImpactUpper"] == ("Float", build.disparate_impact.upper)
    assert params["ModelApprovalStatus"] == ("String", "PendingManualApproval")
    assert params["ProcessingInstanceType"] == ("String", build.processing_instance_type)
    assert params["TrainingInstanceType"] == ("String", build.training_instance_type)
    # every hyperparameter of config (the one definition of each) is a parameter with the environment's value
    hyperparameters = build.hyperparameters.model_dump()
    assert params["MaxDepth"] == ("Integer", build.hyperparameters.max_depth)
    assert params["Eta"] == ("Float", build.hyperparameters.eta)
    assert params["Seed"] == ("Integer", build.hyperparameters.seed)
    for name, value in hyperparameters.items():
        assert params["".join(part.capitalize() for part in name.split("_"))][1] == value, name
    assert params["TrainingInstanceCount"] == ("Integer", build.training_instance_count)
    assert params["BiasMitigation"] == ("String", build.bias_mitigation)
    assert {"InputDataUri", "GitCommit", "Trigger", "NumRound", "ProcessingInstanceCount"} <= set(params)
    assert params["Trigger"] == ("String", "manual")  # retraining sets it: alarm:<name>@<time>, schedule@<time>
    assert len(params) == 14 + len(hyperparameters)
    # lineage: the stack replaces the sentinel default with its sha256 over the definition, step code and data
    kind, fingerprint = params["ModelBuildFingerprint"]
    assert kind == "String"
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint), fingerprint
    # the default input is the shipped sample, uploaded as a CDK asset
    assert params["InputDataUri"][1].startswith(f"s3://cdk-hnb659fds-assets-{ACCOUNT}-")


def test_caching_on_preprocess_and_train_only(definition: dict[str, Any]) -> None:
    caching = {name: s.get("CacheConfig") for name, s in all_steps(definition["Steps"]).items() if "Arguments" in s}
    expiry = f"P{CONFIG.model_build.cache_expire_after_days}D"
    assert caching["Preprocess"] == caching["Train"] == {"Enabled": True, "ExpireAfter": expiry}
    assert caching["Evaluate"] is None


def test_steps_run_as_the_job_role_with_encryption(build: Template, definition: dict[str, Any], env_name: str) -> None:
    steps = all_steps(definition["Steps"])
    job_role_ids = [
        logical_id for logical_id, role in build.find_resources("AWS::IAM::Role").items() if "JobRole" in logical_id
    ]
    assert len(job_role_ids) == 1
    for name in ("Preprocess", "Evaluate"):
        args = steps[name]["Arguments"]
        assert args["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{job_role_ids[0]}"
        assert args["ProcessingOutputConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
        assert (
            args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == args["ProcessingOutputConfig"]["KmsKeyId"]
        )
        for output in args["ProcessingOutputConfig"]["Outputs"]:
            uri = output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
            assert (
                uri[0]
                == f"s3://mlops-{env_name}-artifacts-{ACCOUNT}-{CONFIG.environments[env_name].region}/pipelines/mlops-{env_name}-model-build"
            )
            assert uri[1] == {"Get": "Execution.PipelineExecutionId"}
    train = steps["Train"]["Arguments"]
    assert train["RoleArn"] == steps["Preprocess"]["Arguments"]["RoleArn"]
    assert train["OutputDataConfig"]["KmsKeyId"] == train["ResourceConfig"]["VolumeKmsKeyId"]


def test_step_code_comes_from_the_code_asset(synthesized_app: SynthesizedApp, env_name: str) -> None:
    loaded = load_definition(synthesized_app.outdir, env_name, f"mlops-{env_name}-model-build")
    steps = all_steps(loaded.definition["Steps"])
    code_uri = steps["Train"]["Arguments"]["HyperParameters"]["sagemaker_submit_directory"]
    assert code_uri in loaded.s3_objects, "the training code must be a CDK asset of the stage"
    assert loaded.s3_objects[code_uri].name.endswith(".tar.gz")
    assert steps["Train"]["Arguments"]["HyperParameters"]["sagemaker_program"] == "train.py"
    # the training step reads its arguments from the bundle's table: exactly the hyperparameters the job is given
    with tarfile.open(loaded.s3_objects[code_uri], mode="r:gz") as archive:
        member = archive.extractfile("hyperparameters.json")
        assert member is not None
        table = json.load(member)["hyperparameters"]
    given = {name for name in steps["Train"]["Arguments"]["HyperParameters"] if not name.startswith("sagemaker_")}
    assert [row["name"] for row in table] == list(CONFIG.model_build.hyperparameters.model_dump())
    assert {row["name"] for row in table} | {"bias_mitigation"} == given  # and the bias mitigation (not a number)
    for name in ("Preprocess", "Evaluate"):
        inputs = {i["InputName"]: i["S3Input"] for i in steps[name]["Arguments"]["ProcessingInputs"]}
        assert inputs["code"]["S3Uri"] == code_uri
        assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
        entrypoint = steps[name]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
        assert entrypoint[-1] == f"sagemaker_code.steps.{name.lower()}"


def test_every_image_is_the_regions_xgboost(definition: dict[str, Any], env_name: str) -> None:
    region = CONFIG.environments[env_name].region
    steps = all_steps(definition["Steps"])
    xgboost = steps["Train"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    assert xgboost.endswith(f".dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:{XGBOOST_IMAGE_VERSION}")
    images = {
        value
        for step in steps.values()
        for value in (
            step["Arguments"].get("AppSpecification", {}).get("ImageUri"),
            step["Arguments"].get("AlgorithmSpecification", {}).get("TrainingImage"),
            *(c.get("Image") for c in step["Arguments"].get("InferenceSpecification", {}).get("Containers", [])),
        )
        if value is not None
    }
    assert images == {xgboost}  # processing, training and serving: no Clarify image


def test_gates_read_the_gate_file_by_name(definition: dict[str, Any]) -> None:
    steps = all_steps(definition["Steps"])
    evaluate = steps["Evaluate"]
    assert evaluate["PropertyFiles"] == [
        {"PropertyFileName": "Evaluation", "OutputName": "evaluation", "FilePath": "evaluation.json"},
        {"PropertyFileName": "Gates", "OutputName": "gates", "FilePath": "gates.json"},
    ]
    gate_file = {"Get": "Steps.Evaluate.PropertyFiles.Gates"}
    for key, condition_step, fail_step in (
        ("quality", "QualityGate", "QualityGateFailed"),
        ("cost", "CostGate", "CostGateFailed"),
        ("bias", "BiasGate", "BiasGateFailed"),
    ):
        assert steps[condition_step]["Arguments"]["Conditions"] == [
            {
                "Type": "Equals",
                "LeftValue": {"Std:JsonGet": {"PropertyFile": gate_file, "Path": f"{key}.passed"}},
                "RightValue": 1,
            }
        ]
        assert steps[fail_step]["Arguments"]["ErrorMessage"] == {
            "Std:Join": {"On": "", "Values": [{"Std:JsonGet": {"PropertyFile": gate_file, "Path": f"{key}.message"}}]}
        }
    # the thresholds reach the Evaluate step as arguments, from the pipeline parameters
    arguments = evaluate["Arguments"]["AppSpecification"]["ContainerArguments"]
    for option, parameter in (
        ("--auc-threshold", "AucThreshold"),
        ("--cost-margin", "CostMargin"),
        ("--di-lower", "DisparateImpactLower"),
        ("--di-upper", "DisparateImpactUpper"),
    ):
        value = arguments[arguments.index(option) + 1]
        assert value == {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{parameter}"}]}}, option
    outputs = [o["OutputName"] for o in evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"]]
    assert outputs == ["evaluation", "bias", "gates"]


def test_registration(definition: dict[str, Any], env_name: str) -> None:
    register = all_steps(definition["Steps"])["Register"]["Arguments"]
    assert register["ModelPackageGroupName"] == group_name(env_name)
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    }
    metrics = register["ModelMetrics"]
    evaluation = metrics["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"]
    assert evaluation == [
        {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
        "evaluation.json",
    ]
    bias_output = {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['bias'].S3Output.S3Uri"}
    for report in ("Report", "PreTrainingReport", "PostTrainingReport"):
        assert metrics["Bias"][report]["S3Uri"]["Std:Join"]["Values"] == [bias_output, "analysis.json"]
    assert register["DriftCheckBaselines"]["Bias"]["ConfigFile"]["S3Uri"]["Std:Join"]["Values"] == [
        bias_output,
        "analysis_config.json",
    ]
    assert set(metrics["ModelDataQuality"]) == {"Statistics", "Constraints"}
    assert set(register["DriftCheckBaselines"]) == {"Bias", "ModelDataQuality"}
    metadata = register["CustomerMetadataProperties"]
    assert set(metadata) == {
        "dataset_name",
        "input_data_uri",
        "test_data_uri",
        "bias_mitigation",
        "dataset_sha256",
        "dataset_rows",
        "decision_threshold",
        "git_commit",
        "trigger",
        "model_build_fingerprint",
        "pipeline_execution_arn",
    }
    assert metadata["trigger"] == {"Get": "Parameters.Trigger"}
    assert metadata["dataset_name"] == SPEC.name == "german-credit"  # the spec's name, next to commit and fingerprint
    assert metadata["input_data_uri"] == {"Get": "Parameters.InputDataUri"}
    assert metadata["bias_mitigation"] == {"Get": "Parameters.BiasMitigation"}
    assert metadata["decision_threshold"] == {
        "Std:Join": {
            "On": "",
            "Values": [
                {
                    "Std:JsonGet": {
                        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"},
                        "Path": "decision_threshold",
                    }
                }
            ],
        }
    }
    assert metadata["model_build_fingerprint"] == {"Get": "Parameters.ModelBuildFingerprint"}


def policy_statements(template: Template, path_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if path_fragment in logical_id
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_no_wildcard_actions_on_wildcard_resources(build: Template) -> None:
    for logical_id, policy in build.find_resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert not any(a.endswith(":*") or a == "*" for a in actions), (logical_id, statement)
            if "*" in resources:
                assert set(actions) <= {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}, (
                    logical_id,
                    statement,
                )


def test_job_role_is_limited_to_the_project_data(build: Template, env_name: str) -> None:
    region = CONFIG.environments[env_name].region
    statements = policy_statements(build, "JobRole")
    s3_resources = {
        json.dumps(r)
        for s in statements
        if any(str(a).startswith("s3:") for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    artifacts = f"arn:aws:s3:::mlops-{env_name}-artifacts-{ACCOUNT}-{region}"
    data = f"arn:aws:s3:::mlops-{env_name}-data-{ACCOUNT}-{region}"
    assert json.dumps(f"{artifacts}/pipelines/mlops-{env_name}-model-build/*") in s3_resources
    assert json.dumps(f"{data}/datasets/*") in s3_resources
    assets = f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{region}"
    for resource in s3_resources:
        text = json.loads(resource)
        allowed_prefixes = (f"{artifacts}/pipelines/", f"{data}/datasets/", f"{assets}/")  # step code and sample
        assert text in (artifacts, data, assets) or text.startswith(allowed_prefixes), text
    (listing,) = [s for s in statements if s.get("Sid") == "ListStepCodeAndSample"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == assets
    # only the exact keys of the step code and the sample: the listing SageMaker does before downloading them
    keys = listing["Condition"]["StringEquals"]["s3:prefix"]
    assert all(k.endswith((".tar.gz", ".gz", ".data", ".csv")) and "/" not in k for k in keys), keys
    ecr = next(s for s in statements if s.get("Sid") == "PullJobImages")
    repositories = ecr["Resource"] if isinstance(ecr["Resource"], list) else [ecr["Resource"]]
    assert [r.split(":", 5)[3] for r in repositories] == [region]
    assert [r.rsplit("/", 1)[1] for r in repositories] == ["sagemaker-xgboost"]  # the definition's only image


def test_pipeline_role_passes_only_the_job_role_to_sagemaker(build: Template) -> None:
    statements = {s.get("Sid"): s for s in policy_statements(build, "ModelBuildRunPipeline")}
    passed = statements["PassJobRole"]
    assert passed["Action"] == "iam:PassRole"
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert passed["Resource"]["Fn::GetAtt"][0].startswith("JobRole")
    run_steps = statements["RunSteps"]
    assert all(r.endswith(("processing-job/pipelines-*", "training-job/pipelines-*")) for r in run_steps["Resource"])


def test_no_sentinel_survives_in_any_template(synthesized_app: SynthesizedApp) -> None:
    for key, template in synthesized_app.templates.items():
        assert "sentinel-" not in json.dumps(template), key


def _texts(value: object) -> str:
    return json.dumps(value)


def test_registration_and_cleanup_are_scoped_to_the_models_group(build: Template, env_name: str) -> None:
    """The pipeline role registers, and the cleanup deletes, only in this model's group (named from config)."""
    group = group_name(env_name)
    statements = {s.get("Sid"): s for s in policy_statements(build, "ModelBuildRunPipeline")}
    register = _texts(statements["RegisterModels"]["Resource"])
    assert f"model-package-group/{group}" in register
    assert f"model-package/{group}/*" in register
    assert "-models" not in register
    cleanup = {s.get("Sid"): s for s in policy_statements(build, "ModelPackageGroupCleanup")}
    assert f"model-package/{group}/*" in _texts(cleanup["DeleteGroupPackages"]["Resource"])
    build.has_resource_properties("Custom::ModelPackageGroupCleanup", {"ModelPackageGroupName": group})


def test_scale_out_shards_the_train_channel_and_the_preprocess_input(definition: dict[str, Any]) -> None:
    """Several training instances each train on their own train files; every other input is replicated; Evaluate
    needs every test row on one instance."""
    steps = all_steps(definition["Steps"])
    train = steps["Train"]["Arguments"]
    assert train["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}
    distribution = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"] for c in train["InputDataConfig"]
    }
    assert distribution == {"train": "ShardedByS3Key", "validation": "FullyReplicated", "transform": "FullyReplicated"}
    preprocess = steps["Preprocess"]["Arguments"]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == {
        "Get": "Parameters.ProcessingInstanceCount"
    }
    inputs = {i["InputName"]: i["S3Input"]["S3DataDistributionType"] for i in preprocess["ProcessingInputs"]}
    assert inputs == {"code": "FullyReplicated", "data": "ShardedByS3Key"}
    assert steps["Evaluate"]["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1

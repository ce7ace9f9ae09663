"""Every job request in every synthesized SageMaker pipeline definition is a valid request of its API call, checked
offline against botocore's SageMaker service model (rule 6)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.deploy.account import Cloud
from tests.deploy.conftest import report
from tests.deploy.job_requests import job_requests_valid, validate_definition

ROLE = "arn:aws:iam::123456789012:role/jobs"
PROCESSING: dict[str, Any] = {
    "Name": "Prep", "Type": "Processing", "Arguments": {
        "AppSpecification": {"ImageUri": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0"},
        "ProcessingInputs": [{"InputName": "data", "S3Input": {
            "S3Uri": {"Get": "Parameters.Input"}, "S3DataType": "S3Prefix", "LocalPath": "/opt/ml/processing/input",
            "S3InputMode": "File"}}],
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "VolumeSizeInGB": 30,
                                                  "InstanceType": {"Get": "Parameters.InstanceType"}}},
        "RoleArn": ROLE, "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}  # fmt: skip
TRAINING: dict[str, Any] = {
    "Name": "Train", "Type": "Training", "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": "x.dkr.ecr.eu-west-1.amazonaws.com/x:1",
                                   "TrainingInputMode": "File"},
        "HyperParameters": {"eta": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Eta"}]}}},
        "OutputDataConfig": {"S3OutputPath": "s3://b/models"}, "RoleArn": ROLE,
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}}}  # fmt: skip
PARAMETERS = [{"Name": "Input", "Type": "String", "DefaultValue": "s3://b/data"},
              {"Name": "InstanceType", "Type": "String", "DefaultValue": "ml.m5.large"},
              {"Name": "Eta", "Type": "Float", "DefaultValue": 0.1}]  # fmt: skip


def definition(edit: Any = None) -> dict[str, Any]:
    body = {"Version": "2020-12-01", "Parameters": copy.deepcopy(PARAMETERS), "Steps": [
        copy.deepcopy(PROCESSING), {"Name": "Gate", "Type": "Condition", "Arguments": {
            "Conditions": [], "IfSteps": [copy.deepcopy(TRAINING)], "ElseSteps": []}}]}  # fmt: skip
    if edit:
        edit(body)
    return body


def prep(body: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = body["Steps"][0]["Arguments"]
    return arguments


def train(body: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = body["Steps"][1]["Arguments"]["IfSteps"][0]["Arguments"]
    return arguments


def test_synthesized_job_requests_are_valid(cloud: Cloud) -> None:
    violations, steps = job_requests_valid(cloud)
    assert steps, "no SageMaker pipeline in the templates"
    assert all(count > 0 for count in steps.values()), steps  # every pipeline had job steps to check
    assert not violations, report(violations)


def test_a_valid_definition_passes_and_job_names_are_left_to_the_pipeline() -> None:
    errors, steps = validate_definition(definition(), "t")
    assert (errors, steps) == ([], 2)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda b: prep(b)["ProcessingResources"]["ClusterConfig"].update(VolumeSizeInGb=30),
            "step Prep (CreateProcessingJob) Arguments.ProcessingResources.ClusterConfig.VolumeSizeInGb: "
            "unknown member of ProcessingClusterConfig (did you mean VolumeSizeInGB?)",
        ),
        (
            lambda b: prep(b)["ProcessingResources"]["ClusterConfig"].update(InstanceCount="1"),
            'InstanceCount: expected integer (ProcessingInstanceCount), got "1"',
        ),
        (
            lambda b: train(b)["AlgorithmSpecification"].update(TrainingInputMode="Files"),
            "step Train (CreateTrainingJob) Arguments.AlgorithmSpecification.TrainingInputMode: 'Files' is not one of",
        ),
        (
            lambda b: prep(b).pop("AppSpecification"),
            "Arguments.AppSpecification: required member of CreateProcessingJobRequest is missing",
        ),
        (
            lambda b: b["Parameters"][1].update(DefaultValue="ml.m5.huge"),
            "InstanceType (default of parameter InstanceType): 'ml.m5.huge' is not one of",
        ),
        (lambda b: b["Parameters"][2].update(Type="String"), None),  # Std:Join makes a string of any parameter
        (
            lambda b: prep(b)["ProcessingResources"]["ClusterConfig"].update(InstanceCount={"Get": "Parameters.Input"}),
            "parameter Input is a String where integer",
        ),
        (lambda b: prep(b)["StoppingCondition"].update(MaxRuntimeInSeconds=0), "0 is outside [1, "),
        (lambda b: train(b)["OutputDataConfig"].update(S3OutputPath="gs://b/models"), "does not match the pattern"),
        (lambda b: prep(b).update(ProcessingInputs={"Get": "Parameters.Input"}), "a pipeline expression"),
    ],
)
def test_a_broken_request_is_reported(edit: Any, expected: str | None) -> None:
    errors, _ = validate_definition(definition(edit), "t")
    if expected is None:
        assert errors == []
    else:
        assert len(errors) == 1, errors
        assert expected in errors[0], errors[0]

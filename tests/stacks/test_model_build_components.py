"""Pure helpers of the model-build stack: sentinel substitution and image discovery."""

from __future__ import annotations

import pytest

from sagemaker_code.pipeline import Sentinels
from stacks.components.model_build_pipeline import substitute_sentinels
from stacks.components.sagemaker_job_role import ecr_repository_arn
from stacks.model_build_stack import images_in

S = Sentinels()


def test_every_sentinel_is_replaced() -> None:
    text = f'{{"Role": "{S.job_role_arn}", "Out": "s3://{S.artifacts_bucket}/x", "Key": "{S.kms_key_arn}"}}'
    done = substitute_sentinels(text, {"job_role_arn": "R", "artifacts_bucket": "B", "kms_key_arn": "K"}, S)
    assert done == '{"Role": "R", "Out": "s3://B/x", "Key": "K"}'


def test_a_used_sentinel_without_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="uses sentinel 'code_uri'"):
        substitute_sentinels(f'"{S.code_uri}"', {}, S)


def test_unknown_replacement_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"unknown sentinels: \['nope'\]"):
        substitute_sentinels("{}", {"nope": "x"}, S)


def test_a_leftover_sentinel_is_an_error() -> None:
    with pytest.raises(ValueError, match="still holds a sentinel"):
        substitute_sentinels('"s3://sentinel-other/x"', {}, S)


def test_images_in_walks_nested_steps() -> None:
    definition = {
        "Steps": [
            {"Arguments": {"AppSpecification": {"ImageUri": "a"}}},
            {"Arguments": {"AlgorithmSpecification": {"TrainingImage": "b"}}},
            {
                "Type": "Condition",
                "Arguments": {"IfSteps": [{"Arguments": {"InferenceSpecification": {"Containers": [{"Image": "c"}]}}}]},
            },
        ]
    }
    assert images_in(definition) == ["a", "b", "c"]


def test_ecr_repository_arn() -> None:
    uri = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0"
    assert ecr_repository_arn(uri, "aws") == "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"
    with pytest.raises(ValueError, match="not an ECR image URI"):
        ecr_repository_arn("docker.io/library/python:3", "aws")

"""Pure helpers of the model-build stack: sentinel substitution, image discovery, worst case, fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_code.definition.build import Sentinels
from stacks.common.sagemaker_container import ecr_repository_arn
from stacks.model_build.runtime import (
    JOB_OVERHEAD_SECONDS,
    PIPELINE_OVERHEAD_SECONDS,
    UnboundedPipelineError,
    training_wait_seconds,
    worst_case_seconds,
)
from stacks.model_build.sagemaker_pipeline import substitute_sentinels
from stacks.model_build.stack import images_in
from stacks.model_build.step_code import model_build_fingerprint

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


def job(name: str, kind: str = "Processing", runtime: object = 3600, **extra: object) -> dict[str, object]:
    return {"Name": name, "Type": kind, "Arguments": {"StoppingCondition": {"MaxRuntimeInSeconds": runtime}}, **extra}


def test_worst_case_sums_every_job_including_nested_branches_and_retries() -> None:
    definition = {
        "Steps": [
            job("A"),
            job("B", "Training", 7200),
            {
                "Name": "Gate",
                "Type": "Condition",
                "Arguments": {"IfSteps": [job("C", runtime=600, RetryPolicies=[{"MaxAttempts": 2}])], "ElseSteps": []},
            },
        ]
    }
    per_job = JOB_OVERHEAD_SECONDS
    expected = PIPELINE_OVERHEAD_SECONDS + (3600 + per_job) + (7200 + per_job) + 3 * (600 + per_job)
    assert worst_case_seconds(definition) == expected
    assert training_wait_seconds(definition) > expected


def test_spot_training_counts_its_wait_for_capacity() -> None:
    spot = job("T", "Training", 3600)
    spot["Arguments"]["StoppingCondition"]["MaxWaitTimeInSeconds"] = 10800  # type: ignore[index]
    assert worst_case_seconds({"Steps": [spot]}) == PIPELINE_OVERHEAD_SECONDS + 10800 + JOB_OVERHEAD_SECONDS


@pytest.mark.parametrize("runtime", [None, {"Get": "Parameters.MaxRuntime"}, "3600", True])
def test_a_job_without_a_literal_max_runtime_is_refused(runtime: object) -> None:
    step = job("Unbounded", runtime=runtime)
    with pytest.raises(UnboundedPipelineError, match="step 'Unbounded' \\(Processing\\)"):
        worst_case_seconds({"Steps": [step]})


def test_fingerprint_changes_with_each_model_build_input_and_only_with_them(tmp_path: Path) -> None:
    bundle, sample = tmp_path / "bundle.tar.gz", tmp_path / "sample.csv"
    bundle.write_bytes(b"code")
    sample.write_bytes(b"a,b\n1,2\n")
    base = model_build_fingerprint("{}", bundle, sample, None)
    assert base == model_build_fingerprint("{}", bundle, sample, None)
    assert len(base) == 64
    assert model_build_fingerprint('{"x": 1}', bundle, sample, None) != base
    assert model_build_fingerprint("{}", bundle, None, "datasets/a/") != base
    assert model_build_fingerprint("{}", bundle, None, "datasets/a/") != model_build_fingerprint(
        "{}", bundle, None, "datasets/b/"
    )
    bundle.write_bytes(b"other code")
    changed_code = model_build_fingerprint("{}", bundle, sample, None)
    sample.write_bytes(b"a,b\n1,3\n")
    assert len({base, changed_code, model_build_fingerprint("{}", bundle, sample, None)}) == 3

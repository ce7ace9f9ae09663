"""The SageMaker Pipeline definition, built with the SageMaker Python SDK 3.x at synth time, offline.

CheckParameters (Condition: every parameter within its allowed values, else a Fail step naming it; holds all other
steps) -> Preprocess (Processing) -> Train (Training, XGBoost script mode; chooses the decision threshold by cost on the
validation split) -> Evaluate (Processing: test metrics, the bias report in Clarify's formats and the gate file
``gates.json``) -> QualityGate (AUC) -> CostGate (cost against the cheapest constant decision) -> BiasGate (disparate
impact per facet) -> Register (RegisterModel, PendingManualApproval by default).

The parts: :mod:`.settings` (what a definition depends on, and the adapter from config), :mod:`.parameters`,
:mod:`.steps` (one builder per step), :mod:`.gates`, :mod:`.checks` (the parameter check); every name and path
shared with the step code and the local runner is in :mod:`sagemaker_code.steps.contract`.

There is no SageMaker Clarify job: Clarify is no longer open to new customers, and one processing job less is faster
and cheaper. The bias report keeps Clarify's formats (see :mod:`sagemaker_code.steps.bias`).

The SDK cannot see CDK tokens (an S3 URI holding ``${Token[...]}`` does not parse, a token role ARN is looked up in
IAM), so the definition is built with well-formed *sentinel* values (:class:`Sentinels`) that the CDK stack replaces
with the real token strings (bucket names, role and key ARNs, asset URIs). Nothing here calls AWS: the session is a
``PipelineSession`` (it records requests instead of sending them), every S3 location is given explicitly (nothing is
uploaded), and model registration skips the SDK's code upload. Telemetry is switched off for the build.

Run as ``python -m sagemaker_code.definition.build SETTINGS.json OUT.json`` (what :mod:`sagemaker_code.definition.cache`
does, in a background process, so that the SDK import does not sit on the synth's critical path). This module
imports the SDK only inside :func:`build_definition`: the app imports it (through the cache) before any SDK is needed.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import warnings
from math import isfinite
from pathlib import Path
from unittest import mock

from sagemaker_code.definition.monitoring import KIND as MONITORING
from sagemaker_code.definition.monitoring import MonitorPipelineSettings, build_monitoring
from sagemaker_code.definition.settings import XGBOOST_IMAGE_VERSION, Hyperparameters, PipelineSettings, Sentinels

__all__ = ["XGBOOST_IMAGE_VERSION", "Hyperparameters", "PipelineSettings", "Sentinels", "build_definition"]


def build_definition(settings: PipelineSettings | MonitorPipelineSettings) -> str:
    """The pipeline definition JSON (with sentinel values) for ``settings``; no AWS calls."""
    os.environ.setdefault("AWS_DEFAULT_REGION", settings.region)  # sagemaker.train reads it at import
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")  # no IAM look-up of the sentinel role
    from sagemaker.core.telemetry import telemetry_logging

    # The SDK prints banners and warns about PipelineSession semantics; none of it is news at synth.
    # Telemetry: opting out through the SDK config makes every SDK call re-validate that config against its JSON
    # schema (~10 s for this pipeline), so the sender itself is replaced for the duration of the build instead.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
        mock.patch.object(telemetry_logging, "_send_telemetry_request", return_value=None),
    ):
        warnings.simplefilter("ignore")
        for name in ("sagemaker", "botocore", "boto3"):
            logging.getLogger(name).setLevel(logging.ERROR)
        if isinstance(settings, MonitorPipelineSettings):
            return build_monitoring(settings)
        return _build(settings)


def _build(settings: PipelineSettings) -> str:
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from sagemaker_code.definition import checks, gates, steps
    from sagemaker_code.definition.parameters import pipeline_parameters

    ctx = steps.StepContext.create(settings, pipeline_parameters(settings))
    preprocess = steps.preprocess_step(ctx)
    train = steps.train_step(ctx, preprocess)
    evaluate = steps.evaluate_step(ctx, preprocess, train)
    register = steps.register_step(ctx, preprocess, train, evaluate)
    run = [preprocess, train, evaluate, gates.gate_steps(settings, evaluate, register)]
    pipeline = Pipeline(
        name=settings.pipeline_name,
        parameters=ctx.parameters.all(),
        steps=[checks.parameter_check(settings, ctx.parameters, run)],
        sagemaker_session=ctx.session,
    )
    # NaN and infinity are not JSON: a setting that slipped through must stop the build, not reach CloudFormation
    try:
        definition: str = json.dumps(json.loads(pipeline.definition()), allow_nan=False)
    except ValueError:
        bad = [name for name, value in settings.to_dict().items() if isinstance(value, float) and not isfinite(value)]
        raise ValueError(
            f"pipeline {settings.pipeline_name}: the definition would hold NaN or infinity, which is not JSON "
            f"(settings {bad or 'of the hyperparameters'}): every number must be finite"
        ) from None
    return definition


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m sagemaker_code.definition.build SETTINGS.json OUT.json\n")
        return 2
    settings = [
        MonitorPipelineSettings.from_dict(item) if item.get("kind") == MONITORING else PipelineSettings.from_dict(item)
        for item in json.loads(Path(args[0]).read_text())
    ]
    out = {item.pipeline_name: json.loads(build_definition(item)) for item in settings}
    Path(args[1]).write_text(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

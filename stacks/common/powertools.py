"""The Python runtime of the project's Lambda functions and the public Powertools layer they use.

Powertools comes from its public Lambda layer, so functions need no bundling (and no Docker). The layer's ARN is
published per architecture, Python version and Powertools version in an SSM parameter of every region; reading it at
deploy time keeps the template free of account- and region-specific layer ARNs.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

#: The folder whose sub-folders are the functions (each one is its own package; see lambdas/README.md).
LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
#: The runtime of every function, and the Powertools version of the layer (the one the tests run against, pinned
#: in requirements-dev.in). The layer's SSM parameter names the Python version: bump both together.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE = lambda_.Architecture.X86_64
POWERTOOLS_VERSION = "3.37.0"


def powertools_layer(scope: Construct, construct_id: str) -> lambda_.ILayerVersion:
    """The public Powertools layer of the pinned version, resolved from its SSM parameter at deploy time."""
    arch = LAMBDA_ARCHITECTURE.name  # "x86_64" or "arm64", as in the parameter's name
    python = LAMBDA_RUNTIME.name.removeprefix("python")
    arn = ssm.StringParameter.value_for_string_parameter(
        scope, f"/aws/service/powertools/python/{arch}/python{python}/{POWERTOOLS_VERSION}"
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, construct_id, arn)


def function_code(function: str) -> lambda_.Code:
    """The asset of one function: ``lambdas/`` without the other functions, so that the handler is
    ``<function>.handler.handler`` and the function imports its own modules as ``<function>.<module>``."""
    if not (LAMBDAS_DIR / function / "handler.py").is_file():
        raise ValueError(f"no Lambda function {function!r}: {LAMBDAS_DIR / function / 'handler.py'} does not exist")
    others = sorted(p.name for p in LAMBDAS_DIR.iterdir() if p.name != function)
    return lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=[*others, "**/__pycache__", "**/*.pyc"])

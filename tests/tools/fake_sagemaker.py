"""A scriptable stand-in for the SageMaker pipeline-execution API, strict about requests.

moto 5.2.5 has no StopPipelineExecution or ListPipelineExecutionSteps, lists only the parameters given at start,
ignores SortOrder and ClientRequestToken, and makes every execution Succeeded at once; Stubber cannot run code
(a signal) in the middle of a call. This fake validates every request against botocore's SageMaker service model
(types, required members, lengths), honours the start token and sort order, pages its answers, and lets a test
script statuses and hook calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.validate import validate_parameters

MODEL = botocore.session.get_session().get_service_model("sagemaker")
PIPELINE = "mlops-dev-model-build"
ACCOUNT = "123456789012"
REGION = "eu-west-1"


@dataclass
class FakeExecution:
    arn: str
    status: str
    fingerprint: str | None  # the ModelBuildFingerprint default of the definition the execution ran
    parameters: dict[str, str] = field(default_factory=dict)  # the values given at start
    then: list[str] = field(default_factory=list)  # the statuses later DescribePipelineExecution calls report
    failure_reason: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    display_name: str = "commit-older"
    token: str | None = None


class FakeSageMaker:
    def __init__(self, deployed_fingerprint: str | None, *, lists_defaults: bool = True, page_size: int = 2) -> None:
        self.deployed_fingerprint = deployed_fingerprint
        self.lists_defaults = lists_defaults
        self.page_size = page_size
        self.executions: list[FakeExecution] = []  # newest first
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: statuses a started execution reports on later describes (the first describe shows the first one)
        self.script = ["Executing", "Succeeded"]
        self.started_steps: list[dict[str, Any]] = []
        self.started_failure: str | None = None
        #: code run inside a call (e.g. a signal); for a start, once the execution exists
        self.hooks: dict[str, Callable[[dict[str, Any]], None]] = {}

    # -- test helpers ---------------------------------------------------------------------------------------------
    def add(self, status: str, fingerprint: str | None, **kwargs: Any) -> FakeExecution:
        """An older execution (each call adds one older than the previous ones)."""
        execution = FakeExecution(self._arn(), status, fingerprint, **kwargs)
        self.executions.append(execution)
        return execution

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def requests(self, name: str) -> list[dict[str, Any]]:
        return [params for call, params in self.calls if call == name]

    # -- the API ----------------------------------------------------------------------------------------------------
    def _arn(self) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}/execution/e{len(self.executions):04d}"

    def _call(self, operation: str, name: str, params: dict[str, Any]) -> None:
        validate_parameters(params, MODEL.operation_model(operation).input_shape)
        self.calls.append((name, params))
        if name != "start_pipeline_execution":
            self._hook(name, params)

    def _hook(self, name: str, params: dict[str, Any]) -> None:
        if name in self.hooks:
            self.hooks[name](params)

    def _find(self, arn: str) -> FakeExecution:
        (execution,) = (e for e in self.executions if e.arn == arn)
        return execution

    def _page(self, items: list[Any], key: str, params: dict[str, Any], size: int) -> dict[str, Any]:
        offset = int(params.get("NextToken", "0"))
        page: dict[str, Any] = {key: items[offset : offset + size]}
        if offset + size < len(items):
            page["NextToken"] = str(offset + size)
        return page

    def list_pipeline_executions(self, **params: Any) -> dict[str, Any]:
        self._call("ListPipelineExecutions", "list_pipeline_executions", params)
        assert params["PipelineName"] == PIPELINE
        ordered = self.executions if params.get("SortOrder") == "Descending" else self.executions[::-1]
        summaries = [
            {
                "PipelineExecutionArn": e.arn,
                "PipelineExecutionStatus": e.status,
                "PipelineExecutionDisplayName": e.display_name,
            }
            for e in ordered
        ]
        return self._page(summaries, "PipelineExecutionSummaries", params, min(self.page_size, params["MaxResults"]))

    def list_pipeline_parameters_for_execution(self, **params: Any) -> dict[str, Any]:
        self._call("ListPipelineParametersForExecution", "list_pipeline_parameters_for_execution", params)
        execution = self._find(params["PipelineExecutionArn"])
        values = dict(execution.parameters)
        if self.lists_defaults and execution.fingerprint is not None:
            values.setdefault("ModelBuildFingerprint", execution.fingerprint)
        listed = [{"Name": k, "Value": v} for k, v in values.items()]
        return self._page(listed, "PipelineParameters", params, 1)

    def describe_pipeline_definition_for_execution(self, **params: Any) -> dict[str, Any]:
        self._call("DescribePipelineDefinitionForExecution", "describe_pipeline_definition_for_execution", params)
        execution = self._find(params["PipelineExecutionArn"])
        parameters = [{"Name": "GitCommit", "Type": "String", "DefaultValue": "unknown"}]
        if execution.fingerprint is not None:
            parameters.append(
                {"Name": "ModelBuildFingerprint", "Type": "String", "DefaultValue": execution.fingerprint}
            )
        return {"PipelineDefinition": json.dumps({"Version": "2020-12-01", "Parameters": parameters, "Steps": []})}

    def start_pipeline_execution(self, **params: Any) -> dict[str, Any]:
        self._call("StartPipelineExecution", "start_pipeline_execution", params)
        assert params["PipelineName"] == PIPELINE
        for execution in self.executions:
            if execution.token is not None and execution.token == params["ClientRequestToken"]:
                return {"PipelineExecutionArn": execution.arn}  # idempotent: the same request, the same execution
        execution = FakeExecution(
            self._arn(),
            "Executing",
            self.deployed_fingerprint,
            parameters={p["Name"]: p["Value"] for p in params["PipelineParameters"]},
            then=list(self.script),
            failure_reason=self.started_failure,
            steps=list(self.started_steps),
            display_name=params["PipelineExecutionDisplayName"],
            token=params["ClientRequestToken"],
        )
        self.executions.insert(0, execution)
        self._hook("start_pipeline_execution", params)  # after SageMaker acted, before the answer arrives
        return {"PipelineExecutionArn": execution.arn}

    def describe_pipeline_execution(self, **params: Any) -> dict[str, Any]:
        self._call("DescribePipelineExecution", "describe_pipeline_execution", params)
        execution = self._find(params["PipelineExecutionArn"])
        if execution.then:
            execution.status = execution.then.pop(0)
        response = {"PipelineExecutionArn": execution.arn, "PipelineExecutionStatus": execution.status}
        if execution.failure_reason and execution.status != "Succeeded":
            response["FailureReason"] = execution.failure_reason
        return response

    def stop_pipeline_execution(self, **params: Any) -> dict[str, Any]:
        self._call("StopPipelineExecution", "stop_pipeline_execution", params)
        execution = self._find(params["PipelineExecutionArn"])
        execution.status, execution.then = "Stopping", ["Stopped"]
        return {"PipelineExecutionArn": execution.arn}

    def list_pipeline_execution_steps(self, **params: Any) -> dict[str, Any]:
        self._call("ListPipelineExecutionSteps", "list_pipeline_execution_steps", params)
        execution = self._find(params["PipelineExecutionArn"])
        return self._page(execution.steps, "PipelineExecutionSteps", params, 1)

"""The deploy flow (Step Functions): for each serving environment in order, the environments the execution's input
names only: [approval] -> deploy -> wait for the stack update -> smoke test -> mark the package -> notify. Any
failure notifies the topic (with the error) and fails the execution; the environments after it are not touched.

Input: ``{"model_package_arn", "version", "reason": "approved"|"rollback", "environments": [...], "rejected_arn"}``
(lambdas/model_deploy/tasks.py ``DeployInput``). Every task gets that input whole (``$$.Execution.Input``), so no
step depends on what an earlier step left in the state.

The approval is a ``waitForTaskToken`` task: the task function publishes the token with the two CLI commands that
answer it (``aws stepfunctions send-task-success`` / ``send-task-failure``); without an answer it times out, which
fails the execution like a refusal. X-Ray is off: an execution is a handful of Lambda calls spread over minutes to
days, and its history and logs (every state's input and output) already show what each step did and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.compliance import acknowledge
from stacks.model_deploy.targets import ServingTarget

#: The task function's errors the flow retries instead of failing (lambdas/model_deploy/errors.py RETRYABLE).
STACK_BUSY = "StackBusy"
#: botocore's error class name as Lambda reports it: transient AWS API errors of idempotent steps are retried.
CLIENT_ERROR = "ClientError"
#: Time between two looks at a stack update (each look is ~9 history events; 25,000 events allow ~40 hours).
POLL = cdk.Duration.seconds(60)


class DeployStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        serving: Sequence[ServingTarget],
        function: lambda_.IFunction,
        approval_timeout: cdk.Duration,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        if not serving:
            raise ValueError(f"{self.node.path}: a deploy flow needs at least one serving environment")
        self._function = function
        self._approval_timeout = approval_timeout
        failed = sfn.Fail(self, "Failed", state_name="Deployment failed", error_path="$.error.Error",
                          cause_path="$.error.Cause")  # fmt: skip
        following: sfn.IChainable = sfn.Succeed(self, "Done", state_name="Deployed")
        for target in reversed(serving):
            following = self._environment(target, following, failed)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(following),
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=False,
            comment="Deploys an approved (or, on rejection, the previous) model package version to each serving "
            "environment in order",
        )
        acknowledge(
            self.state_machine,
            "AwsSolutions-SF2",
            "X-Ray is off on purpose: an execution is a few Lambda calls spread over minutes to days; its history "
            "and its ALL-level logs show every step's input, output and timing.",
        )

    def _task(self, env: str, name: str, action: str, *, result_path: str, **fields: Any) -> tasks.LambdaInvoke:
        payload = {
            "action": action,
            "environment": env,
            "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
            "request": sfn.JsonPath.object_at("$$.Execution.Input"),
            **fields,
        }
        return tasks.LambdaInvoke(
            self,
            f"{name} {env}",
            state_name=f"{name} {env}",
            lambda_function=self._function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=True,
            result_path=result_path,
        )

    def _environment(self, target: ServingTarget, following: sfn.IChainable, failed: sfn.Fail) -> sfn.IChainable:
        """The states of one environment, entered only when the execution names it, then ``following``."""
        env = target.name
        notify_failure = self._task(env, "Notify failure", "notify", result_path=sfn.JsonPath.DISCARD,
                                    outcome="failed", error=sfn.JsonPath.object_at("$.error"))  # fmt: skip
        notify_failure.add_catch(failed, result_path="$.notify_error")  # still fail with the step's own error
        notify_failure.next(failed)

        deploy = self._task(env, "Deploy", "deploy", result_path="$.deployment")
        deploy.add_retry(errors=[STACK_BUSY], interval=cdk.Duration.minutes(1), backoff_rate=1.5,
                         max_delay=cdk.Duration.minutes(10), max_attempts=20)  # fmt: skip
        check = self._task(env, "Check stack", "wait", result_path="$.stack",
                           deployment=sfn.JsonPath.object_at("$.deployment"))  # fmt: skip
        smoke = self._task(env, "Smoke test", "smoke", result_path="$.smoke")
        mark = self._task(env, "Mark live", "mark", result_path=sfn.JsonPath.DISCARD)
        notify_live = self._task(env, "Notify live", "notify", result_path=sfn.JsonPath.DISCARD, outcome="live",
                                 smoke=sfn.JsonPath.object_at("$.smoke"))  # fmt: skip
        steps: list[tasks.LambdaInvoke] = [deploy, check, smoke, mark, notify_live]
        for idempotent in (check, mark, notify_live):
            idempotent.add_retry(errors=[CLIENT_ERROR], interval=cdk.Duration.seconds(30), backoff_rate=2,
                                 max_attempts=3)  # fmt: skip
        wait = sfn.Wait(self, f"Wait {env}", state_name=f"Wait {env}", time=sfn.WaitTime.duration(POLL))
        updated = sfn.Choice(self, f"Stack updated {env}", state_name=f"Stack updated {env}?")
        deploy.next(wait)
        wait.next(check)
        check.next(updated.when(sfn.Condition.boolean_equals("$.stack.done", True), smoke).otherwise(wait))
        smoke.next(mark)
        mark.next(notify_live)
        notify_live.next(following)

        first: sfn.IChainable = deploy
        if target.require_approval:
            approval = tasks.LambdaInvoke(
                self,
                f"Approve {env}",
                state_name=f"Approve {env}",
                lambda_function=self._function,
                integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
                payload=sfn.TaskInput.from_object({
                    "action": "request_approval",
                    "environment": env,
                    "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
                    "request": sfn.JsonPath.object_at("$$.Execution.Input"),
                    "task_token": sfn.JsonPath.task_token,
                }),
                task_timeout=sfn.Timeout.duration(self._approval_timeout),
                retry_on_service_exceptions=True,
                result_path="$.approval",
            )  # fmt: skip
            approval.next(deploy)
            steps.insert(0, approval)
            first = approval
        for step in steps:
            step.add_catch(notify_failure, result_path="$.error")

        included = sfn.Pass(
            self, f"Include {env}", state_name=f"Include {env}?",
            parameters={"value": sfn.JsonPath.array_contains(sfn.JsonPath.list_at("$.environments"), env)},
            result_path="$.included",
        )  # fmt: skip
        choose = sfn.Choice(self, f"Deploy to {env}", state_name=f"Deploy to {env}?")
        included.next(choose.when(sfn.Condition.boolean_equals("$.included.value", True), first).otherwise(following))
        return included

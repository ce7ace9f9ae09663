"""The Lambda context object the functions' handlers receive, as far as Powertools and the handlers read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LambdaContext:
    function_name: str
    region: str = "eu-west-1"
    account: str = "123456789012"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

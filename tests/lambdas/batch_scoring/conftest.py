"""The moto SSM world of the batch-scoring tests."""

from tests.lambdas.batch_scoring.test_scoring import ssm

__all__ = ["ssm"]

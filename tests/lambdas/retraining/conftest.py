"""The moto world of the retraining function (world.py)."""

from tests.lambdas.retraining.world import aws, failing, world

__all__ = ["aws", "failing", "world"]

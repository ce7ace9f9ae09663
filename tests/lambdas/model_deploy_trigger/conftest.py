"""The moto world of the deploy-flow functions (world.py)."""

from tests.lambdas.model_deploy_trigger.world import aws, world

__all__ = ["aws", "world"]

"""The moto world of the deploy-flow functions (tests/lambdas/model_deploy_trigger/world.py) and the deploy
function's additions (deploy_world.py)."""

from tests.lambdas.model_deploy.deploy_world import deploy_world
from tests.lambdas.model_deploy_trigger.world import aws, world

__all__ = ["aws", "deploy_world", "world"]

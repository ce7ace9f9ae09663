"""The stacks each environment of a config is expected to have: the tests' own statement of the app's shape."""

from __future__ import annotations

from config.model import PlatformConfig
from config.naming import MODEL_DEPLOY_COMPONENT, MONITORING_COMPONENT, SERVING_COMPONENT

#: Every environment has these.
ENV_STACKS = ("storage", "model-build")


def components(config: PlatformConfig, env_name: str) -> set[str]:
    """storage and model-build always; serving and monitoring (health alarms, and the job where it is monitored)
    where the environment serves; model-deploy where it is the registry of a serving environment."""
    found = set(ENV_STACKS)
    if config.environments[env_name].serving is not None:
        found.add(SERVING_COMPONENT)
    if config.environments[env_name].serving is not None:
        found.add(MONITORING_COMPONENT)
    if config.served_from(env_name):
        found.add(MODEL_DEPLOY_COMPONENT)
    return found

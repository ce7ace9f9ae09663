"""stacks/serving: the endpoint of an environment and the roles through which the deploy flow changes it."""

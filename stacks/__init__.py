"""Deployable stacks and the per-environment stage. Reusable constructs live in :mod:`stacks.components`."""

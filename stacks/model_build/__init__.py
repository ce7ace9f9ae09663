"""stacks/model_build"""

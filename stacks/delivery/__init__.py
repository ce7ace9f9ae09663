"""stacks/delivery"""

"""stacks/storage"""

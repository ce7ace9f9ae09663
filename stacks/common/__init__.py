"""stacks/common"""

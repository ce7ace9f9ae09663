"""The deploy flow of a registry environment: approvals of its model package group go live in its serving
environments, in order, through a Step Functions state machine."""

"""Agents, roles, personal API tokens."""

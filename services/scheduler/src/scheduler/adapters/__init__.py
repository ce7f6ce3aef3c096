"""Adapters behind the scheduler's ports."""

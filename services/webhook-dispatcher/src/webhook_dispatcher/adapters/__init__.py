"""Adapters behind the dispatcher's ports."""

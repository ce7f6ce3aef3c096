"""Adapters behind the transcriber's ports."""

"""transcriber service."""

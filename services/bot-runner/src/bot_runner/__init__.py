"""bot-runner service."""

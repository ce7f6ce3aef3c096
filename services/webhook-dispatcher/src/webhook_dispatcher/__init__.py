"""webhook-dispatcher service."""

"""api-gateway service."""

"""Common library: contracts, settings, messaging, storage, telemetry."""

"""Pytest fixtures for tests that need the real infrastructure without the whole platform:
`infra` (NATS, PostgreSQL and the object store, once per session) and `fresh_database` (a new
empty database on it). Loaded for every test directory (`-p devstack.pytest_plugin`)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def infra():
    """Kept outside pytest's temporary root, which another pytest session makes private (0700)
    when it starts: that would lock out PostgreSQL, which runs as its own system user under root."""
    from devstack.infra import Infrastructure

    with tempfile.TemporaryDirectory(prefix="mb-infra-", ignore_cleanup_errors=True) as root:
        infrastructure = Infrastructure(Path(root))
        yield infrastructure.start()
        infrastructure.stop()


@pytest.fixture
def fresh_database(infra) -> str:
    """The URL of a new, empty database on the session's PostgreSQL."""
    from mb_shared.database import create_database_if_missing

    url = infra.database_dsn(f"test_{uuid.uuid4().hex[:12]}")
    create_database_if_missing(url)
    return url

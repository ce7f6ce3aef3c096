"""Imported files' URLs at rest, on a real PostgreSQL: `mb-meetings rotate-secrets` seals every one
again with the newest key of MB_SECRET_KEYS, and the revision that started sealing them sealed the
ones stored before it (their meetings' locations then lose the query)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from mb_shared.database import psycopg_url
from mb_shared.migrations import alembic_config, migrate
from mb_shared.secrets import KeyRing, new_key

SIGNED = "https://files.example.com/calls/{n}.mp3?X-Amz-Signature=sig{n}"


def insert_import(conn: psycopg.Connection, n: int, file_url: str, location: str) -> None:
    conn.execute(
        "INSERT INTO meetings (account_id, kind, title, status, created_at, from_calendar, "
        "summary_complete, file_url, location) VALUES (1, 'import', %s, 'scheduled', now(), "
        "false, false, %s, %s)", (f"Call {n}", file_url, location))


def stored(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT file_url, location FROM meetings ORDER BY id").fetchall()


def test_rotation_reseals_every_file_url(fresh_database):
    old, new = new_key(), new_key()
    migrate("meetings", fresh_database)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for n in range(2):
            insert_import(conn, n, KeyRing([old]).seal(SIGNED.format(n=n)),
                          f"https://files.example.com/calls/{n}.mp3")
        conn.execute("INSERT INTO meetings (account_id, kind, title, status, created_at, "
                     "from_calendar, summary_complete) VALUES (1, 'standard', 'Plain', "
                     "'scheduled', now(), false, false)")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mb-meetings"), "rotate-secrets"],
        env={**os.environ, "DATABASE_URL": fresh_database, "MB_SECRET_KEYS": f"{new},{old}"},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "2 secret(s) sealed again" in result.stdout
    rows = stored(fresh_database)
    assert [KeyRing([new]).open(url) for url, _ in rows[:2]] == [SIGNED.format(n=n)
                                                                 for n in range(2)]
    assert rows[2] == (None, None)


def test_the_upgrade_seals_the_urls_stored_before_it(fresh_database, monkeypatch):
    key = new_key()
    monkeypatch.setenv("MB_SECRET_KEYS", key)
    engine = create_engine(psycopg_url(fresh_database), poolclass=NullPool)
    with engine.connect() as conn:
        command.upgrade(alembic_config("meetings", conn), "meetings_0001")
        conn.commit()
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        insert_import(conn, 0, SIGNED.format(n=0), SIGNED.format(n=0))
    migrate("meetings", fresh_database)
    ((file_url, location),) = stored(fresh_database)
    assert file_url.startswith("sealed:") and "sig0" not in file_url
    assert KeyRing([key]).open(file_url) == SIGNED.format(n=0)
    assert location == "https://files.example.com/calls/0.mp3"
    with engine.connect() as conn:
        command.downgrade(alembic_config("meetings", conn), "meetings_0001")
        conn.commit()
    assert stored(fresh_database)[0][0] == SIGNED.format(n=0)

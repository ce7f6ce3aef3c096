"""`mb-calendar-sync rotate-secrets` on a real PostgreSQL: every stored OAuth client secret,
refresh token and secret of an event's bot is sealed again with the newest key of
MB_SECRET_KEYS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

from mb_shared.migrations import migrate
from mb_shared.secrets import KeyRing, new_key


def test_rotation_reseals_every_oauth_secret(fresh_database):
    old, new = new_key(), new_key()
    migrate("calendar_sync", fresh_database)
    old_ring = KeyRing([old])
    calendar_ids = [uuid.uuid4(), uuid.uuid4()]
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for n, calendar_id in enumerate(calendar_ids):
            conn.execute(
                "INSERT INTO calendars (uuid, account_id, platform, provider_calendar_id, name, "
                "email, client_id, sealed_client_secret, sealed_refresh_token, status, "
                "window_days, full_sync_wanted, sync_failures, next_sync_at, created_at) VALUES "
                "(%s, 1, 'Google', %s, 'Cal', 'a@b.test', 'client', %s, %s, 'active', 30, false, "
                "0, now(), now())",
                (calendar_id, f"cal-{n}", old_ring.seal(f"secret-{n}"),
                 old_ring.seal(f"refresh-{n}")))
        series_bot = {"bot_name": "Series", "speech_to_text": {"provider": "Gladia",
                                                               "api_key": old_ring.seal("stt")},
                      "zoom": {"zoom_obf_token": old_ring.seal("obf"), "zoom_sdk_id": "sdk"}}
        conn.execute("INSERT INTO series_bots (calendar_uuid, recurring_event_id, bot_param) "
                     "VALUES (%s, 'series-1', %s)", (calendar_ids[0], json.dumps(series_bot)))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mb-calendar-sync"), "rotate-secrets"],
        env={**os.environ, "DATABASE_URL": fresh_database, "MB_SECRET_KEYS": f"{new},{old}"},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "6 secret(s) sealed again" in result.stdout
    new_ring = KeyRing([new])
    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute("SELECT provider_calendar_id, sealed_client_secret, "
                            "sealed_refresh_token FROM calendars ORDER BY 1").fetchall()
        (stored,) = conn.execute("SELECT bot_param FROM series_bots").fetchone()
    assert [(new_ring.open(s), new_ring.open(r)) for _, s, r in rows] == [
        ("secret-0", "refresh-0"), ("secret-1", "refresh-1")]
    assert new_ring.open(stored["speech_to_text"]["api_key"]) == "stt"
    assert new_ring.open(stored["zoom"]["zoom_obf_token"]) == "obf"
    assert stored["zoom"]["zoom_sdk_id"] == "sdk" and stored["bot_name"] == "Series"

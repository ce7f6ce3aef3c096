"""`mb-scheduler rotate-secrets` on a real PostgreSQL: provider keys of bots and of transcription
requests, and bots' Zoom secrets, are sealed again with the newest key of MB_SECRET_KEYS."""

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


def test_rotation_reseals_every_provider_key(fresh_database):
    old, new = new_key(), new_key()
    migrate("scheduler", fresh_database)
    old_ring = KeyRing([old])
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        bot_pk = conn.execute(
            "INSERT INTO bots (bot_id, account_id, params, status, created_at, due_at, "
            "artifacts, duration_s, speakers, recording_uploaded, transcription_finished, "
            "has_transcript, trace_context, speech_api_key, join_secrets) VALUES (%s, 1, '{}', "
            "'queued', now(), now(), '{}', 0, '[]', false, false, false, '{}', %s, %s) "
            "RETURNING id",
            (uuid.uuid4(), old_ring.seal("gladia-key"),
             json.dumps({"zoom_obf_token": old_ring.seal("obf"),
                         "zoom_sdk_pwd": old_ring.seal("pwd")}))).fetchone()[0]
        conn.execute(
            "INSERT INTO transcription_requests (id, bot_pk, provider, sealed_api_key, rerun, "
            "created_at) VALUES (%s, %s, 'Runpod', %s, true, now())",
            (uuid.uuid4(), bot_pk, old_ring.seal("runpod-key")))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mb-scheduler"), "rotate-secrets"],
        env={**os.environ, "DATABASE_URL": fresh_database, "MB_SECRET_KEYS": f"{new},{old}"},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "4 secret(s) sealed again" in result.stdout
    new_ring = KeyRing([new])
    with psycopg.connect(fresh_database) as conn:
        (bot_key, join_secrets), = conn.execute(
            "SELECT speech_api_key, join_secrets FROM bots").fetchall()
        (request_key,), = conn.execute(
            "SELECT sealed_api_key FROM transcription_requests").fetchall()
    assert new_ring.open(bot_key) == "gladia-key"
    assert new_ring.open(request_key) == "runpod-key"
    assert {k: new_ring.open(v) for k, v in join_secrets.items()} == {"zoom_obf_token": "obf",
                                                                      "zoom_sdk_pwd": "pwd"}

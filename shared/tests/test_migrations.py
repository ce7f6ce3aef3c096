"""Each service's Alembic history, on a real PostgreSQL (the devstack's, see conftest.py).

- a database migrated to head is exactly what the models describe (alembic's comparison, and the
  catalog: same columns, types, defaults, constraints and indexes as `create_all` makes);
- data written at the baseline survives the upgrade to head;
- a database `create_all` made before there were migrations (create_all/<package>.sql, the DDL
  it ran) is adopted: stamped with the baseline, then upgraded; one that differs is refused;
- `migrate` twice is a no-op; the console scripts do the same;
- `new_revision` writes a numbered revision that is correct and lint-clean.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.util import CommandError
from psycopg import sql
from psycopg.rows import dict_row
from sqlalchemy import Column, Connection, Integer, MetaData, String, create_engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.pool import NullPool
from sqlmodel.sql.sqltypes import AutoString

import scheduler
from api_gateway.models import GatewayModel
from calendar_sync.models import CalendarSyncModel
from mb_shared.database import create_database_if_missing, psycopg_url
from mb_shared.migrations import (
    COMPARE_OPTIONS,
    MigrationError,
    alembic_config,
    baseline_revision,
    head_revision,
    migrate,
    new_revision,
    schema_shape,
)
from mb_shared.settings import BaseServiceSettings
from meetings.models import MeetingsModel
from scheduler.models import SchedulerModel
from transcriber.models import TranscriberModel
from webhook_dispatcher.models import DispatcherModel

CREATE_ALL = Path(__file__).parent / "create_all"


@dataclass(frozen=True)
class Service:
    package: str
    command: str
    metadata: MetaData
    baseline: str  # the baseline's revision id, written out: it must never change
    rows: str  # plain SQL: realistic rows in every table, valid at the baseline

    def __str__(self) -> str:
        return self.package


GATEWAY_ROWS = """
INSERT INTO accounts (name, webhook_url, webhook_secret, created_at) VALUES
  ('Acme Corp', 'https://hooks.acme.example/meeting-bots',
   'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3', '2026-11-02 09:15:00+00'),
  ('Globex', NULL, 'whsec_Z2xvYmV4LXNpZ25pbmctc2VjcmV0LTAx', '2026-11-03 17:40:12.25+00');
INSERT INTO api_keys (account_id, prefix, key_hash, created_at, revoked_at)
SELECT a.id, k.prefix, k.key_hash, k.created_at::timestamptz, k.revoked_at::timestamptz
FROM (VALUES
  ('Acme Corp', 'mb_k3YqA7pL', 'b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c',
   '2026-11-02 09:15:00+00', '2026-11-20 08:00:00+00'),
  ('Acme Corp', 'mb_Pq9dW2xR', '7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730',
   '2026-11-20 08:00:00+00', NULL),
  ('Globex', 'mb_Zx01mN4s', '3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea',
   '2026-11-03 17:40:12.25+00', NULL)
) AS k (account, prefix, key_hash, created_at, revoked_at)
JOIN accounts a ON a.name = k.account;
"""

SCHEDULER_ROWS = """
INSERT INTO bots (bot_id, account_id, params, status, error, reason, message, created_at, due_at,
                  dispatched_at, joined_at, exited_at, ended_at, last_seen_at, runner_id,
                  artifacts, duration_s, speakers, recording_uploaded, data_deleted_at,
                  transcription_finished, has_transcript, transcription_error, trace_context)
VALUES
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 1,
   '{"meeting_url": "https://meet.google.com/abc-defg-hij", "bot_name": "Notetaker",
     "platform": "google_meet", "speech_to_text": {"provider": "Default"},
     "extra": {"customer": "acme", "seats": 12}}',
   'completed', NULL, 'meeting_ended', NULL, '2026-11-02 09:20:00+00', '2026-11-02 09:20:00+00',
   '2026-11-02 09:20:01.5+00', '2026-11-02 09:20:09+00', '2026-11-02 09:50:00+00',
   '2026-11-02 09:50:02+00', '2026-11-02 09:50:00+00', 'runner-7c9f',
   '{"mp4": "bots/6f1c1c3e/recording.mp4", "audio": "bots/6f1c1c3e/audio.wav",
     "speaker_timeline": "bots/6f1c1c3e/speakers.json"}',
   1791.5, '["Alice", "Bob"]', true, NULL, true, true, NULL,
   '{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}'),
  ('a0c3e8b2-77e1-4f3c-8d9e-5b1a2c3d4e5f', 1,
   '{"meeting_url": "https://teams.microsoft.com/l/meetup-join/19%3ameeting", "bot_name": "Rec",
     "platform": "microsoft_teams"}',
   'failed', 'CannotJoinMeeting', 'meeting_not_found', 'no such meeting',
   '2026-11-02 10:00:00+00', '2026-11-02 10:00:00+00', '2026-11-02 10:00:01+00', NULL, NULL,
   '2026-11-02 10:00:30+00', '2026-11-02 10:00:29+00', 'runner-7c9f', '{}', 0, '[]', false,
   '2026-11-09 10:00:30+00', false, false, NULL, '{}'),
  ('0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a', 2,
   '{"meeting_url": "https://app.zoom.us/wc/join/81234567890", "bot_name": "Scribe",
     "platform": "zoom", "start_time": 1796000000,
     "speech_to_text": {"provider": "Gladia", "api_key": "gladia-customer-key-0d9e"},
     "zoom": {"zoom_obf_token": "obf-customer-0d9e", "zoom_sdk_id": "sdk-0d9e"}}',
   'queued', NULL, NULL, NULL, '2026-11-03 18:00:00+00', '2026-12-01 08:00:00+00', NULL, NULL,
   NULL, NULL, NULL, NULL, '{}', 0, '[]', false, NULL, false, false, NULL, '{}');
INSERT INTO bot_status_history (bot_pk, status, at, error, reason, message)
SELECT b.id, h.status, h.at::timestamptz, h.error, h.reason, h.message
FROM (VALUES
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11'::uuid, 'queued', '2026-11-02 09:20:00+00',
   NULL, NULL, NULL),
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 'joining_call', '2026-11-02 09:20:02+00',
   NULL, NULL, NULL),
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 'in_call_recording', '2026-11-02 09:20:09+00',
   NULL, NULL, NULL),
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 'call_ended', '2026-11-02 09:50:00+00',
   NULL, 'meeting_ended', NULL),
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 'completed', '2026-11-02 09:50:02+00',
   NULL, 'meeting_ended', NULL),
  ('a0c3e8b2-77e1-4f3c-8d9e-5b1a2c3d4e5f', 'queued', '2026-11-02 10:00:00+00',
   NULL, NULL, NULL),
  ('a0c3e8b2-77e1-4f3c-8d9e-5b1a2c3d4e5f', 'failed', '2026-11-02 10:00:30+00',
   'CannotJoinMeeting', 'meeting_not_found', 'no such meeting'),
  ('0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a', 'queued', '2026-11-03 18:00:00+00', NULL, NULL, NULL)
) AS h (bot_id, status, at, error, reason, message)
JOIN bots b ON b.bot_id = h.bot_id;
"""

TRANSCRIBER_ROWS = """
INSERT INTO transcripts (bot_id, provider, is_current, created_at) VALUES
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 'Default', false, '2026-11-02 09:51:10+00'),
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 'Gladia', true, '2026-11-04 12:00:00+00');
INSERT INTO transcript_segments (transcript_id, position, speaker, start_time, end_time)
SELECT t.id, s.position, s.speaker, s.start_time, s.end_time
FROM transcripts t,
     (VALUES (0, 'Alice', 3.02, 6.48), (1, 'Bob', 9.1, 12.875)) AS s (position, speaker,
                                                                     start_time, end_time);
INSERT INTO transcript_words (segment_id, position, start, "end", word)
SELECT s.id, w.position, s.start_time + w.offset_s, s.start_time + w.offset_s + 0.3, w.word
FROM transcript_segments s
JOIN (VALUES (0, 0, 0.0, 'Good'), (0, 1, 0.35, 'morning'), (0, 2, 0.8, 'Bob,'),
             (1, 0, 0.0, 'The'), (1, 1, 0.25, 'beta'), (1, 2, 0.6, 'ships.'))
     AS w (segment, position, offset_s, word) ON w.segment = s.position;
"""

DISPATCHER_ROWS = """
INSERT INTO bot_targets (bot_id, account_id, url, api_key, signing_secret, extra, final_sent)
VALUES
  ('6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 1, 'https://hooks.acme.example/meeting-bots',
   'mb_k3YqA7pL0123456789', 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3',
   '{"customer": "acme", "seats": 12}', true),
  ('0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a', 2, NULL, 'mb_Zx01mN4s9876543210', NULL, NULL, false);
INSERT INTO deliveries (webhook_id, bot_id, account_id, event, url, payload, file_keys, state,
                        attempts, created_at, next_attempt_at, delivered_at) VALUES
  ('11111111-2222-4333-8444-555555555555', '6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 1,
   'bot.status_change', 'https://hooks.acme.example/meeting-bots',
   '{"event": "bot.status_change", "data": {"bot_id": "6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11",
     "status": {"code": "joining_call", "created_at": "2026-11-02T09:20:02Z"}}}',
   '{}', 'delivered', 1, '2026-11-02 09:20:02+00', NULL, '2026-11-02 09:20:02.3+00'),
  ('66666666-7777-4888-9999-aaaaaaaaaaaa', '6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', 1,
   'complete', 'https://hooks.acme.example/meeting-bots',
   '{"event": "complete", "data": {"bot_id": "6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11",
     "speakers": ["Alice", "Bob"], "transcript": []}}',
   '{"mp4": "bots/6f1c1c3e/recording.mp4", "audio": null}', 'pending', 2,
   '2026-11-02 09:50:03+00', '2026-11-02 09:55:03+00', NULL),
  ('bbbbbbbb-cccc-4ddd-8eee-ffffffffffff', '0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a', NULL,
   'bot.status_change', NULL, '{"event": "bot.status_change"}', '{}', 'no_url', 0,
   '2026-11-03 18:00:01+00', NULL, NULL);
INSERT INTO delivery_attempts (delivery_id, number, started_at, duration_ms, status_code, error,
                               response_excerpt)
SELECT d.id, a.number, a.started_at::timestamptz, a.duration_ms, a.status_code, a.error, a.excerpt
FROM deliveries d
JOIN (VALUES
  ('11111111-2222-4333-8444-555555555555'::uuid, 1, '2026-11-02 09:20:02+00', 212, 200, NULL,
   'ok'),
  ('66666666-7777-4888-9999-aaaaaaaaaaaa', 1, '2026-11-02 09:50:03+00', 2000, NULL,
   'timeout after 2.0 s', NULL),
  ('66666666-7777-4888-9999-aaaaaaaaaaaa', 2, '2026-11-02 09:50:08+00', 48, 503, NULL,
   '<html>Service Unavailable</html>')
) AS a (webhook_id, number, started_at, duration_ms, status_code, error, excerpt)
  ON a.webhook_id = d.webhook_id;
INSERT INTO gone_endpoints (account_id, url, gone_at, webhook_id) VALUES
  (3, 'https://old.initech.example/hook', '2026-10-30 07:00:00+00',
   'cccccccc-dddd-4eee-8fff-000000000000');
"""

CALENDAR_ROWS = """
INSERT INTO calendars (uuid, account_id, platform, provider_calendar_id, name, email, client_id,
                       sealed_client_secret, sealed_refresh_token, status, status_message,
                       window_days, sync_cursor, cursor_window_end, sync_requested_at,
                       full_sync_wanted, sync_failures, last_sync_error, next_sync_at,
                       last_synced_at, created_at)
VALUES
  ('3a9d6f0e-2b4c-4d8e-9f1a-5c7e9b1d3f20', 1, 'Google', 'jane@acme.example', 'Jane Doe',
   'jane@acme.example', '123-abc.apps.googleusercontent.com', 'sealed:gAAAAABl-secret',
   'sealed:gAAAAABl-refresh', 'active', NULL, 30, 'CPDAlvWDx70CEPDAlvWDx70CGAU=',
   '2026-12-31 10:00:00+00', NULL, false, 0, NULL, '2026-12-01 10:15:00+00',
   '2026-12-01 10:00:02+00', '2026-11-30 08:00:00+00'),
  ('8b1e3c5d-7f9a-4b2c-8d4e-6f8a0b2c4d61', 2, 'Microsoft', 'AAMkAGI2TG93AAA=', 'Calendar',
   'ops@globex.example', 'c0ffee00-1111-2222-3333-444455556666', 'sealed:gAAAAABl-ms-secret',
   'sealed:gAAAAABl-ms-refresh', 'refresh_failed',
   'Microsoft refused the refresh token: AADSTS70008: expired', 30, NULL, NULL,
   '2026-12-01 09:00:00+00', true, 3, 'AADSTS70008: expired', '2026-12-01 09:05:00+00', NULL,
   '2026-11-29 12:00:00+00');
INSERT INTO push_channels (channel_id, calendar_uuid, token_sha256, resource_id, expires_at,
                           created_at)
VALUES ('1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b', '3a9d6f0e-2b4c-4d8e-9f1a-5c7e9b1d3f20',
        '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'o3hgv1538sdjfh',
        '2026-12-07 10:00:00+00', '2026-11-30 10:00:00+00');
INSERT INTO calendar_events (uuid, calendar_uuid, account_id, provider_event_id, name, start_time,
                             end_time, meeting_url, attendees, organizer_email, is_organizer,
                             is_recurring, recurring_event_id, deleted, raw, last_updated_at,
                             bot_param)
VALUES
  ('7c2e4a6b-8d0f-4a1c-9e3b-5d7f9a1b3c40', '3a9d6f0e-2b4c-4d8e-9f1a-5c7e9b1d3f20', 1,
   'k1s2_20261202T090000Z', 'Weekly sync', '2026-12-02 09:00:00+00', '2026-12-02 09:30:00+00',
   'https://meet.google.com/abc-defg-hij',
   '[{"email": "jane@acme.example", "name": "Jane Doe"}, {"email": "bob@acme.example", "name": null}]',
   'jane@acme.example', true, true, 'k1s2', false,
   '{"id": "k1s2_20261202T090000Z", "status": "confirmed", "summary": "Weekly sync"}',
   '2026-12-01 10:00:02+00', '{"bot_name": "Notetaker"}'),
  ('9d3f5b7c-0e2a-4c6e-8f1b-3d5f7b9d1e82', '8b1e3c5d-7f9a-4b2c-8d4e-6f8a0b2c4d61', 2,
   'AAMkAGI2TG93AAA_evt', 'Board review', '2026-12-03 15:00:00+00', '2026-12-03 16:00:00+00', '',
   '[]', 'ceo@globex.example', false, false, NULL, true, '{"id": "AAMkAGI2TG93AAA_evt"}',
   '2026-11-30 12:00:00+00', NULL);
INSERT INTO outbox (event_id, subject, payload, trace_context, created_at) VALUES
  ('5e1f3a7c-9b2d-4f6e-8a0c-1d3e5f7a9b21', 'calendar.synced',
   '{"calendar_uuid": "3a9d6f0e-2b4c-4d8e-9f1a-5c7e9b1d3f20", "account_id": 1}', '{}',
   '2026-12-01 10:00:02+00');
"""


MEETINGS_ROWS = """
INSERT INTO meetings (account_id, kind, title, status, error, start_time, end_time, created_at,
                      location, language, topic_id, bot_id, from_calendar, calendar_event,
                      host_id, file_url, speaker_count, duration_s, num_cluster,
                      summary_complete, summary, notes, keywords, recording_key,
                      recording_format)
VALUES
  (1, 'bot', 'Quarterly planning', 'completed', NULL, '2026-12-01 10:00:05+00',
   '2026-12-01 10:31:00+00', '2026-12-01 09:58:00+00', 'https://meet.google.com/abc-defg-hij',
   'en', 1, '6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11', true,
   '{"event_id": "evt_7f3a", "summary": "Quarterly planning", "attendees": []}', 1, NULL, 2,
   1855.0, 2, true, 'Alice and Bob planned the quarter.', '- **Alice**: budget approved',
   '["budget", "hiring"]', 'bots/6f1c1c3e/recording.mp4', 'mp4'),
  (1, 'standard', 'Interview notes', 'scheduled', NULL, NULL, NULL, '2026-12-02 08:00:00+00',
   NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, '[]',
   NULL, NULL);
INSERT INTO people (account_id, identity, name, email) VALUES
  (1, 'email:alice@acme.example', 'Alice', 'alice@acme.example'),
  (1, 'name:Bob', 'Bob', NULL);
INSERT INTO meeting_participants (meeting_id, person_id)
SELECT m.id, p.id FROM meetings m, people p WHERE m.title = 'Quarterly planning';
INSERT INTO transcript_lines (meeting_id, position, speaker, text, start_time, end_time)
SELECT m.id, l.position, l.speaker, l.text, l.start_time, l.end_time
FROM (VALUES (0, 'Alice', 'The budget is approved.', 1.5, 3.0),
             (1, 'Bob', 'Then we hire two engineers.', 3.4, 5.9)) AS l
     (position, speaker, text, start_time, end_time)
JOIN meetings m ON m.title = 'Quarterly planning';
INSERT INTO outbox (event_id, subject, payload, trace_context, created_at) VALUES
  ('5d1e9c3a-7b2f-4a6e-8c0d-1f2e3a4b5c6d', 'meeting.bot_requested',
   '{"meeting_id": 1, "bot_id": "6f1c1c3e-2d4b-4d0a-9a55-0f6b7f0e2a11"}', '{}',
   '2026-12-01 09:58:00+00');
"""


SERVICES = [
    Service("api_gateway", "mb-api-gateway", GatewayModel.metadata, "api_gateway_0001",
            GATEWAY_ROWS),
    Service("scheduler", "mb-scheduler", SchedulerModel.metadata, "scheduler_0001",
            SCHEDULER_ROWS),
    Service("transcriber", "mb-transcriber", TranscriberModel.metadata, "transcriber_0001",
            TRANSCRIBER_ROWS),
    Service("webhook_dispatcher", "mb-webhook-dispatcher", DispatcherModel.metadata,
            "webhook_dispatcher_0001", DISPATCHER_ROWS),
    Service("calendar_sync", "mb-calendar-sync", CalendarSyncModel.metadata,
            "calendar_sync_0001", CALENDAR_ROWS),
    Service("meetings", "mb-meetings", MeetingsModel.metadata, "meetings_0001", MEETINGS_ROWS),
]
each_service = pytest.mark.parametrize("service", SERVICES, ids=str)
each_adopted_service = pytest.mark.parametrize(
    "service", [s for s in SERVICES if (CREATE_ALL / f"{s.package}.sql").exists()], ids=str)
"""The services that ran `create_all` before they had migrations (meetings never did)."""


@pytest.fixture(autouse=True, scope="module")
def key_ring():
    """Revisions that seal secrets already stored need the key ring, as `migrate` does."""
    from mb_shared.secrets import new_key

    previous = os.environ.get("MB_SECRET_KEYS")
    os.environ["MB_SECRET_KEYS"] = new_key()
    yield
    if previous is None:
        os.environ.pop("MB_SECRET_KEYS")
    else:
        os.environ["MB_SECRET_KEYS"] = previous


# ------------------------------------------------------------------------------------ helpers
def connect(dsn: str) -> Connection:
    """A SQLAlchemy connection; without a pool, closing it closes the database connection."""
    engine = create_engine(psycopg_url(dsn), poolclass=NullPool)
    return engine.connect()


def run_sql(dsn: str, statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statements)


def version(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0]
        if exists is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else row[0]


def shape(dsn: str) -> dict:
    with connect(dsn) as conn:
        return schema_shape(conn)


def table_rows(dsn: str, tables: dict[str, list[str]] | None = None) -> dict[str, list[dict]]:
    """Every row of every table but alembic_version (or of `tables`, only the columns named),
    in a stable order."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        if tables is None:
            names = [r["tablename"] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'")]
            tables = {name: [] for name in names}
        out = {}
        for table, columns in tables.items():
            listed = sql.SQL(", ").join(map(sql.Identifier, columns)) if columns else sql.SQL("*")
            query = sql.SQL("SELECT {} FROM {}").format(listed, sql.Identifier(table))
            rows = conn.execute(query).fetchall()
            out[table] = sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))
        return out


def upgrade_to(service: Service, dsn: str, revision: str) -> None:
    with connect(dsn) as conn:
        command.upgrade(alembic_config(service.package, conn), revision)
        conn.commit()


def create_all_database(service: Service, dsn: str) -> None:
    """What `mb-<service> migrate` made before there were migrations: the DDL create_all ran."""
    run_sql(dsn, (CREATE_ALL / f"{service.package}.sql").read_text())


# -------------------------------------------------------------------------- models vs history
@each_service
def test_history_has_one_base_and_one_head(service: Service) -> None:
    assert baseline_revision(service.package) == service.baseline
    assert head_revision(service.package).startswith(f"{service.package}_")


@each_service
def test_head_matches_the_models(service: Service, new_database) -> None:
    dsn = new_database()
    migrate(service.package, dsn)
    assert version(dsn) == head_revision(service.package)
    with connect(dsn) as conn:
        context = MigrationContext.configure(conn, opts=COMPARE_OPTIONS)
        assert compare_metadata(context, service.metadata) == []


@each_service
def test_the_comparison_sees_a_model_the_history_lacks(service: Service, new_database) -> None:
    """The test above can fail: a column, an index and a nullability the migrations do not have
    are all reported."""
    dsn = new_database()
    migrate(service.package, dsn)
    altered = MetaData()
    for table in service.metadata.sorted_tables:
        table.to_metadata(altered)
    table = next(t for t in altered.sorted_tables if t.indexes)
    table.append_column(Column("surprise", String(), nullable=True))
    nullable_column = next(c for c in table.columns if not c.primary_key and not c.nullable)
    nullable_column.nullable = True
    index = next(iter(table.indexes))
    table.indexes.remove(index)
    with connect(dsn) as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts=COMPARE_OPTIONS), altered)
    flat = [d if isinstance(d, tuple) else d[0] for d in diffs]
    assert {d[0] for d in flat} == {"add_column", "remove_index", "modify_nullable"}
    assert next(d for d in flat if d[0] == "add_column")[3].name == "surprise"
    assert next(d for d in flat if d[0] == "remove_index")[1].name == index.name
    assert next(d for d in flat if d[0] == "modify_nullable")[3] == nullable_column.name


@each_service
def test_head_is_exactly_what_create_all_makes(
    service: Service, fresh_database, new_database
) -> None:
    """Stricter than alembic's comparison: the catalog of both, every column type and default,
    constraint and index definition, and their names."""
    by_create_all, by_migrations = fresh_database, new_database()
    engine = create_engine(psycopg_url(by_create_all), poolclass=NullPool)
    try:
        service.metadata.create_all(engine)
    finally:
        engine.dispose()
    migrate(service.package, by_migrations)
    migrated = shape(by_migrations)
    assert migrated.pop("alembic_version")
    assert migrated == shape(by_create_all)


# ------------------------------------------------------------------------------------- upgrade
@each_service
def test_data_written_at_the_baseline_survives_the_upgrade(service: Service, fresh_database) -> None:
    dsn = fresh_database
    upgrade_to(service, dsn, service.baseline)
    run_sql(dsn, service.rows)
    before = table_rows(dsn)
    assert set(before) == set(shape(dsn)) - {"alembic_version"}  # every table ...
    assert all(before.values()), before  # ... holds rows

    migrate(service.package, dsn)

    assert version(dsn) == head_revision(service.package)
    assert_data_survived(service, dsn, before)


def assert_data_survived(service: Service, dsn: str, before: dict[str, list[dict]]) -> None:
    """The columns of the baseline hold what they held, but those a later revision transforms:
    what becomes of them is checked by `TRANSFORMED`."""
    after = shape(dsn)
    changed = TRANSFORMED.get(service.package)
    columns = {
        t: [c for c in rows[0] if ("column", c) in after[t]
            and (changed is None or c not in changed.columns.get(t, ()))]
        for t, rows in before.items()
    }
    assert table_rows(dsn, columns) == table_rows_of(before, columns)
    if changed is not None:
        changed.check(before, table_rows(dsn))


def table_rows_of(rows: dict[str, list[dict]], columns: dict[str, list[str]]):
    out = {t: [{c: row[c] for c in columns[t]} for row in table] for t, table in rows.items()}
    return {t: sorted(table, key=lambda r: json.dumps(r, default=str, sort_keys=True))
            for t, table in out.items()}


@dataclass
class Transformed:
    """Columns a revision rewrites, and the check of what they hold afterwards."""

    columns: dict[str, set[str]]
    check: Any


def _gateway_secrets_sealed(before, after) -> None:
    ring = BaseServiceSettings().key_ring()
    was = {a["id"]: a["webhook_secret"] for a in before["accounts"]}
    for account in after["accounts"]:
        assert account["webhook_secret"].startswith("sealed:")
        assert ring.open(account["webhook_secret"]) == was[account["id"]]
    assert all(k["key_sealed"] is None for k in after["api_keys"]), "keys were only hashed"


def _scheduler_secrets_sealed(before, after) -> None:
    ring = BaseServiceSettings().key_ring()
    for bot_before, bot in zip(before["bots"], after["bots"], strict=True):
        stt = bot_before["params"].get("speech_to_text") or {}
        zoom = bot_before["params"].get("zoom") or {}
        secrets = {k: v for k, v in zoom.items() if k in ("zoom_obf_token", "zoom_sdk_pwd")}
        assert bot["params"] == {**bot_before["params"], **(
            {"speech_to_text": {**stt, "api_key": None}} if stt.get("api_key") else {}), **(
            {"zoom": {k: v for k, v in zoom.items() if k not in secrets}} if secrets else {})}
        if stt.get("api_key"):
            assert ring.open(bot["speech_api_key"]) == stt["api_key"]
        else:
            assert bot["speech_api_key"] is None
        assert {k: ring.open(v) for k, v in (bot["join_secrets"] or {}).items()} == secrets


def _dispatcher_without_secrets(before, after) -> None:
    finals = {}
    for delivery in before["deliveries"]:
        if delivery["event"] in ("complete", "failed"):
            finals.setdefault(delivery["bot_id"], delivery["created_at"])
    for target in after["bot_targets"]:
        assert "api_key" not in target and "signing_secret" not in target
        was = next(t for t in before["bot_targets"] if t["bot_id"] == target["bot_id"])
        assert target["final_at"] == (finals.get(target["bot_id"]) if was["final_sent"] else None)
    for delivery in after["deliveries"]:
        assert delivery["occurred_at"] == delivery["created_at"]
        assert (delivery["needs_transcript"], delivery["deferrals"]) == (False, 0)


TRANSFORMED = {
    "api_gateway": Transformed({"accounts": {"webhook_secret"}}, _gateway_secrets_sealed),
    "scheduler": Transformed({"bots": {"params"}}, _scheduler_secrets_sealed),
    "webhook_dispatcher": Transformed({"bot_targets": {"final_sent"}},
                                      _dispatcher_without_secrets),
}


@each_service
def test_migrate_twice_is_a_no_op(service: Service, new_database) -> None:
    dsn = new_database()
    create_database_if_missing(dsn)
    upgrade_to(service, dsn, service.baseline)
    run_sql(dsn, service.rows)
    migrate(service.package, dsn)
    with psycopg.connect(dsn) as conn:
        stamp = conn.execute("SELECT xmin::text, version_num FROM alembic_version").fetchall()
        oids = conn.execute("SELECT relname, oid FROM pg_class WHERE relnamespace = "
                            "'public'::regnamespace ORDER BY relname").fetchall()
    schema, rows = shape(dsn), table_rows(dsn)

    migrate(service.package, dsn)

    with psycopg.connect(dsn) as conn:
        # alembic_version not even rewritten, no relation dropped and made again
        assert conn.execute("SELECT xmin::text, version_num FROM alembic_version").fetchall() == stamp
        assert conn.execute("SELECT relname, oid FROM pg_class WHERE relnamespace = "
                            "'public'::regnamespace ORDER BY relname").fetchall() == oids
    assert shape(dsn) == schema
    assert table_rows(dsn) == rows


@each_service
def test_downgrade_to_base_and_up_again(service: Service, new_database) -> None:
    dsn = new_database()
    migrate(service.package, dsn)
    with connect(dsn) as conn:
        command.downgrade(alembic_config(service.package, conn), "base")
        conn.commit()
    assert set(shape(dsn)) == {"alembic_version"}
    assert version(dsn) is None
    migrate(service.package, dsn)
    assert version(dsn) == head_revision(service.package)


# -------------------------------------------------------------------------------------- adopt
@each_adopted_service
def test_a_create_all_database_is_adopted(service: Service, fresh_database, caplog) -> None:
    dsn = fresh_database
    create_all_database(service, dsn)
    run_sql(dsn, service.rows)
    before = table_rows(dsn)
    assert version(dsn) is None

    with caplog.at_level(logging.INFO):
        migrate(service.package, dsn)

    assert f"stamping {service.baseline}" in caplog.text
    assert version(dsn) == head_revision(service.package)
    assert_data_survived(service, dsn, before)
    with psycopg.connect(dsn) as conn:  # the scratch schema of the comparison is gone
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = "
                            "'mb_baseline_check'").fetchone() == (0,)

    caplog.clear()
    migrate(service.package, dsn)
    assert "stamping" not in caplog.text
    assert version(dsn) == head_revision(service.package)


@each_adopted_service
def test_a_database_that_differs_is_refused(service: Service, fresh_database) -> None:
    dsn = fresh_database
    create_all_database(service, dsn)
    baseline = shape(dsn)  # the models have grown since: pick from what the baseline has
    first = next(t for t in service.metadata.sorted_tables if t.name in baseline and any(
        ("index", i.name) in baseline[t.name] for i in t.indexes))
    index = sorted(i.name for i in first.indexes if ("index", i.name) in baseline[first.name])[0]
    run_sql(dsn, f"ALTER TABLE {first.name} ADD COLUMN surprise text; DROP INDEX {index};"
                 "CREATE TABLE notes (id serial PRIMARY KEY)")
    schema = shape(dsn)

    with pytest.raises(MigrationError) as refused:
        migrate(service.package, dsn)

    message = str(refused.value)
    assert f"differ from the baseline revision {service.baseline}" in message
    assert f"table {first.name}: column surprise not in the baseline (text NULL)" in message
    assert f"table {first.name}: index {index} missing" in message
    assert "table notes: not in the baseline" in message
    assert message.count("\n  - ") == 3  # nothing else differs
    assert version(dsn) is None
    assert shape(dsn) == schema  # untouched


def test_a_database_newer_than_the_code_is_left_alone(fresh_database) -> None:
    """An older image's migrate (a rollback) meets a revision it does not know."""
    service = SERVICES[1]
    dsn = fresh_database
    migrate(service.package, dsn)
    run_sql(dsn, "UPDATE alembic_version SET version_num = 'scheduler_9999'")
    schema = shape(dsn)
    with pytest.raises(CommandError, match="Can't locate revision identified by 'scheduler_9999'"):
        migrate(service.package, dsn)
    assert version(dsn) == "scheduler_9999"
    assert shape(dsn) == schema


# -------------------------------------------------------------------------------- command line
def console_script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@each_service
def test_the_migrate_command(service: Service, new_database) -> None:
    dsn = new_database()
    env = {**os.environ, "DATABASE_URL": dsn, "LOG_LEVEL": "INFO"}
    for _ in range(2):
        done = subprocess.run([console_script(service.command), "migrate"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert version(dsn) == head_revision(service.package)


def test_the_migrate_command_refuses_with_the_differences(fresh_database) -> None:
    service = SERVICES[1]
    dsn = fresh_database
    create_all_database(service, dsn)
    run_sql(dsn, "ALTER TABLE bots ALTER COLUMN runner_id TYPE varchar(64)")
    done = subprocess.run([console_script(service.command), "migrate"],
                          env={**os.environ, "DATABASE_URL": dsn}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert ("mb-scheduler migrate: scheduler: the database has tables but no alembic_version"
            in done.stderr)
    assert ("table bots: column runner_id is character varying(64) NULL, the baseline has "
            "character varying NULL") in done.stderr
    assert version(dsn) is None


# ------------------------------------------------------------------------------------ revision
PROBE_ENV = '''
from mb_revision_probe.models import metadata
from mb_shared.migrations import run_env

run_env(metadata)
'''

PROBE_MODELS = '''
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", String))
'''


@pytest.fixture
def probe_package(tmp_path: Path, monkeypatch) -> Any:
    """A service-like package with an empty history, importable from tmp_path."""
    package = tmp_path / "mb_revision_probe"
    (package / "migrations" / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(PROBE_MODELS)
    (package / "migrations" / "env.py").write_text(PROBE_ENV)
    services_template = Path(scheduler.__file__).parent / "migrations" / "script.py.mako"
    (package / "migrations" / "script.py.mako").write_text(services_template.read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [m for m in sys.modules if m.startswith("mb_revision_probe")]:
        del sys.modules[name]


def test_new_revision_numbers_and_writes_what_the_models_add(
    probe_package: Path, infra, new_database
) -> None:
    import mb_revision_probe.models as models

    server = infra.database_dsn("probe")  # its server only: never created
    first = new_revision("mb_revision_probe", server, "notes")
    assert first.name == "mb_revision_probe_0001_notes.py"
    assert "op.create_table('notes'" in first.read_text().replace('"', "'")

    notes = models.metadata.tables["notes"]
    notes.append_column(Column("pinned", Integer, nullable=True))
    notes.append_column(Column("tags", JSONB, nullable=True))
    notes.append_column(Column("title", AutoString, nullable=True))  # what SQLModel's str makes
    second = new_revision("mb_revision_probe", server, "Pin and tag notes")
    assert second.name == "mb_revision_probe_0002_pin_and_tag_notes.py"
    written = second.read_text()
    assert "down_revision: str | Sequence[str] | None = 'mb_revision_probe_0001'" in written
    assert "op.add_column('notes', sa.Column('pinned', sa.Integer(), nullable=True))" in written
    assert "sa.Column('tags', postgresql.JSONB(astext_type=sa.Text()), nullable=True)" in written
    assert "sa.Column('title', sa.String(), nullable=True)" in written  # no sqlmodel import

    # What the revisions build is what the models say.
    dsn = new_database()
    migrate("mb_revision_probe", dsn)
    assert version(dsn) == "mb_revision_probe_0002"
    with connect(dsn) as conn:
        context = MigrationContext.configure(conn, opts=COMPARE_OPTIONS)
        assert compare_metadata(context, models.metadata) == []
    # The scratch databases were dropped.
    with psycopg.connect(infra.postgres_dsn) as conn:
        assert conn.execute("SELECT datname FROM pg_database WHERE datname LIKE "
                            "'mb_revision_probe%'").fetchall() == []
    # The files pass the project's lint as written.
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", "pyproject.toml",
         str(first), str(second)],
        capture_output=True, text=True, cwd=Path(__file__).parents[2],
    )
    assert lint.returncode == 0, lint.stdout

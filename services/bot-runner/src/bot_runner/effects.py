"""The session's effects on the platform: events on NATS and files in the object store.

Called from the session's worker thread; each call runs on the service's event loop and waits.
The runner keeps no state of its own, so its events are the only record of what the bot saw: an
event that NATS does not take is published again, with a growing delay, until it is taken.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from uuid import UUID

from faststream.nats import NatsBroker
from opentelemetry import context as otel_context

from mb_shared.contracts.base import Event
from mb_shared.contracts.bot import BotError, BotNoted, BotStatus, BotStatusChanged, EndReason
from mb_shared.contracts.calendar import GetZoomObfToken, SealedObfToken
from mb_shared.contracts.queries import GetJoinSecrets, JoinSecrets, QueryError
from mb_shared.contracts.recording import RecordingArtifacts, RecordingPiece, RecordingUploaded
from mb_shared.messaging import ask, publish_event
from mb_shared.secrets import OneTimeRecipient
from mb_shared.storage import ObjectStore

log = logging.getLogger(__name__)

_TIMEOUT_S = 600.0
_ASK_TIMEOUT_S = 15.0
_MAX_BACKOFF_S = 10.0


async def publish_until_taken(broker: NatsBroker, event: Event, *, give_up_after_s: float) -> None:
    """Publish (same event id each time, so the stream keeps one copy) until the stream takes it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after_s
    backoff = 0.2
    while True:
        try:
            await publish_event(broker, event)
            return
        except Exception as exc:
            if loop.time() + backoff > deadline:
                raise
            log.warning("%s not taken by NATS (%s); again in %.1f s", event.SUBJECT,
                        type(exc).__name__, backoff, extra={"bot_id": getattr(event, "bot_id", None)})
            await asyncio.sleep(backoff)
            backoff = min(_MAX_BACKOFF_S, backoff * 2)


class BusEffects:
    def __init__(self, loop: asyncio.AbstractEventLoop, broker: NatsBroker, store: ObjectStore,
                 bot_id: UUID, account_id: int, runner_id: str) -> None:
        self._loop = loop
        self._broker = broker
        self._store = store
        self._bot_id = bot_id
        self._account_id = account_id
        self._runner_id = runner_id

    def _publish(self, event: Event) -> None:
        self._run(publish_until_taken(self._broker, event, give_up_after_s=_TIMEOUT_S - 10))

    def _run(self, coro):
        """Run on the loop within this thread's trace context, so that the trace goes on."""
        trace_context = otel_context.get_current()

        async def in_context():
            token = otel_context.attach(trace_context)
            try:
                return await coro
            finally:
                otel_context.detach(token)

        return asyncio.run_coroutine_threadsafe(in_context(), self._loop).result(_TIMEOUT_S)

    def _key(self, name: str) -> str:
        return f"bots/{self._bot_id}/{name}"

    def status(self, status: BotStatus, *, error: BotError | None = None,
               reason: EndReason | None = None, message: str | None = None) -> None:
        event = BotStatusChanged(bot_id=self._bot_id, status=status, error=error, reason=reason,
                                 message=message, runner_id=self._runner_id)
        self._publish(event)

    def note(self, message: str) -> None:
        self._publish(BotNoted(bot_id=self._bot_id, message=message, runner_id=self._runner_id))

    def piece(self, event: RecordingPiece) -> None:
        self._publish(event)

    def upload(self, name: str, path: Path, content_type: str) -> str:
        key = self._key(name)
        self._run(self._store.put_file(key, path, content_type))
        return key

    def upload_bytes(self, name: str, data: bytes, content_type: str) -> str:
        key = self._key(name)
        self._run(self._store.put_bytes(key, data, content_type))
        return key

    def join_secrets(self) -> dict[str, str] | QueryError:
        """The bot's Zoom secrets, from the scheduler, sealed to a key made for this answer."""
        recipient = OneTimeRecipient()
        query = GetJoinSecrets(bot_id=self._bot_id, runner_id=self._runner_id,
                               recipient_key=recipient.public_key)
        reply = self._ask(query, JoinSecrets, "the scheduler")
        if isinstance(reply, QueryError):
            return reply
        return {name: recipient.open(sealed) for name, sealed in reply.secrets.items()}

    def _ask(self, query, reply_type, who: str):
        try:
            return self._run(ask(self._broker, query, reply_type, timeout=_ASK_TIMEOUT_S))
        except Exception as exc:  # no responder, a timeout: the service is not there now
            return QueryError(status=503, code="ServiceUnavailable",
                              message=f"{who} did not answer ({type(exc).__name__})")

    def zoom_obf_token(self, zoom_user_id: str, meeting_id: str) -> str | QueryError:
        """An OBF token of the account's Zoom connection for the user, from calendar-sync, which
        seals it to a key made for this one answer (the runner holds no key ring)."""
        recipient = OneTimeRecipient()
        query = GetZoomObfToken(account_id=self._account_id, zoom_user_id=zoom_user_id,
                                meeting_id=meeting_id, recipient_key=recipient.public_key)
        reply = self._ask(query, SealedObfToken, "calendar-sync")
        if isinstance(reply, QueryError):
            return reply
        return recipient.open(reply.sealed_token)

    def recording_uploaded(self, artifacts: RecordingArtifacts, started_at: datetime | None,
                           duration_s: float, end_reason: EndReason, speakers: list[str]) -> None:
        event = RecordingUploaded(
            bot_id=self._bot_id, artifacts=artifacts, started_at=started_at,
            duration_s=duration_s, end_reason=end_reason, speakers=speakers,
        )
        self._publish(event)

"""The session's effects on the platform: events on NATS and files in the object store.

Called from the session's worker thread; each call runs on the service's event loop and waits.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from uuid import UUID

from faststream.nats import NatsBroker
from opentelemetry import context as otel_context

from mb_shared.contracts.bot import BotError, BotStatus, BotStatusChanged, EndReason, SpeechToText
from mb_shared.contracts.recording import RecordingArtifacts, RecordingUploaded
from mb_shared.messaging import publish_event
from mb_shared.storage import ObjectStore

_TIMEOUT_S = 600.0


class BusEffects:
    def __init__(self, loop: asyncio.AbstractEventLoop, broker: NatsBroker, store: ObjectStore,
                 bot_id: UUID, runner_id: str, speech_to_text: SpeechToText | None) -> None:
        self._loop = loop
        self._broker = broker
        self._store = store
        self._bot_id = bot_id
        self._runner_id = runner_id
        self._speech_to_text = speech_to_text

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
        self._run(publish_event(self._broker, event))

    def upload(self, name: str, path: Path, content_type: str) -> str:
        key = self._key(name)
        self._run(self._store.put_file(key, path, content_type))
        return key

    def upload_bytes(self, name: str, data: bytes, content_type: str) -> str:
        key = self._key(name)
        self._run(self._store.put_bytes(key, data, content_type))
        return key

    def recording_uploaded(self, artifacts: RecordingArtifacts, started_at: datetime | None,
                           duration_s: float, end_reason: EndReason, speakers: list[str]) -> None:
        event = RecordingUploaded(
            bot_id=self._bot_id, artifacts=artifacts, started_at=started_at,
            duration_s=duration_s, end_reason=end_reason, speakers=speakers,
            speech_to_text=self._speech_to_text,
        )
        self._run(publish_event(self._broker, event))

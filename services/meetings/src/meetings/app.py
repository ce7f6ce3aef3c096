"""Builds the meetings service: database, outbox, object store, the guarded HTTP session that
fetches imported files, the summariser (local, or a chat-completions API when one is
configured), the transcriber's transcripts, broker."""

from __future__ import annotations

from uuid import UUID

import aiohttp
from faststream import FastStream

from mb_shared.contracts.queries import GetTranscript, QueryError, TranscriptReply
from mb_shared.contracts.transcription import TranscriptSegment
from mb_shared.messaging import ask
from mb_shared.service_kit import ServiceKit
from mb_shared.storage import ObjectStore
from mb_shared.url_guard import guarded_session
from meetings.book import MeetingBook
from meetings.handlers import SERVICE, build_router, consume
from meetings.imports import FileImporter
from meetings.models import OUTBOX
from meetings.settings import MeetingsSettings
from meetings.summaries import ChatCompletionsSummariser, LocalSummariser, Summariser


class _Sessions:
    """HTTP sessions opened once the event loop runs: the guarded one for customers' files, and
    a plain one for the operator's summary API."""

    def __init__(self, kit: ServiceKit, settings: MeetingsSettings) -> None:
        self.files: aiohttp.ClientSession | None = None
        self.summaries: aiohttp.ClientSession | None = None

        @kit.app.on_startup
        async def open_sessions() -> None:
            self.files = guarded_session(settings.outbound_policy)
            kit.on_close(self.files.close)
            self.summaries = aiohttp.ClientSession()
            kit.on_close(self.summaries.close)

    def for_files(self) -> aiohttp.ClientSession:
        assert self.files is not None, "the service has not started"
        return self.files

    def for_summaries(self) -> aiohttp.ClientSession:
        assert self.summaries is not None, "the service has not started"
        return self.summaries


def build_app(settings: MeetingsSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    sessions = kit.database()
    outbox = kit.outbox(OUTBOX, sessions)
    http = _Sessions(kit, settings)

    async def transcripts(bot_id: UUID) -> list[TranscriptSegment] | None:
        reply = await ask(kit.broker, GetTranscript(bot_id=bot_id), TranscriptReply,
                          timeout=30.0)
        if isinstance(reply, QueryError):
            raise RuntimeError(f"the transcriber did not give {bot_id}'s transcript: "
                               f"{reply.message}")
        return reply.segments if reply.transcript_id is not None else None

    summariser: Summariser = LocalSummariser()
    if settings.summary_api_url:
        summariser = ChatCompletionsSummariser(
            base_url=settings.summary_api_url, api_key=settings.summary_api_key,
            model=settings.summary_model, session=http.for_summaries,
            timeout_s=settings.summary_timeout_s)
    importer = FileImporter(ObjectStore(settings), http.for_files, settings.outbound_policy,
                            settings.work_dir, max_bytes=int(settings.import_max_mb * 1e6),
                            timeout_s=settings.import_timeout_s)
    book = MeetingBook(sessions, outbox, summariser, transcripts, importer,
                       import_attempts=kit.retry.max_attempts, key_ring=settings.key_ring())
    consume(kit, book)
    kit.broker.include_router(build_router(book))
    return kit.app

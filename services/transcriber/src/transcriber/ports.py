"""Ports the transcriber's logic depends on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from uuid import UUID

from mb_shared.contracts.transcription import TranscriptionDone, TranscriptSegment
from transcriber.attribution import Segment


class TranscriptRepository(Protocol):
    async def handled(self, request_id: UUID) -> bool: ...

    async def finish(self, request_id: UUID, bot_id: UUID, provider: str,
                     segments: list[Segment] | None,
                     done: Callable[[int | None], TranscriptionDone]) -> TranscriptionDone | None:
        """In one transaction: record the request's run, make `segments` (if any) the bot's
        current transcript, and stage `done(transcript_id)` in the outbox. None (and nothing
        changed) when the request's run was already recorded."""

    async def current(self, bot_id: UUID) -> tuple[int, str, list[TranscriptSegment]] | None: ...


class Files(Protocol):
    async def download(self, key: str, path: Path) -> None: ...
    async def get_bytes(self, key: str) -> bytes: ...
    async def exists(self, key: str) -> bool: ...
    async def put_file(self, key: str, path: Path, content_type: str) -> None: ...
    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    async def delete(self, key: str) -> None: ...
    def presigned_url(self, key: str) -> str: ...

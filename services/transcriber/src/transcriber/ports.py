"""Ports the transcriber's logic depends on."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from uuid import UUID

from mb_shared.contracts.transcription import TranscriptSegment
from transcriber.attribution import Segment


class TranscriptRepository(Protocol):
    async def replace(self, bot_id: UUID, provider: str, segments: list[Segment]) -> int: ...
    async def current(self, bot_id: UUID) -> tuple[int, str, list[TranscriptSegment]] | None: ...


class Files(Protocol):
    async def download(self, key: str, path: Path) -> None: ...
    async def get_bytes(self, key: str) -> bytes: ...
    async def exists(self, key: str) -> bool: ...
    def presigned_url(self, key: str) -> str: ...

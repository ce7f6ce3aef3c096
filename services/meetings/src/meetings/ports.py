"""Ports the meeting book depends on besides its database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredImport:
    recording: str
    """Object key of the file as it came."""
    audio: str
    """Object key of its sound, 16 kHz mono WAV."""
    format: str
    duration_s: float


class Importer(Protocol):
    async def store(self, url: str, prefix: str) -> StoredImport:
        """Fetch `url`, check it and store it under `prefix`; `ImportRefused` or
        `ImportUnavailable` (meetings.imports) when it cannot."""

    async def forget(self, prefix: str) -> None:
        """Remove whatever was stored under `prefix`."""

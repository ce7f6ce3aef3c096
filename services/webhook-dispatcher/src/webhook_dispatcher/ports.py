"""Ports the dispatcher's logic depends on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from webhook_dispatcher.models import BotTarget, Delivery


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None
    retry_after_s: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.status_code is None:
            return True
        return self.status_code >= 500 or self.status_code in (408, 429)


class WebhookSender(Protocol):
    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult: ...


class DeliveryStore(Protocol):
    async def save_target(self, target: BotTarget) -> None: ...
    async def target(self, bot_id: UUID) -> BotTarget | None: ...
    async def mark_final_sent(self, bot_id: UUID) -> None: ...
    async def enqueue(self, delivery: Delivery) -> bool: ...
    async def next_pending(self, bot_id: UUID) -> Delivery | None: ...
    async def bots_due(self, now: datetime) -> list[UUID]: ...
    async def record_attempt(self, delivery: Delivery, result: AttemptResult, started_at: datetime,
                             state: str, next_attempt_at: datetime | None) -> None: ...


class UrlSigner(Protocol):
    def presigned_url(self, key: str) -> str: ...


class TranscriptSource(Protocol):
    async def __call__(self, bot_id: UUID) -> list[Any]: ...

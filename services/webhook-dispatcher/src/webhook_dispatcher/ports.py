"""Ports the dispatcher's logic depends on."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from mb_shared.contracts.queries import BotTarget as BotTargetReply
from mb_shared.contracts.queries import DeliveryProfile
from mb_shared.contracts.transcription import TranscriptSegment
from webhook_dispatcher.models import BotTarget, Delivery


class Unavailable(Exception):
    """A service the dispatcher asks (scheduler, api-gateway, transcriber) did not answer, or
    refused: the work waits and is tried again."""


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None
    retry_after_s: float | None = None
    location: str | None = None
    blocked: bool = False
    """The SSRF guard refused every address of the URL's host: nothing was sent."""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def redirected(self) -> bool:
        """A 3xx: redirects are never followed, and the attempt is not retried."""
        return self.status_code is not None and 300 <= self.status_code < 400

    @property
    def gone(self) -> bool:
        """410 Gone: the endpoint asks never to be called again."""
        return self.status_code == 410

    @property
    def retryable(self) -> bool:
        """Network errors and timeouts (no status), 5xx, 408 and 429; never a blocked URL."""
        if self.blocked:
            return False
        if self.status_code is None:
            return True
        return self.status_code >= 500 or self.status_code in (408, 429)


class WebhookSender(Protocol):
    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult: ...


class DeliveryStore(Protocol):
    async def save_target(self, target: BotTarget) -> BotTarget:
        """Keep the bot's target (the first one saved wins); returns the stored one."""
    async def target(self, bot_id: UUID) -> BotTarget | None: ...
    async def mark_final(self, bot_id: UUID, at: datetime) -> None: ...
    async def enqueue(self, delivery: Delivery) -> bool: ...
    async def next_pending(self, bot_id: UUID) -> Delivery | None:
        """The bot's pending delivery of the earliest event (`occurred_at`, then `id`)."""
    def bot_lock(self, bot_id: UUID) -> AbstractAsyncContextManager[bool]:
        """While held, no other replica delivers this bot; yields False when another holds it."""
    async def defer(self, delivery: Delivery, until: datetime, error: str) -> None:
        """Put the delivery off to `until` (not an attempt: nothing was sent)."""
    async def save_payload(self, delivery: Delivery, payload: dict[str, Any]) -> None:
        """The payload is complete now (transcript read): store it for every later attempt."""
    async def bots_due(self, now: datetime) -> list[UUID]: ...
    async def record_attempt(self, delivery: Delivery, result: AttemptResult, started_at: datetime,
                             state: str, next_attempt_at: datetime | None) -> None: ...
    async def final_delivery(self, bot_id: UUID) -> Delivery | None:
        """The bot's latest `complete` or `failed` delivery, in any state."""
        ...
    async def restart(self, delivery: Delivery, url: str, at: datetime) -> None:
        """Set the delivery back to `pending`, due at `at`, to `url`, with no attempt in this run
        (`attempts` 0, `delivered_at` None); its attempt rows are kept."""
        ...
    async def endpoint_gone(self, account_id: int, url: str) -> bool:
        """Whether this account's URL answered 410 Gone before."""
        ...
    async def close_endpoint(self, account_id: int, url: str, webhook_id: UUID,
                             at: datetime) -> int:
        """Remember that this account's URL is gone (idempotent) and set every pending delivery of
        the account to that URL to `endpoint_gone`, unsent; returns how many were set."""
        ...


class UrlSigner(Protocol):
    def presigned_url(self, key: str) -> str: ...


class Lookups(Protocol):
    """What the dispatcher asks other services; each raises `Unavailable` when it cannot."""

    async def bot_target(self, bot_id: UUID) -> BotTargetReply | None:
        """None when the scheduler knows no such bot."""
    async def delivery_profile(self, account_id: int,
                               api_key_prefix: str | None) -> DeliveryProfile: ...
    async def transcript(self, bot_id: UUID) -> list[TranscriptSegment]: ...


class Secrets(Protocol):
    def open(self, sealed: str) -> str: ...


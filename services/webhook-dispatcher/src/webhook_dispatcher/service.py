"""Deliveries: one per event, attempted in order per bot, retried with backoff and jitter."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from mb_shared.contracts.bot import (
    WEBHOOK_STATUS_CODES,
    BotCompleted,
    BotFailed,
    BotRequested,
    BotStatusChanged,
)
from webhook_dispatcher import payloads
from webhook_dispatcher.models import BotTarget, Delivery
from webhook_dispatcher.ports import DeliveryStore, TranscriptSource, UrlSigner, WebhookSender

log = logging.getLogger(__name__)

API_KEY_HEADER = "x-meeting-baas-api-key"


def _now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        store: DeliveryStore,
        sender: WebhookSender,
        signer: UrlSigner,
        transcripts: TranscriptSource,
        *,
        retry_schedule_s: list[float],
        jitter: float,
    ) -> None:
        self._store = store
        self._sender = sender
        self._signer = signer
        self._transcripts = transcripts
        self._schedule = retry_schedule_s
        self._jitter = jitter
        self._bot_locks: dict[UUID, asyncio.Lock] = {}

    async def on_bot_requested(self, event: BotRequested) -> None:
        await self._store.save_target(
            BotTarget(
                bot_id=event.bot_id,
                account_id=event.account_id,
                url=event.webhook.url,
                api_key=event.webhook.api_key,
                extra=event.params.extra,
            )
        )

    async def on_status_change(self, event: BotStatusChanged) -> None:
        if event.status not in WEBHOOK_STATUS_CODES:
            return
        target = await self._store.target(event.bot_id)
        if target is None or target.final_sent:
            return
        await self._enqueue(target, event.event_id, "bot.status_change", payloads.status_change(event))

    async def on_completed(self, event: BotCompleted) -> None:
        target = await self._store.target(event.bot_id)
        if target is None:
            return
        segments = await self._transcripts(event.bot_id) if event.has_transcript else []
        await self._store.mark_final_sent(event.bot_id)
        await self._enqueue(
            target,
            event.event_id,
            "complete",
            payloads.complete(event, segments),
            {"mp4": event.mp4_key, "audio": event.audio_key},
        )

    async def on_failed(self, event: BotFailed) -> None:
        target = await self._store.target(event.bot_id)
        if target is None:
            return
        await self._store.mark_final_sent(event.bot_id)
        await self._enqueue(target, event.event_id, "failed", payloads.failed(event))

    async def _enqueue(self, target: BotTarget, webhook_id: UUID, kind: str, payload: dict,
                       file_keys: dict | None = None) -> None:
        delivery = Delivery(
            webhook_id=webhook_id,
            bot_id=target.bot_id,
            event=kind,
            url=target.url,
            payload=payload,
            file_keys=file_keys or {},
            state="pending" if target.url else "no_url",
            created_at=_now(),
            next_attempt_at=_now() if target.url else None,
        )
        if await self._store.enqueue(delivery) and target.url:
            await self.deliver_bot(target.bot_id)

    async def deliver_due(self) -> None:
        for bot_id in await self._store.bots_due(_now()):
            await self.deliver_bot(bot_id)

    async def deliver_bot(self, bot_id: UUID) -> None:
        """Attempt the bot's oldest pending deliveries in order, stopping at the first one not due."""
        lock = self._bot_locks.setdefault(bot_id, asyncio.Lock())
        async with lock:
            target = await self._store.target(bot_id)
            while True:
                delivery = await self._store.next_pending(bot_id)
                if delivery is None or delivery.next_attempt_at > _now():
                    break
                if not await self._attempt(delivery, target):
                    break
        if not lock.locked() and not lock._waiters:
            self._bot_locks.pop(bot_id, None)

    def _body(self, delivery: Delivery) -> bytes:
        payload = json.loads(json.dumps(delivery.payload))
        for field, key in delivery.file_keys.items():
            payload["data"][field] = self._signer.presigned_url(key) if key else ""
        return json.dumps(payload).encode()

    async def _attempt(self, delivery: Delivery, target: BotTarget | None) -> bool:
        headers = {
            "Content-Type": "application/json",
            "webhook-id": str(delivery.webhook_id),
        }
        if target is not None:
            headers[API_KEY_HEADER] = target.api_key
        started = _now()
        result = await self._sender.send(delivery.url, headers, self._body(delivery))
        number = delivery.attempts + 1
        if result.delivered:
            state, next_at = "delivered", None
        elif result.retryable and number < len(self._schedule):
            delay = self._schedule[number] * random.uniform(1 - self._jitter, 1 + self._jitter)
            if result.retry_after_s is not None:
                delay = max(delay, min(result.retry_after_s, 3600.0))
            state, next_at = "pending", _now() + timedelta(seconds=delay)
        else:
            state, next_at = "failed", None
        log.info(
            "webhook %s attempt %d: %s", delivery.event, number,
            result.status_code or result.error, extra={"bot_id": delivery.bot_id},
        )
        await self._store.record_attempt(delivery, result, started, state, next_at)
        return state in ("delivered", "failed")

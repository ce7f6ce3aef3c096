"""Deliveries: one per event, attempted in order per bot, signed, retried with backoff and jitter."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from mb_shared.contracts.bot import (
    WEBHOOK_STATUS_CODES,
    BotCompleted,
    BotFailed,
    BotRequested,
    BotStatusChanged,
)
from mb_shared.contracts.queries import OkReply, QueryError, RetryWebhook
from mb_shared.contracts.transcription import TranscriptionDone
from webhook_dispatcher import payloads
from webhook_dispatcher.models import BotTarget, Delivery
from webhook_dispatcher.ports import (
    AttemptResult,
    DeliveryStore,
    TranscriptSource,
    UrlSigner,
    WebhookSender,
)
from webhook_dispatcher.signing import (
    ID_HEADER,
    InvalidSecretError,
    signature_headers,
    signing_key,
)

log = logging.getLogger(__name__)

API_KEY_HEADER = "x-meeting-baas-api-key"

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
NO_URL = "no_url"
ENDPOINT_GONE = "endpoint_gone"


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
        retry_after_max_s: float = 3600.0,
        clock: Callable[[], datetime] = _now,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._signer = signer
        self._transcripts = transcripts
        self._schedule = retry_schedule_s
        self._jitter = jitter
        self._retry_after_max_s = retry_after_max_s
        self._clock = clock
        self._rng = rng or random.Random()
        self._bot_locks: dict[UUID, asyncio.Lock] = {}
        self._background: set[asyncio.Task] = set()

    async def on_bot_requested(self, event: BotRequested) -> None:
        secret = event.webhook.signing_secret
        if secret is not None:
            try:
                signing_key(secret)
            except InvalidSecretError:
                log.error("bot %s: invalid webhook signing secret; deliveries will be unsigned",
                          event.bot_id, extra={"bot_id": event.bot_id})
        await self._store.save_target(
            BotTarget(
                bot_id=event.bot_id,
                account_id=event.account_id,
                url=event.webhook.url,
                api_key=event.webhook.api_key,
                signing_secret=secret,
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

    async def on_transcription_done(self, event: TranscriptionDone) -> None:
        """A rerun (`POST /bots/retranscribe`) is delivered as `transcription_complete` to the
        URL it names, else to the bot's; first transcripts are part of `complete`."""
        if not event.rerun:
            return
        target = await self._store.target(event.bot_id)
        if target is None:
            return
        segments = await self._transcripts(event.bot_id) if event.error is None else []
        await self._enqueue(
            target,
            event.event_id,
            "transcription_complete",
            payloads.transcription_complete(event, segments, target.extra),
            url=event.webhook_url or target.url,
        )

    async def retry(self, query: RetryWebhook) -> OkReply | QueryError:
        """Send the bot's final event (`complete` or `failed`) again: the same delivery, so the
        same `webhook-id`, set back to pending for a new run of attempts (numbered from 1 again;
        the earlier runs' attempt rows are kept), to `query.webhook_url` if given, else to the
        bot's webhook URL. Its stored body is sent again, with download URLs presigned afresh."""
        target = await self._store.target(query.bot_id)
        if target is None or target.account_id != query.account_id:
            return QueryError(status=404, code="BotNotFound",
                              message=f"bot_uuid: no bot {query.bot_id} for this account",
                              field="bot_uuid")
        final = await self._store.final_delivery(query.bot_id)
        if final is None:
            return QueryError(
                status=409, code="NoFinalEvent",
                message="bot_uuid: the bot has no final event (complete or failed) to send "
                        "again yet; retry once it has ended",
                field="bot_uuid")
        url = query.webhook_url or target.url
        if not url:
            return QueryError(status=409, code="NoWebhookUrl",
                              message="webhook_url: the bot has no webhook URL; give one",
                              field="webhook_url")
        if await self._store.endpoint_gone(target.account_id, url):
            return QueryError(
                status=409, code="EndpointGone",
                message=f"webhook_url: {url} answered 410 Gone before, so nothing more is sent "
                        "there for this account; give another URL",
                field="webhook_url")
        async with self._bot_lock(query.bot_id):
            await self._store.restart(final, url, self._clock())
        log.info("webhook %s of the bot sent again on request", final.event,
                 extra={"bot_id": query.bot_id})
        self._in_background(self.deliver_bot(query.bot_id))
        return OkReply()

    def _in_background(self, work) -> None:
        """Attempt at once without making the asker wait (the retry loop would pick it up too)."""

        async def logged() -> None:
            try:
                await work
            except Exception:
                log.exception("delivering in the background failed; the retry loop will retry")

        task = asyncio.create_task(logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Wait for the attempts started in the background (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _enqueue(self, target: BotTarget, webhook_id: UUID, kind: str, payload: dict,
                       file_keys: dict | None = None, *, url: str | None = None) -> None:
        """`url` overrides the bot's webhook URL for this delivery."""
        now = self._clock()
        url = url or target.url
        if not url:
            state = NO_URL
        elif await self._store.endpoint_gone(target.account_id, url):
            state = ENDPOINT_GONE
        else:
            state = PENDING
        delivery = Delivery(
            webhook_id=webhook_id,
            bot_id=target.bot_id,
            account_id=target.account_id,
            event=kind,
            url=url,
            payload=payload,
            file_keys=file_keys or {},
            state=state,
            created_at=now,
            next_attempt_at=now if state == PENDING else None,
        )
        if await self._store.enqueue(delivery) and state == PENDING:
            await self.deliver_bot(target.bot_id)

    async def deliver_due(self) -> None:
        for bot_id in await self._store.bots_due(self._clock()):
            await self.deliver_bot(bot_id)

    @contextlib.asynccontextmanager
    async def _bot_lock(self, bot_id: UUID) -> AsyncIterator[None]:
        """One at a time per bot in this process: attempts, and resetting a delivery."""
        lock = self._bot_locks.setdefault(bot_id, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not lock._waiters:
                self._bot_locks.pop(bot_id, None)

    async def deliver_bot(self, bot_id: UUID) -> None:
        """Attempt the bot's oldest pending deliveries in order, stopping at the first one not due."""
        async with self._bot_lock(bot_id):
            target = await self._store.target(bot_id)
            while True:
                delivery = await self._store.next_pending(bot_id)
                if delivery is None or delivery.next_attempt_at > self._clock():
                    break
                if not await self._attempt(delivery, target):
                    break

    def _body(self, delivery: Delivery) -> bytes:
        """The body of one attempt, with download URLs presigned afresh."""
        payload = json.loads(json.dumps(delivery.payload))
        for field, key in delivery.file_keys.items():
            payload["data"][field] = self._signer.presigned_url(key) if key else ""
        return json.dumps(payload).encode()

    def _headers(self, delivery: Delivery, target: BotTarget | None, body: bytes,
                 at: datetime) -> dict[str, str]:
        """Headers of one attempt; the signature covers exactly `body`, at this attempt's time."""
        webhook_id = str(delivery.webhook_id)
        headers = {"Content-Type": "application/json", ID_HEADER: webhook_id}
        if target is None:
            return headers
        headers[API_KEY_HEADER] = target.api_key
        if target.signing_secret:
            try:
                key = signing_key(target.signing_secret)
            except InvalidSecretError:
                log.error("bot %s: invalid webhook signing secret; sending unsigned",
                          delivery.bot_id, extra={"bot_id": delivery.bot_id})
            else:
                headers.update(signature_headers(key, webhook_id, int(at.timestamp()), body))
        return headers

    def _retry_delay(self, number: int, result: AttemptResult) -> float:
        """Seconds before attempt `number + 1`: the schedule's delay with jitter, lengthened (never
        shortened) by the endpoint's Retry-After up to `retry_after_max_s`."""
        delay = self._schedule[number] * self._rng.uniform(1 - self._jitter, 1 + self._jitter)
        if result.retry_after_s is not None:
            delay = max(delay, min(result.retry_after_s, self._retry_after_max_s))
        return delay

    async def _attempt(self, delivery: Delivery, target: BotTarget | None) -> bool:
        """One attempt; True when the delivery is settled (the bot's next one may go)."""
        account_id = delivery.account_id if delivery.account_id is not None else (
            target.account_id if target is not None else None)
        if account_id is not None and await self._store.endpoint_gone(account_id, delivery.url):
            await self._store.close_endpoint(account_id, delivery.url, delivery.webhook_id,
                                             self._clock())
            log.info("webhook %s not sent: endpoint gone", delivery.event,
                     extra={"bot_id": delivery.bot_id})
            return True
        body = self._body(delivery)
        started = self._clock()
        result = await self._sender.send(delivery.url, self._headers(delivery, target, body, started),
                                         body)
        number = delivery.attempts + 1
        next_at = None
        if result.delivered:
            state = DELIVERED
        elif result.gone:
            state = FAILED
            result = _noted(result, "410 Gone: not retried; nothing more is sent to this URL "
                                    "for this account")
        elif result.blocked:
            state = FAILED
            result = _noted(result, "refused by the SSRF guard; not retried")
        elif result.redirected:
            state = FAILED
            result = _noted(result, f"redirect ({result.status_code} to "
                                    f"{result.location or 'no Location'}) not followed; not retried")
        elif result.retryable and number < len(self._schedule):
            state = PENDING
            next_at = self._clock() + timedelta(seconds=self._retry_delay(number, result))
        elif result.retryable:
            state = FAILED
            result = _noted(result, f"retries exhausted after {number} attempts")
        else:
            state = FAILED
            result = _noted(result, f"HTTP {result.status_code} is not retried")
        log.info(
            "webhook %s attempt %d: %s", delivery.event, number,
            result.status_code or result.error, extra={"bot_id": delivery.bot_id},
        )
        await self._store.record_attempt(delivery, result, started, state, next_at)
        if result.gone and account_id is not None:
            closed = await self._store.close_endpoint(account_id, delivery.url,
                                                      delivery.webhook_id, started)
            log.warning("webhook URL of account %s is gone (410); %d pending deliveries dropped",
                        account_id, closed, extra={"bot_id": delivery.bot_id})
        return state != PENDING


def _noted(result: AttemptResult, note: str) -> AttemptResult:
    """The attempt's result with why it ends the delivery, kept in the attempt row's `error`."""
    error = f"{result.error}; {note}" if result.error else note
    return dataclasses.replace(result, error=error[:500])

"""Deliveries: one per event, attempted in order per bot (or per calendar), signed, retried with backoff and jitter.

Where a bot's webhooks go and how they are signed is looked up, not carried by events: the bot's
own URL from the scheduler (once per bot), the account's URL, API key and signing secret from the
api-gateway (sealed, opened here, at every attempt). A `complete` payload's transcript is read from
the transcriber at its first attempt. When one of them does not answer, the attempt is put off with
a growing delay (nothing is sent, the customer's retry schedule is untouched) until it does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from mb_shared.contracts.bot import (
    WEBHOOK_STATUS_CODES,
    BotCompleted,
    BotFailed,
    BotStatusChanged,
)
from mb_shared.contracts.calendar import CalendarSynced
from mb_shared.contracts.queries import DeliveryProfile, OkReply, QueryError, RetryWebhook
from mb_shared.contracts.separate_parts import StoredAudioPart, StoredVideoPart, downloadable
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptionLive
from mb_shared.secrets import SecretError
from webhook_dispatcher import payloads
from webhook_dispatcher.models import BotTarget, Delivery
from webhook_dispatcher.ports import (
    AttemptResult,
    DeliveryStore,
    Lookups,
    Secrets,
    Unavailable,
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
        lookups: Lookups,
        secrets: Secrets,
        *,
        retry_schedule_s: list[float],
        jitter: float,
        retry_after_max_s: float = 3600.0,
        defer_max_s: float = 60.0,
        concurrency: int = 8,
        clock: Callable[[], datetime] = _now,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._signer = signer
        self._lookups = lookups
        self._secrets = secrets
        self._schedule = retry_schedule_s
        self._jitter = jitter
        self._retry_after_max_s = retry_after_max_s
        self._defer_max_s = defer_max_s
        self._concurrency = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._rng = rng or random.Random()
        self._background: set[asyncio.Task] = set()
        self._again: set[UUID] = set()

    async def _target(self, bot_id: UUID) -> BotTarget:
        """The bot's target, asked of the scheduler the first time (raises `Unavailable`, so
        that the event is tried again, when the scheduler does not answer or knows no such bot).
        """
        target = await self._known_target(bot_id)
        if target is None:
            raise Unavailable(f"the scheduler knows no bot {bot_id}")
        return target

    async def _known_target(self, bot_id: UUID) -> BotTarget | None:
        target = await self._store.target(bot_id)
        if target is not None:
            return target
        known = await self._lookups.bot_target(bot_id)
        if known is None:
            return None
        return await self._store.save_target(BotTarget(
            bot_id=bot_id, account_id=known.account_id, url=known.webhook_url,
            api_key_prefix=known.api_key_prefix, extra=known.extra))

    async def on_status_change(self, event: BotStatusChanged) -> None:
        """A status of the bot's visit; not sent once the bot's final event happened before it."""
        if event.status not in WEBHOOK_STATUS_CODES:
            return
        target = await self._target(event.bot_id)
        if target.final_at is not None and event.occurred_at >= target.final_at:
            return
        await self._enqueue(target, event.event_id, "bot.status_change",
                            payloads.status_change(event), occurred_at=event.occurred_at)

    async def on_completed(self, event: BotCompleted) -> None:
        target = await self._target(event.bot_id)
        await self._store.mark_final(event.bot_id, event.occurred_at)
        await self._enqueue(
            target,
            event.event_id,
            "complete",
            payloads.complete(event, []),
            {"mp4": event.mp4_key, "audio": event.audio_key, **event.data_files},
            needs_transcript=event.has_transcript,
            occurred_at=event.occurred_at,
        )

    async def on_failed(self, event: BotFailed) -> None:
        target = await self._target(event.bot_id)
        await self._store.mark_final(event.bot_id, event.occurred_at)
        await self._enqueue(target, event.event_id, "failed", payloads.failed(event),
                            occurred_at=event.occurred_at)

    async def on_calendar_synced(self, event: CalendarSynced) -> None:
        """`calendar.sync_events` to the account's webhook URL, in order per calendar (a
        calendar's deliveries are keyed by its id where a bot's are keyed by the bot's)."""
        target = await self._store.target(event.calendar_uuid)
        if target is None:
            target = await self._store.save_target(BotTarget(
                bot_id=event.calendar_uuid, account_id=event.account_id, url=None,
                api_key_prefix=None))
        await self._enqueue(target, event.event_id, "calendar.sync_events",
                            payloads.calendar_sync_events(event), occurred_at=event.occurred_at)

    async def on_transcription_done(self, event: TranscriptionDone) -> None:
        """A rerun (`POST /bots/retranscribe`) is delivered as `transcription_complete` to the
        URL it names, else to the bot's; first transcripts are part of `complete`."""
        if not event.rerun:
            return
        target = await self._target(event.bot_id)
        await self._enqueue(
            target,
            event.event_id,
            "transcription_complete",
            payloads.transcription_complete(event, [], target.extra),
            needs_transcript=event.error is None,
            occurred_at=event.occurred_at,
            url=event.webhook_url,
        )

    async def on_live_transcript(self, event: TranscriptionLive) -> None:
        """What was said during the call (bots that asked for it), between its status changes."""
        target = await self._target(event.bot_id)
        if target.final_at is not None and event.occurred_at >= target.final_at:
            return
        await self._enqueue(target, event.event_id, "bot.live_transcript",
                            payloads.live_transcript(event), occurred_at=event.occurred_at)

    async def retry(self, query: RetryWebhook) -> OkReply | QueryError:
        """Send the bot's final event (`complete` or `failed`) again: the same delivery, so the
        same `webhook-id`, set back to pending for a new run of attempts (numbered from 1 again;
        the earlier runs' attempt rows are kept), to `query.webhook_url` if given, else to the
        bot's webhook URL. Its stored body is sent again, with download URLs presigned afresh."""
        try:
            target = await self._known_target(query.bot_id)
        except Unavailable:
            return QueryError(status=503, code="ServiceUnavailable",
                              message="The bot could not be looked up; retry in a few seconds.")
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
            try:
                url = (await self._profile(target)).webhook_url
            except Unavailable:
                return QueryError(status=503, code="ServiceUnavailable",
                                  message="The account's webhook URL could not be read; retry "
                                          "in a few seconds.")
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
        await self._store.restart(final, url, self._clock())
        log.info("webhook %s of the bot sent again on request", final.event,
                 extra={"bot_id": query.bot_id})
        self.deliver_soon(query.bot_id)
        return OkReply()

    def deliver_soon(self, bot_id: UUID) -> None:
        """Attempt the bot's due deliveries now, without making the caller wait (the retry loop
        would pick them up too)."""

        async def logged() -> None:
            try:
                await self.deliver_bot(bot_id)
            except Exception:
                log.exception("delivering in the background failed; the retry loop will retry")

        task = asyncio.create_task(logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Wait for the attempts started in the background (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _profile(self, target: BotTarget) -> DeliveryProfile:
        return await self._lookups.delivery_profile(target.account_id, target.api_key_prefix)

    async def _enqueue(self, target: BotTarget, webhook_id: UUID, kind: str, payload: dict,
                       file_keys: dict | None = None, *, occurred_at: datetime,
                       needs_transcript: bool = False, url: str | None = None) -> None:
        """`url` overrides the bot's webhook URL for this delivery; without either, the
        account's is asked of the api-gateway (raises `Unavailable`)."""
        now = self._clock()
        url = url or target.url
        if not url:
            url = (await self._profile(target)).webhook_url
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
            needs_transcript=needs_transcript and state == PENDING,
            state=state,
            occurred_at=occurred_at,
            created_at=now,
            next_attempt_at=now if state == PENDING else None,
        )
        if await self._store.enqueue(delivery) and state == PENDING:
            self.deliver_soon(target.bot_id)

    async def deliver_due(self) -> None:
        """Every bot with a due delivery, a few at a time, so that one slow endpoint does not
        hold the others back."""
        bots = await self._store.bots_due(self._clock())
        await asyncio.gather(*(self.deliver_bot(bot_id) for bot_id in bots))

    async def deliver_bot(self, bot_id: UUID) -> None:
        """Attempt the bot's pending deliveries in order, stopping at the first one not due; one
        replica at a time per bot. Asked while this process is already at it, the running loop
        goes round once more (another replica's are found by the retry loop)."""
        while True:
            self._again.discard(bot_id)
            async with self._concurrency, self._store.bot_lock(bot_id) as mine:
                if not mine:
                    self._again.add(bot_id)
                    return
                await self._deliver_pending(bot_id)
            if bot_id not in self._again:
                return

    async def _deliver_pending(self, bot_id: UUID) -> None:
        target = await self._store.target(bot_id)
        if target is None:
            return
        while True:
            delivery = await self._store.next_pending(bot_id)
            if delivery is None or delivery.next_attempt_at > self._clock():
                return
            if not await self._attempt(delivery, target):
                return

    def _body(self, delivery: Delivery, payload: dict) -> bytes:
        """The body of one attempt, with download URLs presigned afresh."""
        payload = json.loads(json.dumps(payload))
        for field, key in delivery.file_keys.items():
            payload["data"][field] = self._signer.presigned_url(key) if key else ""
        for field, kind in (("separate_audio_parts", StoredAudioPart),
                            ("separate_video_parts", StoredVideoPart)):
            if field in payload["data"]:
                payload["data"][field] = downloadable(payload["data"][field],
                                                      self._signer.presigned_url, kind)
        return json.dumps(payload).encode()

    def _headers(self, delivery: Delivery, profile: DeliveryProfile, body: bytes,
                 at: datetime) -> dict[str, str]:
        """Headers of one attempt; the signature covers exactly `body`, at this attempt's time."""
        webhook_id = str(delivery.webhook_id)
        headers = {"Content-Type": "application/json", ID_HEADER: webhook_id}
        if profile.sealed_api_key:
            headers[API_KEY_HEADER] = self._secrets.open(profile.sealed_api_key)
        try:
            key = signing_key(self._secrets.open(profile.sealed_signing_secret))
        except InvalidSecretError:
            log.error("bot %s: invalid webhook signing secret; sending unsigned",
                      delivery.bot_id, extra={"bot_id": delivery.bot_id})
        else:
            headers.update(signature_headers(key, webhook_id, int(at.timestamp()), body))
        return headers

    async def _payload(self, delivery: Delivery) -> dict:
        """The delivery's payload, its transcript read the first time (raises `Unavailable`)."""
        if not delivery.needs_transcript:
            return delivery.payload
        segments = await self._lookups.transcript(delivery.bot_id)
        payload = json.loads(json.dumps(delivery.payload))
        payload["data"]["transcript"] = payloads.transcript(segments)
        if delivery.event == "transcription_complete" and not payload["data"]["speakers"]:
            payload["data"]["speakers"] = list(dict.fromkeys(s.speaker for s in segments))
        await self._store.save_payload(delivery, payload)
        return payload

    async def _defer(self, delivery: Delivery, why: Exception) -> None:
        delay = min(self._defer_max_s, 2.0 ** delivery.deferrals)
        log.warning("webhook %s put off %.0f s: %s", delivery.event, delay, why,
                    extra={"bot_id": delivery.bot_id})
        await self._store.defer(delivery, self._clock() + timedelta(seconds=delay),
                                str(why)[:500])

    def _retry_delay(self, number: int, result: AttemptResult) -> float:
        """Seconds before attempt `number + 1`: the schedule's delay with jitter, lengthened (never
        shortened) by the endpoint's Retry-After up to `retry_after_max_s`."""
        delay = self._schedule[number] * self._rng.uniform(1 - self._jitter, 1 + self._jitter)
        if result.retry_after_s is not None:
            delay = max(delay, min(result.retry_after_s, self._retry_after_max_s))
        return delay

    async def _attempt(self, delivery: Delivery, target: BotTarget) -> bool:
        """One attempt; True when the delivery is settled (the bot's next one may go)."""
        account_id = target.account_id
        if await self._store.endpoint_gone(account_id, delivery.url):
            await self._store.close_endpoint(account_id, delivery.url, delivery.webhook_id,
                                             self._clock())
            log.info("webhook %s not sent: endpoint gone", delivery.event,
                     extra={"bot_id": delivery.bot_id})
            return True
        started = self._clock()
        try:
            profile = await self._profile(target)
            body = self._body(delivery, await self._payload(delivery))
            headers = self._headers(delivery, profile, body, started)
        except (Unavailable, SecretError) as why:
            await self._defer(delivery, why)
            return False
        result = await self._sender.send(delivery.url, headers, body)
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

"""In-memory fakes for the dispatcher's ports (its store, the HTTP sender, the URL signer and the
services it asks), and a harness driving a `Dispatcher` on a fake clock."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from mb_shared.contracts.bot import (
    BotCompleted,
    BotError,
    BotFailed,
    BotStatus,
    BotStatusChanged,
    EndReason,
)
from mb_shared.contracts.queries import BotTarget as BotTargetReply
from mb_shared.contracts.queries import DeliveryProfile
from mb_shared.secrets import KeyRing, new_key
from webhook_dispatcher.models import BotTarget, Delivery, DeliveryAttempt
from webhook_dispatcher.ports import AttemptResult, Unavailable
from webhook_dispatcher.service import Dispatcher

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()
URL = "https://customer.test/hook"


class FakeStore:
    """The `DeliveryStore` port in memory, with the SQL store's semantics."""

    def __init__(self) -> None:
        self.targets: dict[UUID, BotTarget] = {}
        self.deliveries: list[Delivery] = []
        self.attempts: list[DeliveryAttempt] = []
        self.gone: dict[tuple[int, str], UUID] = {}
        self._ids = itertools.count(1)

        self.locks: dict[UUID, asyncio.Lock] = {}

    async def save_target(self, target: BotTarget) -> BotTarget:
        return self.targets.setdefault(target.bot_id, target)

    async def target(self, bot_id: UUID) -> BotTarget | None:
        return self.targets.get(bot_id)

    async def mark_final(self, bot_id: UUID, at: datetime) -> None:
        target = self.targets[bot_id]
        target.final_at = min(target.final_at or at, at)

    @contextlib.asynccontextmanager
    async def bot_lock(self, bot_id: UUID):
        lock = self.locks.setdefault(bot_id, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True

    async def defer(self, delivery: Delivery, until: datetime, error: str) -> None:
        delivery.next_attempt_at, delivery.last_error = until, error
        delivery.deferrals += 1

    async def save_payload(self, delivery: Delivery, payload: dict) -> None:
        delivery.payload, delivery.needs_transcript = payload, False

    async def enqueue(self, delivery: Delivery) -> bool:
        if any(d.webhook_id == delivery.webhook_id for d in self.deliveries):
            return False
        delivery.id = next(self._ids)
        self.deliveries.append(delivery)
        return True

    async def next_pending(self, bot_id: UUID) -> Delivery | None:
        pending = [d for d in self.deliveries if d.bot_id == bot_id and d.state == "pending"]
        return min(pending, key=lambda d: (d.occurred_at, d.id), default=None)

    async def bots_due(self, now: datetime) -> list[UUID]:
        return list(dict.fromkeys(d.bot_id for d in self.deliveries
                                  if d.state == "pending" and d.next_attempt_at <= now))

    async def record_attempt(self, delivery: Delivery, result: AttemptResult, started_at: datetime,
                             state: str, next_attempt_at: datetime | None) -> None:
        number = delivery.attempts + 1
        self.attempts.append(DeliveryAttempt(
            delivery_id=delivery.id, number=number, started_at=started_at,
            duration_ms=result.duration_ms, status_code=result.status_code, error=result.error,
            response_excerpt=result.response_excerpt,
        ))
        delivery.attempts = number
        delivery.state = state
        delivery.next_attempt_at = next_attempt_at
        delivery.delivered_at = started_at if state == "delivered" else None
        delivery.last_error = result.error

    async def final_delivery(self, bot_id: UUID) -> Delivery | None:
        finals = [d for d in self.deliveries
                  if d.bot_id == bot_id and d.event in ("complete", "failed")]
        return finals[-1] if finals else None

    async def restart(self, delivery: Delivery, url: str, at: datetime) -> None:
        delivery.state, delivery.url, delivery.attempts = "pending", url, 0
        delivery.next_attempt_at, delivery.delivered_at = at, None

    async def endpoint_gone(self, account_id: int, url: str) -> bool:
        return (account_id, url) in self.gone

    async def close_endpoint(self, account_id: int, url: str, webhook_id: UUID,
                             at: datetime) -> int:
        self.gone.setdefault((account_id, url), webhook_id)
        closed = [d for d in self.deliveries
                  if d.account_id == account_id and d.url == url and d.state == "pending"]
        for d in closed:
            d.state, d.next_attempt_at = "endpoint_gone", None
        return len(closed)

    # test helpers
    def of(self, webhook_id: UUID) -> Delivery:
        return next(d for d in self.deliveries if d.webhook_id == webhook_id)

    def attempts_of(self, webhook_id: UUID) -> list[DeliveryAttempt]:
        delivery_id = self.of(webhook_id).id
        return [a for a in self.attempts if a.delivery_id == delivery_id]


OK = AttemptResult(status_code=200, error=None, duration_ms=3, response_excerpt="")


@dataclass
class Sent:
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeSender:
    """Answers each URL from its script (then 200), recording every request."""

    scripts: dict[str, list[AttemptResult]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        self.sent.append(Sent(url, dict(headers), body))
        script = self.scripts.get(url)
        return script.pop(0) if script else OK

    def to(self, url: str) -> list[Sent]:
        return [s for s in self.sent if s.url == url]


class CountingSigner:
    """Presigns with a counter, so each signing is told apart."""

    def __init__(self) -> None:
        self.count = 0

    def presigned_url(self, key: str) -> str:
        self.count += 1
        return f"https://store.test/{key}?signature={self.count}"


KEYS = KeyRing([new_key()])


class FakeLookups:
    """The scheduler's bot targets, the api-gateway's delivery profiles and the transcriber's
    transcripts; a service set in `down` does not answer."""

    def __init__(self) -> None:
        self.targets: dict[UUID, BotTargetReply] = {}
        self.profiles: dict[int, DeliveryProfile] = {}
        self.transcripts: dict[UUID, list] = {}
        self.down: set[str] = set()
        self.asked: list[str] = []

    def _answer(self, service: str) -> None:
        self.asked.append(service)
        if service in self.down:
            raise Unavailable(f"the {service}: no answer (TimeoutError)")

    async def bot_target(self, bot_id: UUID) -> BotTargetReply:
        self._answer("scheduler")
        return self.targets.get(bot_id)

    async def delivery_profile(self, account_id: int, api_key_prefix) -> DeliveryProfile:
        self._answer("api-gateway")
        return self.profiles[account_id]

    async def transcript(self, bot_id: UUID) -> list:
        self._answer("transcriber")
        return self.transcripts.get(bot_id, [])


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Harness:
    """A dispatcher over fakes, with helpers to feed it events."""

    def __init__(self, sender, *, schedule=SCHEDULE, jitter=0.2, seed=7, clock=None,
                 retry_after_max_s=3600.0) -> None:
        self.store = FakeStore()
        self.sender = sender
        self.signer = CountingSigner()
        self.lookups = FakeLookups()
        # near real time, so `standardwebhooks` accepts the timestamps (5 min tolerance)
        self.clock = clock or FakeClock(datetime.now(UTC).replace(microsecond=0))
        self.dispatcher = Dispatcher(
            self.store, sender, self.signer, self.lookups, KEYS,
            retry_schedule_s=schedule, jitter=jitter, retry_after_max_s=retry_after_max_s,
            clock=self.clock, rng=random.Random(seed),
        )

    def account(self, account_id: int = 1, *, url: str | None = None, secret: str = SECRET,
                api_key: str | None = "mb_key") -> None:
        """What the api-gateway answers for the account (its secrets sealed)."""
        self.lookups.profiles[account_id] = DeliveryProfile(
            webhook_url=url, sealed_api_key=KEYS.seal_optional(api_key),
            sealed_signing_secret=KEYS.seal(secret))

    async def bot(self, *, url: str | None = URL, account_id: int = 1,
                  secret: str | None = SECRET) -> UUID:
        """A bot the scheduler knows, with its own webhook URL `url`; its account's secret is
        `secret` (an account without one is not a thing: None stands for an unreadable one)."""
        bot_id = uuid4()
        self.lookups.targets[bot_id] = BotTargetReply(
            bot_id=bot_id, account_id=account_id, webhook_url=url, api_key_prefix="mb_key")
        if account_id not in self.lookups.profiles or secret != SECRET:
            self.account(account_id, secret=secret if secret is not None else "whsec_")
        return bot_id

    async def _settled(self, handling) -> None:
        await handling
        await self.dispatcher.settle()

    async def status(self, bot_id: UUID, status: BotStatus = BotStatus.JOINING_CALL) -> UUID:
        event = BotStatusChanged(bot_id=bot_id, status=status, occurred_at=self.clock())
        await self._settled(self.dispatcher.on_status_change(event))
        return event.event_id

    async def complete(self, bot_id: UUID, account_id: int = 1, *,
                       has_transcript: bool = False) -> UUID:
        event = BotCompleted(bot_id=bot_id, account_id=account_id, mp4_key="rec/video.mp4",
                             audio_key="rec/audio.wav", speakers=["Alice"],
                             has_transcript=has_transcript, duration_s=12.0,
                             reason=EndReason.MEETING_ENDED, occurred_at=self.clock())
        await self._settled(self.dispatcher.on_completed(event))
        return event.event_id

    async def failed(self, bot_id: UUID, account_id: int = 1) -> UUID:
        event = BotFailed(bot_id=bot_id, account_id=account_id, error=BotError.CANNOT_JOIN_MEETING,
                          reason=EndReason.MEETING_NOT_FOUND, message="no such meeting",
                          occurred_at=self.clock())
        await self._settled(self.dispatcher.on_failed(event))
        return event.event_id

    async def rerun(self, event) -> None:
        await self._settled(self.dispatcher.on_transcription_done(event))

    async def until(self, when: datetime | None) -> None:
        """Move the clock to `when` and run the retry loop once."""
        assert when is not None
        self.clock.now = max(self.clock.now, when)
        await self.dispatcher.deliver_due()
        await self.dispatcher.settle()


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def h(sender) -> Harness:
    return Harness(sender)


@pytest.fixture
def harness():
    """Build a harness with other options: `harness(sender, schedule=..., ...)`."""
    return Harness

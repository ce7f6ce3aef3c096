"""Two replicas of the dispatcher on one real PostgreSQL: every event is enqueued once and
answered 2xx once, each bot's in order, whichever replica consumes it and whichever replica's
retry loop finds it due."""

from __future__ import annotations

import asyncio
import json
import random
from uuid import uuid4

from mb_shared.contracts.bot import BotStatus, BotStatusChanged
from mb_shared.contracts.queries import BotTarget as BotTargetReply
from mb_shared.contracts.queries import DeliveryProfile
from mb_shared.database import make_engine, session_factory
from webhook_dispatcher.adapters.repository import SqlDeliveryStore
from webhook_dispatcher.models import DispatcherModel
from webhook_dispatcher.ports import AttemptResult
from webhook_dispatcher.service import Dispatcher

from .conftest import KEYS, SECRET, URL, FakeLookups

ORDER = [BotStatus.JOINING_CALL, BotStatus.IN_WAITING_ROOM, BotStatus.IN_CALL_NOT_RECORDING,
         BotStatus.IN_CALL_RECORDING, BotStatus.CALL_ENDED]


class FlakyEndpoint:
    """Takes a little while and answers 503 now and then, so that replicas overlap and retry.
    Records (webhook-id, bot, status code, answer) of every request."""

    def __init__(self, seed: int) -> None:
        self.requests: list[tuple[str, str, str, int]] = []
        self._rng = random.Random(seed)

    async def send(self, url, headers, body) -> AttemptResult:
        data = json.loads(body)["data"]
        answer = 503 if self._rng.random() < 0.25 else 200
        self.requests.append((headers["webhook-id"], data["bot_id"], data["status"]["code"],
                              answer))
        await asyncio.sleep(self._rng.uniform(0.0, 0.02))
        return AttemptResult(status_code=answer, error=None, duration_ms=5, response_excerpt="")


class Signer:
    def presigned_url(self, key: str) -> str:
        return f"https://store.test/{key}"


async def test_two_replicas_send_each_event_once_and_in_order(fresh_database):
    engines = [make_engine(fresh_database) for _ in range(2)]
    async with engines[0].begin() as conn:
        await conn.run_sync(DispatcherModel.metadata.create_all)
    lookups = FakeLookups()
    lookups.profiles[1] = DeliveryProfile(webhook_url=None, sealed_api_key=KEYS.seal("mb_key"),
                                          sealed_signing_secret=KEYS.seal(SECRET))
    endpoint = FlakyEndpoint(seed=3)
    replicas = [
        Dispatcher(SqlDeliveryStore(session_factory(engine)), endpoint, Signer(), lookups, KEYS,
                   retry_schedule_s=[0] + [0.05] * 8, jitter=0.0)
        for engine in engines
    ]
    bots = [uuid4() for _ in range(12)]
    for bot in bots:
        lookups.targets[bot] = BotTargetReply(bot_id=bot, account_id=1, webhook_url=URL,
                                              api_key_prefix="mb_key")
    events = [BotStatusChanged(bot_id=bot, status=status) for status in ORDER for bot in bots]

    async def consume(replica: Dispatcher, share: list[BotStatusChanged]) -> None:
        for event in share:
            await replica.on_status_change(event)
            await replica.on_status_change(event)  # a redelivery: enqueued once

    def answered() -> set[str]:
        return {webhook_id for webhook_id, _, _, answer in endpoint.requests if answer == 200}

    try:
        # each event goes to one replica or the other (a queue group), in stream order
        await asyncio.gather(consume(replicas[0], events[0::2]),
                             consume(replicas[1], events[1::2]))
        for _ in range(100):
            await asyncio.gather(*(r.deliver_due() for r in replicas))
            await asyncio.gather(*(r.settle() for r in replicas))
            if len(answered()) == len(events):
                break
            await asyncio.sleep(0.06)
    finally:
        for engine in engines:
            await engine.dispose()
    assert answered() == {str(e.event_id) for e in events}
    for webhook_id in answered():
        answers = [a for w, _, _, a in endpoint.requests if w == webhook_id]
        assert answers.count(200) == 1 and answers[-1] == 200, (
            "sent again after its 2xx, or by two replicas at once", answers)
    codes = [s.value for s in ORDER]
    for bot in bots:
        sent = [code for _, b, code, _ in endpoint.requests if b == str(bot)]
        assert sent == sorted(sent, key=codes.index), (
            "a bot's event went before its earlier one was settled", sent)

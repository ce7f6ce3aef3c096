"""The transactional outbox on a real PostgreSQL and NATS: an event leaves only with the commit
of its state change, in commit order, once, and is not lost when publishing fails."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import nats
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from mb_shared.contracts.bot import BotStatus, BotStatusChanged
from mb_shared.database import make_engine, session_factory
from mb_shared.messaging import declare_streams, make_broker, publish_stored
from mb_shared.outbox import Outbox, OutboxRelay, outbox_table

metadata = MetaData()
OUTBOX = outbox_table(metadata)
NOTES = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String))


@pytest.fixture
async def database(fresh_database):
    engine = make_engine(fresh_database)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def broker(infra):
    broker = make_broker(infra.nats_url, "outbox-test")
    await declare_streams(broker)
    await broker.start()
    yield broker
    await broker.stop()


def event() -> BotStatusChanged:
    return BotStatusChanged(bot_id=uuid.uuid4(), status=BotStatus.JOINING_CALL)


async def stream_ids(nats_url: str, events: list[BotStatusChanged]) -> list[str]:
    """The `Nats-Msg-Id`s on EVENTS of these events, in stream order."""
    wanted = {str(e.event_id) for e in events}
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        state = (await js.stream_info("EVENTS")).state
        found = []
        for seq in range(state.first_seq, state.last_seq + 1):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                message = await js.get_msg("EVENTS", seq)
                if message.headers and message.headers.get("Nats-Msg-Id") in wanted:
                    found.append(message.headers["Nats-Msg-Id"])
        return found
    finally:
        await client.close()


def publisher(broker, calls: list[str], fail_on: set[str] | None = None):
    async def publish(subject, payload, message_id):
        calls.append(message_id)
        if fail_on and message_id in fail_on:
            fail_on.discard(message_id)
            raise ConnectionError("NATS is not answering")
        await publish_stored(broker, subject, payload, message_id)

    return publish


async def pending(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(OUTBOX))


async def test_events_leave_with_the_commit_and_in_commit_order(database, broker, infra):
    outbox = Outbox(OUTBOX)
    calls: list[str] = []
    relay = OutboxRelay(outbox, database, publisher(broker, calls))
    first, second, rolled_back = event(), event(), event()
    async with database() as session, session.begin():
        await session.execute(insert(NOTES).values(text="first"))
        await outbox.put(session, [first, second])
    with pytest.raises(RuntimeError):
        async with database() as session, session.begin():
            await outbox.put(session, [rolled_back])
            raise RuntimeError("the state change failed")
    assert await pending(database) == 2
    assert await relay.relay_once() == 2
    assert await pending(database) == 0
    assert await stream_ids(infra.nats_url, [first, second, rolled_back]) == [
        str(first.event_id), str(second.event_id)]


async def test_a_failed_publish_keeps_the_event_and_those_after_it(database, broker, infra):
    outbox = Outbox(OUTBOX)
    events = [event(), event(), event()]
    calls: list[str] = []
    relay = OutboxRelay(outbox, database,
                        publisher(broker, calls, fail_on={str(events[1].event_id)}))
    async with database() as session, session.begin():
        await outbox.put(session, events)
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    assert await pending(database) == 2
    assert await relay.relay_once() == 2
    assert await stream_ids(infra.nats_url, events) == [str(e.event_id) for e in events]


async def test_replicas_relay_each_event_once_in_order(database, broker, infra):
    outbox = Outbox(OUTBOX)
    calls: list[str] = []
    relays = [OutboxRelay(outbox, database, publisher(broker, calls), batch=5, poll_s=0.05)
              for _ in range(3)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    events = [event() for _ in range(40)]
    try:
        for chunk in range(0, 40, 4):
            async with database() as session, session.begin():
                await outbox.put(session, events[chunk:chunk + 4])
        for _ in range(200):
            if await pending(database) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert await pending(database) == 0
    assert calls == [str(e.event_id) for e in events], "each event published once, in order"
    assert await stream_ids(infra.nats_url, events) == calls


async def test_an_event_without_a_stream_is_refused_when_staged(database):
    from mb_shared.contracts.base import Event
    from mb_shared.contracts.catalogue import UnroutableSubject

    class Stray(Event):
        SUBJECT = "nowhere.stray"
        STREAM = "EVENTS"

    async with database() as session, session.begin():
        with pytest.raises(UnroutableSubject):
            await Outbox(OUTBOX).put(session, [Stray()])

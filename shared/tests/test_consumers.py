"""The messaging kit on a real NATS server: the catalogue's streams, strict publishing, durable
consumers retried with growing delays, dead letters and their replay from the command line."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import time
import uuid

import nats
import pytest
from faststream.nats import NatsRouter
from nats.js.api import RetentionPolicy, StreamConfig

from mb_shared import dead_letters as cli
from mb_shared.consumers import DeadLetters, RetryPolicy, subscribe
from mb_shared.contracts import CONSUMERS, EVENTS, STREAMS
from mb_shared.contracts.base import Event
from mb_shared.contracts.bot import BotStatus, BotStatusChanged
from mb_shared.contracts.catalogue import (
    UnroutableSubject,
    durable_consumers,
    durable_name,
    stream_of,
    subjects_of,
)
from mb_shared.contracts.operations import DeadLetter
from mb_shared.messaging import declare_streams, make_broker, publish_event

SERVICE = "scheduler"


def test_every_event_lives_on_a_stream_of_the_catalogue():
    for subject, event in EVENTS.items():
        assert stream_of(event).name in STREAMS
        assert subject in subjects_of(event.STREAM)


def test_every_consumed_event_is_in_the_catalogue_and_names_are_unique():
    names = durable_consumers()
    assert len(names) == sum(len(events) for events in CONSUMERS.values())
    for events in CONSUMERS.values():
        for event in events:
            assert EVENTS[event.SUBJECT] is event
    assert durable_name("scheduler", BotStatusChanged) == "scheduler-bot_status_change"


def test_streams_have_retention_limits():
    for spec in STREAMS.values():
        assert 0 < spec.max_age_s <= 31 * 86400
        assert 0 < spec.max_bytes


class Stray(Event):
    SUBJECT = "nowhere.stray"
    STREAM = "EVENTS"


async def test_publishing_a_subject_no_stream_holds_is_an_error(nats_server):
    broker = make_broker(nats_server.url, "test")
    await broker.connect()
    try:
        with pytest.raises(UnroutableSubject, match="nowhere.stray"):
            await publish_event(broker, Stray())
    finally:
        await broker.stop()


async def test_declare_creates_the_streams_and_brings_an_old_one_to_its_limits(nats_server):
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await js.add_stream(StreamConfig(name="EVENTS", subjects=["bot.requested"],
                                     retention=RetentionPolicy.LIMITS))
    broker = make_broker(nats_server.url, "test")
    try:
        await declare_streams(broker)
        await declare_streams(broker)  # idempotent
        for spec in STREAMS.values():
            config = (await js.stream_info(spec.name)).config
            assert sorted(config.subjects) == subjects_of(spec.name)
            assert config.max_age == pytest.approx(spec.max_age_s)
            assert config.max_bytes == spec.max_bytes
            assert config.duplicate_window == pytest.approx(spec.duplicate_window_s)
            assert config.retention == spec.retention
    finally:
        await broker.stop()
        await client.close()


@contextlib.asynccontextmanager
async def consuming(url: str, handler, retry: RetryPolicy, ack_wait_s: float = 30.0):
    broker = make_broker(url, SERVICE)
    router = NatsRouter()
    subscribe(router, service=SERVICE, event_type=BotStatusChanged, handler=handler, retry=retry,
              dead_letters=DeadLetters(broker, SERVICE), ack_wait_s=ack_wait_s)
    broker.include_router(router)
    await declare_streams(broker)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def status_event() -> BotStatusChanged:
    return BotStatusChanged(bot_id=uuid.uuid4(), status=BotStatus.JOINING_CALL)


async def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def pending_of(url: str) -> tuple[int, int]:
    """(messages not yet delivered, deliveries not yet acknowledged) of the consumer."""
    client = await nats.connect(url)
    try:
        info = await client.jetstream().consumer_info("EVENTS",
                                                      durable_name(SERVICE, BotStatusChanged))
        return info.num_pending, info.num_ack_pending
    finally:
        await client.close()


async def run_cli(url: str, *args: str) -> str:
    """`mb-dead-letters` as an operator runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mb_shared.dead_letters", *args,
        env={**os.environ, "NATS_URL": url}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def dead_letters_of(url: str) -> list[tuple[int, DeadLetter]]:
    client = await nats.connect(url)
    try:
        return [item async for item in cli.letters(client.jetstream())]
    finally:
        await client.close()


def test_a_service_cannot_consume_what_the_catalogue_does_not_list():
    with pytest.raises(LookupError, match="bot-runner"):
        subscribe(NatsRouter(), service="bot-runner", event_type=BotStatusChanged,
                  handler=lambda e: None, retry=RetryPolicy(), dead_letters=None)


async def test_a_failing_handler_is_retried_after_growing_delays(nats_server):
    seen: list[float] = []

    async def handler(event: BotStatusChanged) -> None:
        seen.append(time.monotonic())
        if len(seen) < 3:
            raise RuntimeError("the database is down")

    retry = RetryPolicy(delays_s=(0.5, 1.5, 5.0))
    async with consuming(nats_server.url, handler, retry) as broker:
        await publish_event(broker, status_event())
        await wait_for(lambda: len(seen) == 3)
        await asyncio.sleep(0.5)
        assert await pending_of(nats_server.url) == (0, 0)
    assert len(seen) == 3
    assert seen[1] - seen[0] >= 0.5 * 0.9
    assert seen[2] - seen[1] >= 1.5 * 0.9
    assert await dead_letters_of(nats_server.url) == []


async def test_after_the_last_attempt_the_message_is_a_dead_letter_then_replayed(nats_server):
    calls: list[BotStatusChanged] = []
    healthy = False

    async def handler(event: BotStatusChanged) -> None:
        calls.append(event)
        if not healthy:
            raise ValueError("cannot handle this yet")

    event = status_event()
    retry = RetryPolicy(delays_s=(0.2, 0.2))
    async with consuming(nats_server.url, handler, retry) as broker:
        await publish_event(broker, event)
        await wait_for(lambda: len(calls) == 3)
        letters = []

        async def one_letter():
            letters[:] = await dead_letters_of(nats_server.url)
            return bool(letters)

        deadline = time.monotonic() + 10
        while not await one_letter():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert len(calls) == 3, "no attempt after the last one"
        assert await pending_of(nats_server.url) == (0, 0)
        seq, letter = letters[0]
        assert letter.service == SERVICE
        assert letter.consumer == "scheduler-bot_status_change"
        assert letter.subject == "bot.status_change"
        assert letter.attempts == 3 and not letter.unreadable
        assert letter.message_id == str(event.event_id)
        assert "ValueError: cannot handle this yet" in letter.error
        original = json.loads(base64.b64decode(letter.payload_b64))
        assert original["event_id"] == str(event.event_id)

        listing = await run_cli(nats_server.url, "list")
        assert f"{seq:>6}" in listing and "bot.status_change" in listing
        assert "3 attempts" in listing and "cannot handle this yet" in listing
        healthy = True
        assert f"replayed {seq}" in await run_cli(nats_server.url, "replay", str(seq))
        await wait_for(lambda: len(calls) == 4)
        assert calls[-1].event_id == event.event_id
        assert await dead_letters_of(nats_server.url) == []


async def test_an_unreadable_message_is_a_dead_letter_at_once(nats_server):
    calls: list[BotStatusChanged] = []

    async def handler(event: BotStatusChanged) -> None:
        calls.append(event)

    async with consuming(nats_server.url, handler, RetryPolicy()) as broker:
        await broker.publish(b'{"bot_id": "not a uuid"}', subject="bot.status_change",
                             stream="EVENTS", headers={"Nats-Msg-Id": "poison-1"})
        letters: list = []
        deadline = time.monotonic() + 10
        while not letters:
            assert time.monotonic() < deadline
            letters = await dead_letters_of(nats_server.url)
            await asyncio.sleep(0.1)
        assert calls == []
        (_, letter), = letters
        assert letter.unreadable and letter.attempts == 1
        assert letter.message_id == "poison-1"
        assert base64.b64decode(letter.payload_b64) == b'{"bot_id": "not a uuid"}'
        assert await pending_of(nats_server.url) == (0, 0)


async def test_a_long_handler_is_kept_in_progress_not_redelivered_to_a_replica(nats_server):
    started: list[float] = []

    async def handler(event: BotStatusChanged) -> None:
        started.append(time.monotonic())
        await asyncio.sleep(4.5)

    retry = RetryPolicy()
    async with consuming(nats_server.url, handler, retry, ack_wait_s=1.5) as broker:
        async with consuming(nats_server.url, handler, retry, ack_wait_s=1.5):
            await publish_event(broker, status_event())
            await wait_for(lambda: len(started) == 1)
            await asyncio.sleep(6.0)
            assert len(started) == 1, "the idle replica got the message while it was handled"
            assert await pending_of(nats_server.url) == (0, 0)

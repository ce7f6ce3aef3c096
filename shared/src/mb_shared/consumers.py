"""Durable JetStream consumers: retried with growing delays, then kept as dead letters.

A service subscribes its handler (`async def on_x(event: X) -> None`) with `subscribe`. The
consumer is the catalogue's durable consumer of that (service, subject), shared by the service's
replicas. For each message:

- it is read against its contract; a message that does not match cannot get better by retrying,
  so it becomes a dead letter at once;
- the handler runs while the message is kept in progress (so a long handler is not redelivered
  elsewhere, and a killed replica's message comes back within `ack_wait_s`);
- success acknowledges it; a failure negatively acknowledges it with the policy's next delay
  (JetStream redelivers it then); after the last attempt it is published as a `DeadLetter`
  (the original message, its headers and the error) and acknowledged. If even that publish
  fails, the message stays unacknowledged and comes back: nothing is dropped.

Handlers must be idempotent: a message can arrive twice (a redelivery after a crash, a replay).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from faststream import AckPolicy
from faststream.nats import NatsBroker, NatsRouter, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig
from pydantic import ValidationError

from mb_shared.contracts.base import Event
from mb_shared.contracts.catalogue import CONSUMERS, durable_name
from mb_shared.contracts.operations import DeadLetter
from mb_shared.messaging import MSG_ID_HEADER, publish_event, stream

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """`delays_s[i]`: the wait after failed attempt `i + 1`; one attempt more than delays."""

    delays_s: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0)

    @property
    def max_attempts(self) -> int:
        return len(self.delays_s) + 1

    def delay_after(self, attempt: int) -> float | None:
        """Seconds before the next attempt, or None when `attempt` was the last."""
        return self.delays_s[attempt - 1] if attempt <= len(self.delays_s) else None


class DeadLetters:
    """Where a service's unhandled messages go: the DEADLETTERS stream."""

    def __init__(self, broker: NatsBroker, service: str) -> None:
        self._broker = broker
        self._service = service

    async def record(self, consumer: str, message, attempts: int, error: BaseException,
                     *, unreadable: bool = False) -> None:
        raw = message.raw_message
        headers = dict(raw.headers or {})
        try:
            sequence = raw.metadata.sequence.stream
        except Exception:
            sequence = None
        letter = DeadLetter(
            service=self._service,
            consumer=consumer,
            subject=raw.subject,
            stream_sequence=sequence,
            message_id=headers.get(MSG_ID_HEADER),
            attempts=attempts,
            unreadable=unreadable,
            error=f"{type(error).__name__}: {error}"[:2000],
            traceback="".join(traceback.format_exception(error))[-4000:],
            headers=headers,
            payload_b64=base64.b64encode(raw.data).decode(),
        )
        await publish_event(self._broker, letter)


async def _keep_in_progress(message, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(Exception):
            await message.in_progress()


def subscribe(
    router: NatsRouter,
    *,
    service: str,
    event_type: type[Event],
    handler: Handler,
    retry: RetryPolicy,
    dead_letters: DeadLetters,
    ack_wait_s: float = 30.0,
) -> None:
    """Register `handler` as `service`'s durable consumer of `event_type` (see the module)."""
    if event_type not in CONSUMERS.get(service, ()):
        raise LookupError(f"the catalogue does not list {service} as a consumer of "
                          f"{event_type.SUBJECT}")
    consumer = durable_name(service, event_type)
    handler_log = logging.getLogger(handler.__module__)

    async def on_message(message: NatsMessage) -> None:
        attempt = message.raw_message.metadata.num_delivered
        try:
            event = event_type.model_validate_json(message.body)
        except ValidationError as exc:
            handler_log.error("%s: unreadable %s message; kept as a dead letter", consumer,
                              event_type.SUBJECT)
            await dead_letters.record(consumer, message, attempt, exc, unreadable=True)
            await message.ack()
            return
        keepalive = asyncio.create_task(_keep_in_progress(message, max(1.0, ack_wait_s / 3)))
        try:
            await handler(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = retry.delay_after(attempt)
            if delay is None:
                handler_log.exception("%s: attempt %d of %s failed; kept as a dead letter",
                                      consumer, attempt, event.event_id)
                await dead_letters.record(consumer, message, attempt, exc)
                await message.ack()
            else:
                handler_log.warning("%s: attempt %d of %s failed (%s: %s); again in %.1f s",
                                    consumer, attempt, event.event_id, type(exc).__name__, exc,
                                    delay)
                await message.nack(delay=delay)
            return
        finally:
            keepalive.cancel()
        await message.ack()

    on_message.__name__ = on_message.__qualname__ = handler.__name__
    router.subscriber(
        event_type.SUBJECT,
        stream=stream(event_type.STREAM),
        durable=consumer,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        config=ConsumerConfig(ack_policy=JsAckPolicy.EXPLICIT, ack_wait=ack_wait_s,
                              max_deliver=-1),
        ack_policy=AckPolicy.MANUAL,
    )(on_message)

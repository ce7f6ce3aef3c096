"""NATS/JetStream set-up through FastStream: streams, broker factory, event publishing."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from nats.js.api import ConsumerConfig, RetentionPolicy

from mb_shared.contracts import Event, Message
from mb_shared.contracts.base import Message as _Message

EVENTS_STREAM = JStream(
    name="EVENTS",
    subjects=[
        "bot.requested",
        "bot.status_change",
        "bot.leave_requested",
        "bot.completed",
        "bot.failed",
        "recording.uploaded",
        "transcription.done",
        "transcription.requested",
    ],
    duplicate_window=120.0,
    declare=True,
)

DISPATCH_STREAM = JStream(
    name="DISPATCH",
    subjects=["bot.dispatch"],
    retention=RetentionPolicy.WORK_QUEUE,
    duplicate_window=120.0,
    declare=True,
)

_STREAM_OF = {subject: EVENTS_STREAM.name for subject in EVENTS_STREAM.subjects} | {
    "bot.dispatch": DISPATCH_STREAM.name
}


def make_broker(nats_url: str, service_name: str) -> NatsBroker:
    return NatsBroker(
        nats_url,
        name=service_name,
        middlewares=[NatsTelemetryMiddleware()],
        graceful_timeout=15.0,
    )


async def publish_event(broker: NatsBroker, event: Event) -> None:
    """Publish an event with its id as `Nats-Msg-Id`, on its stream when it has one."""
    stream = _STREAM_OF.get(event.SUBJECT)
    await broker.publish(
        event.model_dump(mode="json"),
        subject=event.SUBJECT,
        headers={"Nats-Msg-Id": str(event.event_id)},
        stream=stream,
        timeout=5.0,
    )


async def ask(broker: NatsBroker, query: Message, reply_type: type[_Message], timeout: float = 5.0):
    """Send a request/reply query and parse the answer as `reply_type` or a `QueryError`."""
    from mb_shared.contracts.queries import QueryError

    response = await broker.request(
        query.model_dump(mode="json"), subject=query.SUBJECT, timeout=timeout
    )
    body = await response.decode()
    if isinstance(body, dict) and body.get("ok") is False:
        return QueryError.model_validate(body)
    return reply_type.model_validate(body)


def durable_consumer(service: str, name: str, *, ack_wait_s: float = 60.0) -> dict:
    """Subscriber options for a durable JetStream pull consumer shared by a service's replicas.

    Messages are acknowledged after the handler returns; an exception negatively acknowledges
    them with a delay (FastStream's NACK_ON_ERROR), and a message is given up after
    `max_deliver` attempts so that a poison message is not retried for ever.
    """
    return {
        "stream": EVENTS_STREAM,
        "durable": f"{service}-{name}",
        "pull_sub": PullSub(batch_size=1, timeout=5.0),
        "config": ConsumerConfig(max_deliver=10, ack_wait=ack_wait_s),
        "ack_policy": AckPolicy.NACK_ON_ERROR,
    }


def answers_errors(handler):
    """For request/reply handlers: an unexpected exception is answered as a JSON `QueryError`
    at once (and logged), instead of leaving the asker to time out."""
    import functools
    import logging

    from mb_shared.contracts.queries import QueryError

    @functools.wraps(handler)
    async def wrapper(*args, **kwargs):
        try:
            return await handler(*args, **kwargs)
        except Exception:
            logging.getLogger(handler.__module__).exception("%s failed", handler.__name__)
            return QueryError(status=500, code="InternalError",
                              message="The service failed to answer; retry later.").model_dump(mode="json")

    return wrapper

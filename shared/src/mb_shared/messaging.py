"""NATS through FastStream: the broker, the streams of the catalogue, publishing, queries.

Events go to JetStream only, on the stream the catalogue names for their subject, with their id as
`Nats-Msg-Id`; a subject no stream holds is an error, never a silent core-NATS publish. Queries
(and heartbeats) are request/reply.
"""

from __future__ import annotations

import functools
import logging

from faststream.nats import JStream, NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from nats.js.errors import BadRequestError

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.catalogue import (
    EVENTS,
    STREAMS,
    UnroutableSubject,
    stream_config,
    stream_of,
)

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
_CONFIG_DIFFERS = 10058  # "stream name already in use with a different configuration"


def make_broker(nats_url: str, service_name: str) -> NatsBroker:
    """A broker that reconnects for as long as it takes (a NATS restart is not the end). Its
    own lines go through the service's JSON logs, each message's "Received"/"Processed" only
    at DEBUG."""
    return NatsBroker(
        nats_url,
        name=service_name,
        middlewares=[NatsTelemetryMiddleware()],
        graceful_timeout=15.0,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        logger=logging.getLogger(f"faststream.{service_name}"),
        log_level=logging.DEBUG,
    )


def stream(name: str) -> JStream:
    """A catalogue stream for a subscriber; `declare_streams` creates it with its limits."""
    return JStream(name=STREAMS[name].name, declare=False)


async def declare_streams(broker: NatsBroker, replicas: int = 1) -> None:
    """Create every stream of the catalogue, or bring an existing one to its configuration
    (subjects, retention limits, duplicate window, replicas). Idempotent; every service does it
    at start."""
    await broker.connect()
    js = broker.config.connection_state.stream
    for spec in STREAMS.values():
        config = stream_config(spec, replicas)
        try:
            await js.add_stream(config)
        except BadRequestError as exc:
            if exc.err_code != _CONFIG_DIFFERS:
                raise
            await js.update_stream(config)
            log.info("stream %s brought to its catalogue configuration", spec.name)


async def publish_event(broker: NatsBroker, event: Event, *, headers: dict[str, str] | None = None,
                        timeout: float = 5.0) -> None:
    """Publish on the event's stream and wait for the stream's acknowledgement."""
    spec = stream_of(event)
    await broker.publish(
        event.model_dump(mode="json"),
        subject=event.SUBJECT,
        headers={**(headers or {}), MSG_ID_HEADER: str(event.event_id)},
        stream=spec.name,
        timeout=timeout,
    )


async def publish_stored(broker: NatsBroker, subject: str, payload: dict, message_id: str,
                         timeout: float = 5.0) -> None:
    """Publish an event kept as JSON (an outbox row, a dead letter) on its catalogue stream."""
    cls = EVENTS.get(subject)
    if cls is None:
        raise UnroutableSubject(f"no stream holds {subject!r}; add its contract to the catalogue")
    await broker.publish(payload, subject=subject, headers={MSG_ID_HEADER: message_id},
                         stream=stream_of(cls).name, timeout=timeout)


async def ask(broker: NatsBroker, query: Message, reply_type: type[Message], timeout: float = 5.0):
    """Send a request/reply query and parse the answer as `reply_type` or a `QueryError`."""
    from mb_shared.contracts.queries import QueryError

    response = await broker.request(
        query.model_dump(mode="json"), subject=query.SUBJECT, timeout=timeout
    )
    body = await response.decode()
    if isinstance(body, dict) and body.get("ok") is False:
        return QueryError.model_validate(body)
    return reply_type.model_validate(body)


def answers_errors(handler):
    """For request/reply handlers: an unexpected exception is answered as a JSON `QueryError`
    at once (and logged), instead of leaving the asker to time out."""
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

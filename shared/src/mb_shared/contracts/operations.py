"""Contracts of the platform's own operation: dead letters."""

from __future__ import annotations

from mb_shared.contracts.base import Event


class DeadLetter(Event):
    """A message that a consumer could not handle: unreadable at once, or still failing after its
    last retry. It keeps the original message exactly (`payload_b64`, `headers`) so that an
    operator can replay it (`mb-dead-letters`)."""

    SUBJECT = "ops.dead_letter"
    STREAM = "DEADLETTERS"

    service: str
    consumer: str
    subject: str
    stream_sequence: int | None = None
    message_id: str | None = None
    """The original `Nats-Msg-Id` (the event id)."""
    attempts: int
    unreadable: bool = False
    """The message did not match its contract, so retrying could not help."""
    error: str
    traceback: str | None = None
    headers: dict[str, str] = {}
    payload_b64: str

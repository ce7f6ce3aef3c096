"""What the dispatcher asks other services over request/reply: a bot's target (scheduler), an
account's delivery profile (api-gateway), a bot's current transcript (transcriber)."""

from __future__ import annotations

from uuid import UUID

from faststream.nats import NatsBroker
from nats.errors import Error as NatsError

from mb_shared.contracts.queries import (
    BotTarget,
    DeliveryProfile,
    GetBotTarget,
    GetDeliveryProfile,
    GetTranscript,
    QueryError,
    TranscriptReply,
)
from mb_shared.contracts.transcription import TranscriptSegment
from mb_shared.messaging import ask
from webhook_dispatcher.ports import Unavailable


class BusLookups:
    def __init__(self, broker: NatsBroker, timeout_s: float = 10.0) -> None:
        self._broker = broker
        self._timeout = timeout_s

    async def _ask(self, query, reply_type, what: str):
        try:
            reply = await ask(self._broker, query, reply_type, timeout=self._timeout)
        except (TimeoutError, NatsError) as exc:
            raise Unavailable(f"{what}: no answer ({type(exc).__name__})") from None
        if isinstance(reply, QueryError):
            raise Unavailable(f"{what}: {reply.code}: {reply.message}")
        return reply

    async def bot_target(self, bot_id: UUID) -> BotTarget | None:
        try:
            reply = await ask(self._broker, GetBotTarget(bot_id=bot_id), BotTarget,
                              timeout=self._timeout)
        except (TimeoutError, NatsError) as exc:
            raise Unavailable(f"the scheduler: no answer ({type(exc).__name__})") from None
        if isinstance(reply, QueryError):
            if reply.status == 404:
                return None
            raise Unavailable(f"the scheduler: {reply.code}: {reply.message}")
        return reply

    async def delivery_profile(self, account_id: int,
                               api_key_prefix: str | None) -> DeliveryProfile:
        return await self._ask(GetDeliveryProfile(account_id=account_id,
                                                  api_key_prefix=api_key_prefix),
                               DeliveryProfile, "the api-gateway")

    async def transcript(self, bot_id: UUID) -> list[TranscriptSegment]:
        reply = await self._ask(GetTranscript(bot_id=bot_id), TranscriptReply, "the transcriber")
        return reply.segments

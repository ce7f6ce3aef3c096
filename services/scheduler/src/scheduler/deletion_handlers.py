"""Handler of `scheduler.bot.delete_data` (request/reply); asks `transcriber.data.purge`,
`webhooks.data.purge` and `meetings.data.purge`."""

from __future__ import annotations

from faststream.nats import NatsBroker, NatsRouter

from mb_shared.contracts.meetings import PurgeMeetingData
from mb_shared.contracts.queries import (
    DeleteBotData,
    PurgeDeliveries,
    PurgeReply,
    PurgeTranscripts,
    QueryError,
)
from mb_shared.messaging import answers_errors, ask
from mb_shared.storage import ObjectStore
from scheduler.data_deletion import DataDeletion
from scheduler.ports import BotRepository

SERVICE = "scheduler"


def build_deletion_router(broker: NatsBroker, bots: BotRepository, store: ObjectStore) -> NatsRouter:
    def purge_by(query_type):
        async def purge(bot_id) -> int:
            reply = await ask(broker, query_type(bot_id=bot_id), PurgeReply, timeout=30.0)
            if isinstance(reply, QueryError):
                raise RuntimeError(reply.message)
            return reply.removed

        return purge

    async def delete_files(bot_id) -> int:
        return await store.delete_prefix(f"bots/{bot_id}/")

    deletion = DataDeletion(
        bots,
        delete_files,
        {"transcripts": purge_by(PurgeTranscripts), "deliveries": purge_by(PurgeDeliveries),
         "meetings": purge_by(PurgeMeetingData)},
    )
    router = NatsRouter()

    @router.subscriber(DeleteBotData.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_delete_bot_data(command: DeleteBotData) -> dict:
        return (await deletion.delete(command.account_id, command.bot_id)).model_dump(mode="json")

    return router

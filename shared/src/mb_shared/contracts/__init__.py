"""Event and query contracts: one pydantic model per subject, and the registry of all of them."""

from mb_shared.contracts.base import Event, Message, Signal, utcnow
from mb_shared.contracts.catalogue import CONSUMERS, EVENTS, SIGNALS, STREAMS
from mb_shared.contracts.queries import (
    CreateBot,
    DeleteBotData,
    GetBot,
    GetTranscript,
    LeaveBot,
    ListBots,
    PurgeDeliveries,
    PurgeTranscripts,
    Query,
    RetryWebhook,
)

QUERIES: dict[str, type[Query]] = {
    cls.SUBJECT: cls
    for cls in (
        CreateBot,
        GetBot,
        LeaveBot,
        ListBots,
        GetTranscript,
        RetryWebhook,
        DeleteBotData,
        PurgeTranscripts,
        PurgeDeliveries,
    )
}

__all__ = ["CONSUMERS", "EVENTS", "QUERIES", "SIGNALS", "STREAMS", "Event", "Message", "Query",
           "Signal", "utcnow"]

"""Event and query contracts: one pydantic model per subject, and the registry of all of them."""

from mb_shared.contracts.base import Event, Message, utcnow
from mb_shared.contracts.bot import (
    BotCompleted,
    BotDispatched,
    BotFailed,
    BotLeaveRequested,
    BotRequested,
    BotStatusChanged,
    RunnerHeartbeat,
)
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
from mb_shared.contracts.recording import RecordingUploaded
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptionRequested

EVENTS: dict[str, type[Event]] = {
    cls.SUBJECT: cls
    for cls in (
        BotRequested,
        BotDispatched,
        BotStatusChanged,
        RunnerHeartbeat,
        BotLeaveRequested,
        RecordingUploaded,
        TranscriptionDone,
        TranscriptionRequested,
        BotCompleted,
        BotFailed,
    )
}

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

__all__ = ["EVENTS", "QUERIES", "Event", "Message", "Query", "utcnow"]

"""Event and query contracts: one pydantic model per subject, and the registry of all of them."""

from mb_shared.contracts.base import Event, Message, utcnow
from mb_shared.contracts.calendar import (
    CalendarPush,
    CreateCalendar,
    CreateZoomConnection,
    DeleteCalendar,
    DeleteZoomConnection,
    GetCalendar,
    GetCalendarEvent,
    GetZoomConnection,
    ListCalendarEvents,
    ListCalendars,
    ListRawCalendars,
    ListZoomConnections,
    ResyncCalendars,
    ScheduleEventBot,
    UnscheduleEventBot,
    UpdateCalendar,
)
from mb_shared.contracts.catalogue import CONSUMERS, EVENTS, STREAMS
from mb_shared.contracts.queries import (
    ClaimBot,
    CreateBot,
    DeleteBotData,
    GetBot,
    GetBotTarget,
    GetDeliveryProfile,
    GetLiveTranscriptionKey,
    GetTranscript,
    GetTranscriptionKey,
    LeaveBot,
    ListBots,
    PurgeDeliveries,
    PurgeTranscripts,
    Query,
    Retranscribe,
    RetryWebhook,
    RunnerHeartbeat,
    UpsertEventBot,
)

QUERIES: dict[str, type[Query]] = {
    cls.SUBJECT: cls
    for cls in (
        CreateBot,
        GetBot,
        GetBotTarget,
        LeaveBot,
        ListBots,
        Retranscribe,
        GetTranscriptionKey,
        GetLiveTranscriptionKey,
        RunnerHeartbeat,
        ClaimBot,
        GetDeliveryProfile,
        GetTranscript,
        RetryWebhook,
        DeleteBotData,
        PurgeTranscripts,
        PurgeDeliveries,
        ListRawCalendars,
        CreateCalendar,
        UpdateCalendar,
        GetCalendar,
        DeleteCalendar,
        ListCalendars,
        ResyncCalendars,
        CalendarPush,
        GetCalendarEvent,
        ListCalendarEvents,
        ScheduleEventBot,
        UnscheduleEventBot,
        UpsertEventBot,
        CreateZoomConnection,
        GetZoomConnection,
        DeleteZoomConnection,
        ListZoomConnections,
    )
}

__all__ = ["CONSUMERS", "EVENTS", "QUERIES", "STREAMS", "Event", "Message", "Query", "utcnow"]

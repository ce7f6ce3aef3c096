"""The models of what the API answers (and of the few structured values it takes)."""

from meetingbots.models._base import ApiModel
from meetingbots.models.bots import (
    BotData,
    BotDetails,
    BotParam,
    BotParamDetails,
    BotWithParams,
    DeleteResponse,
    EventTimestamp,
    JoinResponse,
    ListRecentBotsResponse,
    Metadata,
    OkResponse,
    RecentBotEntry,
    Screenshot,
    SeparateAudioPart,
    SeparateVideoPart,
    StatusEntry,
    TimelineParticipant,
    Transcript,
    Word,
)
from meetingbots.models.calendars import (
    Attendee,
    Calendar,
    CalendarListEntry,
    CreateCalendarResponse,
    Event,
    ListEventResponse,
    ListRawCalendarsResponse,
    ResyncAllCalendarsResponse,
)
from meetingbots.models.meetings import (
    CalendarEvent,
    CreateMeetingCalendarEvent,
    MeetingDetail,
    MeetingHost,
    MeetingListItem,
    MeetingListResponse,
    Participant,
    ParticipantsResponse,
    RecordingResponse,
    SummaryResponse,
    Topic,
    TranscriptResponse,
    TranscriptSegment,
)

__all__ = [
    "ApiModel", "Attendee", "BotData", "BotDetails", "BotParam", "BotParamDetails",
    "BotWithParams", "Calendar", "CalendarEvent", "CalendarListEntry", "CreateCalendarResponse",
    "CreateMeetingCalendarEvent", "DeleteResponse", "Event", "EventTimestamp", "JoinResponse",
    "ListEventResponse", "ListRawCalendarsResponse", "ListRecentBotsResponse", "MeetingDetail",
    "MeetingHost", "MeetingListItem", "MeetingListResponse", "Metadata", "OkResponse",
    "Participant", "ParticipantsResponse", "RecentBotEntry", "RecordingResponse",
    "ResyncAllCalendarsResponse", "Screenshot", "SeparateAudioPart", "SeparateVideoPart",
    "StatusEntry", "SummaryResponse", "TimelineParticipant", "Topic", "Transcript",
    "TranscriptResponse", "TranscriptSegment", "Word",
]

"""Models of the `/meetings` and `/topics` answers, as the meetings SDK's reference names them,
and of the calendar event snapshot `create_meeting` takes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from meetingbots.models._base import ApiModel, Timestamp


class CreateMeetingCalendarEvent(BaseModel):
    """The calendar event a meeting is a record of (`create_meeting(calendar_event=...)`);
    `start_time` and `end_time` in ISO 8601."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    summary: str | None = None
    organizer_email: str | None = None
    attendees: list[dict[str, Any]] | None = None
    """Each with `email`, `display_name`, `response_status`."""
    meeting_link: str | None = None
    start_time: datetime | str | None = None
    end_time: datetime | str | None = None


class MeetingHost(ApiModel):
    id: int
    name: str | None
    email: str | None


class Participant(ApiModel):
    id: int
    name: str | None
    email: str | None


class CalendarEvent(ApiModel):
    """The calendar event snapshot of a meeting."""

    event_id: str
    summary: str | None
    organizer_email: str | None
    attendees: list[dict[str, Any]]
    meeting_link: str | None
    start_time: Timestamp | None
    end_time: Timestamp | None


class MeetingListItem(ApiModel):
    id: int
    organization_id: int
    title: str
    status: str
    start_time: Timestamp | None
    end_time: Timestamp | None
    created_at: Timestamp
    summary_complete: bool
    from_calendar: bool
    participant_count: int
    duration_seconds: float | None
    language: str | None
    bot_id: UUID | None
    """The bot that joined (`client.bots.get(bot_id)`), if any."""


class MeetingDetail(MeetingListItem):
    location: str | None
    host: MeetingHost | None
    keywords: list[str]
    num_cluster: int | None
    """Distinct speakers in the transcript."""
    topic_id: int | None
    calendar_event: CalendarEvent | None
    error: str | None
    """Why the meeting failed, or has no summary."""


class MeetingListResponse(ApiModel):
    count: int
    next: str | None
    """The whole URL of the next page."""
    previous: str | None
    results: list[MeetingListItem]


class TranscriptSegment(ApiModel):
    speaker: str
    text: str
    start_time: float
    """Seconds from the start of the recording."""
    end_time: float


class TranscriptResponse(ApiModel):
    meeting_id: int
    title: str
    total_segments: int
    transcripts: list[TranscriptSegment]


class SummaryResponse(ApiModel):
    meeting_id: int
    title: str
    summary: str | dict[str, Any] | None
    """Markdown (a dict for legacy meetings); None until `summary_complete`."""
    notes: str | None
    keywords: list[str]
    summary_complete: bool


class ParticipantsResponse(ApiModel):
    meeting_id: int
    title: str
    total_participants: int
    participants: list[Participant]


class RecordingResponse(ApiModel):
    meeting_id: int
    title: str
    recording_url: str | None
    """Presigned for one hour; None until recorded."""
    duration: float | None
    """Seconds."""
    format: str | None


class Topic(ApiModel):
    id: int
    name: str
    alias: str
    language: str
    """ISO 639-1: what meetings of the topic are transcribed and summarised in."""

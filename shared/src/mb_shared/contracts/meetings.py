"""Contracts of the meeting aggregate (the meetings service): a meeting made by a bot, by a
calendar event or by importing a file, with its transcript, summary, notes, keywords,
participants and recording; and the topics that set a meeting's language and context.

Organisations are accounts: an account's `organization_id` is its account id.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.bot import BotParams
from mb_shared.contracts.queries import Query


class MeetingKind(StrEnum):
    STANDARD = "standard"
    """Created by `POST /meetings/` with neither a meeting URL nor a file: a record to fill."""
    BOT = "bot"
    IMPORT = "import"


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    """Created; its bot has not joined yet (or, for a standard meeting, nothing more happens)."""
    IN_PROGRESS = "in_progress"
    """Its bot is in the call, or its file is being fetched."""
    PROCESSING = "processing"
    """Recorded; transcript and summary on their way."""
    COMPLETED = "completed"
    FAILED = "failed"


class CalendarEventSnapshot(Message):
    """The calendar event a meeting was created for, as the caller gave it."""

    event_id: str
    summary: str | None = None
    organizer_email: str | None = None
    attendees: list[dict] = []
    meeting_link: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


class Topic(Message):
    id: int
    name: str
    alias: str
    language: str
    context: str | None = None


class MeetingParticipant(Message):
    id: int
    """The participant's id in the organisation: the same person (by email, or by name when
    no email is known) keeps it across meetings."""
    name: str | None
    email: str | None


class MeetingView(Message):
    ok: Literal[True] = True
    id: int
    organization_id: int
    kind: MeetingKind
    title: str
    status: MeetingStatus
    error: str | None = None
    start_time: datetime | None
    end_time: datetime | None
    created_at: datetime
    location: str | None
    """Where it took place: the meeting URL, or the imported file's name."""
    language: str | None
    topic_id: int | None
    bot_id: UUID | None
    from_calendar: bool
    calendar_event: CalendarEventSnapshot | None
    host: MeetingParticipant | None
    participants: list[MeetingParticipant]
    duration_s: float | None
    num_cluster: int | None
    """How many distinct speakers the transcript has."""
    summary_complete: bool
    summary: str | None
    notes: str | None
    keywords: list[str]
    recording_key: str | None
    recording_format: str | None


class MeetingTranscriptLine(Message):
    speaker: str
    text: str
    start_time: float
    end_time: float


class CreateMeeting(Query):
    """`bot` (its parameters, checked by the gateway) when a bot is to join `bot_join_at` or
    now; `file_url` (checked by the SSRF guard, and sealed: a file's URL often carries what grants
    access to it) for an import; neither for a standard meeting."""

    SUBJECT = "meetings.create"

    account_id: int
    title: str
    start_time: datetime | None = None
    topic_id: int | None = None
    participants: list[str] = []
    bot: BotParams | None = None
    bot_join_at: datetime | None = None
    file_url: str | None = None
    speaker_count: int | None = Field(default=None, ge=1)
    calendar_event: CalendarEventSnapshot | None = None


class GetMeeting(Query):
    SUBJECT = "meetings.get"

    account_id: int
    meeting_id: int


class GetMeetingTranscript(Query):
    SUBJECT = "meetings.transcript"

    account_id: int
    meeting_id: int


class MeetingTranscript(Message):
    ok: Literal[True] = True
    meeting_id: int
    title: str
    lines: list[MeetingTranscriptLine]


class ListMeetings(Query):
    """Every filter of `GET /meetings/`; `participant_ids` match any."""

    SUBJECT = "meetings.list"

    account_id: int
    title: str | None = None
    participant_ids: list[int] = []
    created_after: date | None = None
    created_before: date | None = None
    summary_complete: bool | None = None
    from_calendar: bool | None = None
    offset: int = 0
    limit: int = 10


class MeetingPage(Message):
    ok: Literal[True] = True
    count: int
    meetings: list[MeetingView]


class ListTopics(Query):
    SUBJECT = "meetings.topics"

    account_id: int


class TopicList(Message):
    ok: Literal[True] = True
    topics: list[Topic]


class PurgeMeetingData(Query):
    """`POST /bots/{uuid}/delete_data`: the bot's meeting loses its transcript, summary, notes,
    keywords and recording; what it was (title, times, participants) stays."""

    SUBJECT = "meetings.data.purge"

    bot_id: UUID


class MeetingImportRequested(Event):
    """A meeting created with a file URL, to fetch and transcribe (the meetings service's own
    work queue: a crash in between fetches it again)."""

    SUBJECT = "meeting.import_requested"
    STREAM = "EVENTS"

    meeting_id: int
    import_id: UUID


class MeetingBotRequested(Event):
    """A meeting created with a meeting URL wants its bot: the scheduler creates the bot with
    this id (once, however often this is delivered), due at `join_at`."""

    SUBJECT = "meeting.bot_requested"
    STREAM = "EVENTS"

    meeting_id: int
    bot_id: UUID
    account_id: int
    join_at: datetime
    params: BotParams

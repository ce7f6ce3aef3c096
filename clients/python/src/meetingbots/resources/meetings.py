"""`client.meetings`: the `/meetings` and `/topics` operations, with the meetings SDK's names
and parameters (`list_meetings`, `get_meeting`, `create_meeting`, `get_transcript`,
`get_summary`, `get_participants`, `get_recording`, `list_topics`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from meetingbots.models.meetings import (
    CreateMeetingCalendarEvent,
    MeetingDetail,
    MeetingListResponse,
    ParticipantsResponse,
    RecordingResponse,
    SummaryResponse,
    Topic,
    TranscriptResponse,
)
from meetingbots.resources._base import Resource
from meetingbots.transport import ExtraHeaders, Request, path, without_none

MEETING = "/meetings/{meeting_id}"


def _day(value: str | date | None) -> str | date | None:
    """A day as `created_after`/`created_before` take it (YYYY-MM-DD, UTC)."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


class Meetings(Resource):
    def list_meetings(
        self,
        organization_id: int | None = None,
        title: str | None = None,
        participants: str | Sequence[int] | None = None,
        created_after: str | date | None = None,
        created_before: str | date | None = None,
        summary_complete: bool | None = None,
        from_calendar: bool | None = None,
        page: int | None = None,
        size: int | None = None,
        extra_headers: ExtraHeaders | None = None,
    ) -> MeetingListResponse:
        """The organisation's meetings, latest start first, a page at a time. `participants`:
        participant ids, comma-separated (or a list): meetings with any of them."""
        return self._send(Request("GET", "/meetings/", MeetingListResponse, query={
            "organization_id": organization_id, "title": title, "participants": participants,
            "created_after": _day(created_after), "created_before": _day(created_before),
            "summary_complete": summary_complete, "from_calendar": from_calendar,
            "page": page, "size": size,
        }, extra_headers=extra_headers))

    def get_meeting(self, meeting_id: int,
                    extra_headers: ExtraHeaders | None = None) -> MeetingDetail:
        return self._send(Request("GET", path(MEETING, meeting_id=meeting_id), MeetingDetail,
                                  extra_headers=extra_headers))

    def create_meeting(
        self,
        organization_id: int,
        title: str,
        start_time: str | datetime | None = None,
        user_token: str | None = None,
        topic_id: int | None = None,
        participants: Sequence[str] | None = None,
        bot_meeting_url: str | None = None,
        file_url: str | None = None,
        bot_join_at: str | datetime | None = None,
        speaker_count: int | None = None,
        calendar_event: CreateMeetingCalendarEvent | Mapping[str, Any] | None = None,
        extra_headers: ExtraHeaders | None = None,
    ) -> MeetingDetail:
        """A meeting: a bot joins `bot_meeting_url` (now, or at `bot_join_at`), or the file at
        `file_url` is imported, or it is a record of `calendar_event` (a dict is read as a
        `CreateMeetingCalendarEvent`)."""
        if calendar_event is not None and not isinstance(calendar_event,
                                                         CreateMeetingCalendarEvent):
            calendar_event = CreateMeetingCalendarEvent.model_validate(calendar_event)
        body = without_none({
            "organization_id": organization_id, "title": title, "start_time": start_time,
            "user_token": user_token, "topic_id": topic_id, "participants": participants,
            "bot_meeting_url": bot_meeting_url, "file_url": file_url,
            "bot_join_at": bot_join_at, "speaker_count": speaker_count,
            "calendar_event": calendar_event,
        })
        return self._send(Request("POST", "/meetings/", MeetingDetail, body=body,
                                  extra_headers=extra_headers))

    def get_transcript(self, meeting_id: int,
                       extra_headers: ExtraHeaders | None = None) -> TranscriptResponse:
        return self._send(Request("GET", path(MEETING + "/transcript", meeting_id=meeting_id),
                                  TranscriptResponse, extra_headers=extra_headers))

    def get_summary(self, meeting_id: int,
                    extra_headers: ExtraHeaders | None = None) -> SummaryResponse:
        return self._send(Request("GET", path(MEETING + "/summary", meeting_id=meeting_id),
                                  SummaryResponse, extra_headers=extra_headers))

    def get_participants(self, meeting_id: int,
                         extra_headers: ExtraHeaders | None = None) -> ParticipantsResponse:
        return self._send(Request("GET", path(MEETING + "/participants", meeting_id=meeting_id),
                                  ParticipantsResponse, extra_headers=extra_headers))

    def get_recording(self, meeting_id: int,
                      extra_headers: ExtraHeaders | None = None) -> RecordingResponse:
        """The recording's URL (presigned for one hour), duration and format."""
        return self._send(Request("GET", path(MEETING + "/recording", meeting_id=meeting_id),
                                  RecordingResponse, extra_headers=extra_headers))

    def list_topics(self, organization_id: int | None = None,
                    extra_headers: ExtraHeaders | None = None) -> list[Topic]:
        """The topics a meeting can take (`topic_id`): each sets its language."""
        return self._send(Request("GET", "/topics/", list[Topic],
                                  query={"organization_id": organization_id},
                                  extra_headers=extra_headers))

"""Webhook bodies in the documented Meeting BaaS formats."""

from __future__ import annotations

from typing import Any

from mb_shared.contracts.bot import BotCompleted, BotFailed, BotStatusChanged, EndReason
from mb_shared.contracts.calendar import CalendarSynced
from mb_shared.contracts.transcription import (
    TranscriptionDone,
    TranscriptionLive,
    TranscriptSegment,
)

FAILED_EVENT_CODES: dict[EndReason, str] = {
    EndReason.INVALID_URL: "meeting_not_found",
    EndReason.MEETING_NOT_FOUND: "meeting_not_found",
    EndReason.SIGN_IN_REQUIRED: "authentication_error",
    EndReason.PASSCODE_REQUIRED: "authentication_error",
    EndReason.BOT_WALL: "access_denied",
    EndReason.DENIED: "access_denied",
    EndReason.WAITING_ROOM_TIMEOUT: "access_denied",
    EndReason.NO_ONE_JOINED: "no_attendees",
    EndReason.RUNNER_LOST: "internal_error",
    EndReason.BROWSER_CRASHED: "internal_error",
    EndReason.CANCELLED: "internal_error",
    EndReason.INTERNAL_ERROR: "internal_error",
}


def status_change(event: BotStatusChanged) -> dict[str, Any]:
    return {
        "event": "bot.status_change",
        "data": {
            "bot_id": str(event.bot_id),
            "status": {
                "code": event.status.value,
                "created_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            },
        },
    }


def transcript(segments: list[TranscriptSegment]) -> list[dict[str, Any]]:
    """The `transcript` of `complete` and `transcription_complete`."""
    return [
        {
            "speaker": s.speaker,
            "offset": s.start_time,
            "start_time": s.start_time,
            "end_time": s.end_time,
            "words": [{"start": w.start, "end": w.end, "word": w.word} for w in s.words],
        }
        for s in segments
    ]


def complete(event: BotCompleted, segments: list[TranscriptSegment]) -> dict[str, Any]:
    """`mp4`, `audio`, the data files' fields and the separate audio parts' `download_url` (each
    part holds its object key till then) are filled with freshly signed URLs at each attempt."""
    return {
        "event": "complete",
        "data": {
            "bot_id": str(event.bot_id),
            "event_uuid": str(event.event_uuid) if event.event_uuid else None,
            "mp4": "",
            "audio": "",
            "speakers": event.speakers,
            "transcript": transcript(segments),
            "duration": event.duration_s,
            "reason": event.reason.value if event.reason else None,
            "event": "complete",
            "extra": event.extra,
            "transcription_error": event.transcription_error,
            **{field: "" for field in event.data_files},
            "separate_audio_parts": [part.model_dump(mode="json")
                                     for part in event.separate_audio_parts],
            "separate_video_parts": [part.model_dump(mode="json")
                                     for part in event.separate_video_parts],
        },
    }


def failed(event: BotFailed) -> dict[str, Any]:
    return {
        "event": "failed",
        "data": {
            "bot_id": str(event.bot_id),
            "event_uuid": str(event.event_uuid) if event.event_uuid else None,
            "error": event.error.value,
            "code": FAILED_EVENT_CODES.get(event.reason, "internal_error"),
            "reason": event.reason.value,
            "message": event.message,
            "extra": event.extra,
        },
    }


def transcription_complete(event: TranscriptionDone, segments: list[TranscriptSegment],
                           extra: dict[str, Any] | None) -> dict[str, Any]:
    """A transcript made again (`POST /bots/retranscribe`). `error` is null when it was stored;
    otherwise it says why not, `transcript` is empty and the bot's current transcript is kept."""
    speakers = event.speakers or list(dict.fromkeys(s.speaker for s in segments))
    return {
        "event": "transcription_complete",
        "data": {
            "bot_id": str(event.bot_id),
            "transcript": transcript(segments),
            "speakers": speakers,
            "extra": extra,
            "error": event.error,
        },
    }


def live_transcript(event: TranscriptionLive) -> dict[str, Any]:
    """`bot.live_transcript`: what was said in a stretch of the call, as it was transcribed."""
    return {
        "event": "bot.live_transcript",
        "data": {"bot_id": str(event.bot_id), "transcript": transcript(event.segments)},
    }


def calendar_sync_events(event: CalendarSynced) -> dict[str, Any]:
    """`calendar.sync_events`: which events of a calendar a sync changed."""
    return {
        "event": "calendar.sync_events",
        "data": {
            "calendar_id": str(event.calendar_uuid),
            "last_updated_ts": event.last_updated_ts.isoformat().replace("+00:00", "Z"),
            "affected_event_uuids": [str(u) for u in event.affected_event_uuids],
        },
    }

"""`GET /bots/webhooks`, `/bots/webhooks/bot`, `/bots/webhooks/calendar`: what this platform sends
to webhook URLs, how it signs and retries, as JSON."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()

BOT_ID = "6f1c2a7e-5b8d-4c1e-9a3f-2d4e6b8a0c11"

DELIVERY = {
    "method": "POST, Content-Type: application/json",
    "target": "the bot's webhook_url if given, else the account's (POST /accounts/webhook_url)",
    "headers": {
        "x-meeting-baas-api-key": "the API key the bot was created with",
        "webhook-id": "the event's id; the same on every attempt of that event",
        "webhook-timestamp": "unix seconds of this attempt",
        "webhook-signature": "v1,<base64 HMAC-SHA256 of '<webhook-id>.<webhook-timestamp>.<body>' "
        "keyed with the account's whsec_ secret (GET /accounts/webhook_secret)>, per the "
        "Standard Webhooks specification",
    },
    "order": "a bot's events are delivered one after the other, in the order they happened",
    "retries": "network errors, timeouts (10 s per attempt), 5xx, 408 and 429 are retried "
    "immediately, then after about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (±20 % jitter); "
    "Retry-After is honoured up to one hour; redirects are not followed; 410 Gone stops "
    "deliveries to that URL for the account",
    "urls": "download URLs are presigned for one hour and signed afresh at every attempt",
}

BOT_EVENTS = [
    {
        "event": "bot.status_change",
        "when": "as the bot goes: joining_call, in_waiting_room, in_call_not_recording, "
        "in_call_recording, call_ended",
        "example": {
            "event": "bot.status_change",
            "data": {"bot_id": BOT_ID,
                     "status": {"code": "joining_call", "created_at": "2026-11-21T10:00:00.000Z"}},
        },
    },
    {
        "event": "complete",
        "when": "the recording (and the transcript, if speech_to_text was asked for) is stored; "
        "`transcription_error` says why a transcript asked for could not be made; "
        "`separate_audio_parts` holds each participant's own voice where the platform plays "
        "voices apart (Google Meet), and is empty on Teams and Zoom; `separate_video_parts` "
        "holds each webcam and screenshare on its own where the page plays them on elements of "
        "their own (Google Meet, Teams), and is empty on Zoom",
        "example": {
            "event": "complete",
            "data": {
                "bot_id": BOT_ID,
                "event_uuid": None,
                "mp4": "https://storage.example/bots/.../recording.mp4?X-Amz-Signature=...",
                "audio": "https://storage.example/bots/.../audio.wav?X-Amz-Signature=...",
                "speakers": ["Alice", "Bob"],
                "transcript": [{"speaker": "Alice", "offset": 1.2, "start_time": 1.2,
                                "end_time": 1.9,
                                "words": [{"start": 1.2, "end": 1.5, "word": "Hello"},
                                          {"start": 1.5, "end": 1.9, "word": "Bob."}]}],
                "duration": 61.4,
                "reason": "meeting_ended",
                "event": "complete",
                "extra": {"customer": "acme"},
                "transcription_error": None,
                "speaker_diarization_file":
                    "https://storage.example/bots/.../speaker_diarization.json?X-Amz-Signature=...",
                "speaker_timeline_file":
                    "https://storage.example/bots/.../speaker_timeline.json?X-Amz-Signature=...",
                "meeting_participants_file":
                    "https://storage.example/bots/.../participants.json?X-Amz-Signature=...",
                "participant_events_file":
                    "https://storage.example/bots/.../participant_events.json?X-Amz-Signature=...",
                "transcript_provider_data_file": "https://storage.example/bots/.../"
                    "transcript_provider_data.json?X-Amz-Signature=...",
                "transcript_file":
                    "https://storage.example/bots/.../transcript.json?X-Amz-Signature=...",
                "separate_audio_parts": [{
                    "id": "5f0c6f0e-8f5e-4a8e-9d43-0b2f0a7e9c11",
                    "participant": {"id": 1, "name": "Alice", "is_host": None,
                                    "platform": "google_meet", "extra_data": None},
                    "start_timestamp": {"absolute": "2026-11-21T10:00:08.120Z",
                                        "relative": 8.12},
                    "duration": 41.3,
                    "download_url": "https://storage.example/bots/.../separate_audio/"
                                    "5f0c6f0e-8f5e-4a8e-9d43-0b2f0a7e9c11.flac?X-Amz-Signature=...",
                }],
                "separate_video_parts": [{
                    "id": "0d7d3b9a-2f64-4c1e-8a5b-6f1e2d3c4b5a",
                    "participant": {"id": 1, "name": "Alice", "is_host": None,
                                    "platform": "google_meet", "extra_data": None},
                    "start_timestamp": {"absolute": "2026-11-21T10:00:03.500Z",
                                        "relative": 3.5},
                    "duration": 52.0,
                    "type": "webcam",
                    "download_url": "https://storage.example/bots/.../separate_video/"
                                    "0d7d3b9a-2f64-4c1e-8a5b-6f1e2d3c4b5a.webm?X-Amz-Signature=...",
                }],
            },
        },
    },
    {
        "event": "failed",
        "when": "the bot could not join or record; `error` is the documented error, `code` the "
        "failed event's code, `reason` the finer cause and `message` the meeting's own words",
        "errors": ["CannotJoinMeeting", "TimeoutWaitingToStart", "BotNotAccepted",
                   "InternalError", "InvalidMeetingUrl"],
        "example": {
            "event": "failed",
            "data": {"bot_id": BOT_ID, "event_uuid": None, "error": "BotNotAccepted",
                     "code": "access_denied", "reason": "denied",
                     "message": "Someone in the call denied your request to join",
                     "extra": None},
        },
    },
    {
        "event": "bot.live_transcript",
        "when": "during the call, for a bot sent with speech_to_text.live_transcript (any "
        "provider): what was said in the stretch just transcribed, in the order it was said, "
        "each segment with its speaker; sent a few seconds after the words, between the bot's "
        "status changes. The complete webhook's transcript is the reference: made from the same "
        "words, attributed with the whole call's speaker timeline",
        "example": {
            "event": "bot.live_transcript",
            "data": {"bot_id": BOT_ID,
                     "transcript": [{"speaker": "Alice", "offset": 12.4, "start_time": 12.4,
                                     "end_time": 13.1,
                                     "words": [{"start": 12.4, "end": 12.7, "word": "Good"},
                                               {"start": 12.7, "end": 13.1, "word": "morning."}]}]},
        },
    },
    {
        "event": "transcription_complete",
        "when": "a transcript asked for with POST /bots/retranscribe is stored",
        "example": {
            "event": "transcription_complete",
            "data": {"bot_id": BOT_ID, "speakers": ["Alice"], "transcript": [], "extra": None},
        },
    },
]


CALENDAR_EVENTS = [
    {
        "event": "calendar.sync_events",
        "when": "a sync of a connected calendar (at connection, after a push from Google or "
        "Microsoft, periodically, or on POST /calendars/resync_all) changed events: created, "
        "moved, edited, cancelled or deleted ones. Sent to the account's webhook URL, in order "
        "per calendar. Read the events with GET /calendar_events/{uuid}.",
        "example": {
            "event": "calendar.sync_events",
            "data": {"calendar_id": "3a9d6f0e-2b4c-4d8e-9f1a-5c7e9b1d3f20",
                     "last_updated_ts": "2026-12-01T10:00:00Z",
                     "affected_event_uuids": ["7c2e4a6b-8d0f-4a1c-9e3b-5d7f9a1b3c40"]},
        },
    },
]


@routes.get("/bots/webhooks")
async def webhook_documentation(request: web.Request) -> web.Response:
    return web.json_response({"delivery": DELIVERY, "bot_events": BOT_EVENTS,
                              "calendar_events": CALENDAR_EVENTS})


@routes.get("/bots/webhooks/bot")
async def bot_webhook_documentation(request: web.Request) -> web.Response:
    return web.json_response({"delivery": DELIVERY, "events": BOT_EVENTS})


@routes.get("/bots/webhooks/calendar")
async def calendar_webhook_documentation(request: web.Request) -> web.Response:
    return web.json_response({"delivery": DELIVERY, "events": CALENDAR_EVENTS})

"""Local emulators of the external services the platform calls: speech-to-text providers
(Gladia v2, the Runpod faster-whisper worker), an OpenAI-compatible chat-completions API (for
meeting summaries), calendar providers (Google Calendar API v3, Microsoft
Graph) and Zoom OAuth. The speech emulators transcribe for real with faster-whisper from a local
model directory; the calendar emulators serve one world of users and events that tests change.
See README.md.
"""

from provider_emulators.calendar_world import (
    Attendee,
    CalendarWorld,
    Occurrence,
    PushLog,
    PushRecord,
)
from provider_emulators.chat_completions import ChatCompletionsEmulator
from provider_emulators.common import (
    BackgroundEmulator,
    EmulatorBase,
    RecordedRequest,
    RequestLog,
)
from provider_emulators.gladia import GladiaEmulator
from provider_emulators.google_calendar import GoogleCalendarEmulator
from provider_emulators.microsoft_graph import MicrosoftGraphEmulator
from provider_emulators.runpod import RunpodEmulator
from provider_emulators.whisper import WhisperEngine, shared_engine
from provider_emulators.zoom_oauth import ObfCheck, ZoomApp, ZoomOAuthEmulator, ZoomUser

__all__ = [
    "Attendee",
    "BackgroundEmulator",
    "CalendarWorld",
    "ChatCompletionsEmulator",
    "EmulatorBase",
    "GladiaEmulator",
    "GoogleCalendarEmulator",
    "MicrosoftGraphEmulator",
    "ObfCheck",
    "Occurrence",
    "PushLog",
    "PushRecord",
    "RecordedRequest",
    "RequestLog",
    "RunpodEmulator",
    "WhisperEngine",
    "ZoomApp",
    "ZoomOAuthEmulator",
    "ZoomUser",
    "shared_engine",
]

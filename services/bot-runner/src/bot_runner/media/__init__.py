"""Meeting recording from inside the bot's own headless Chromium."""

from .recorder import (
    RecorderError,
    RecordingClock,
    RecordingFiles,
    TabRecorder,
    recorder_chromium_flags,
    recorder_script,
)

__all__ = [
    "RecorderError",
    "RecordingClock",
    "RecordingFiles",
    "TabRecorder",
    "recorder_chromium_flags",
    "recorder_script",
]

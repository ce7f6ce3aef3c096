"""Meeting recording from inside the bot's own headless Chromium."""

from .recorder import (
    PcmTap,
    RecorderError,
    RecordingClock,
    RecordingFiles,
    TabRecorder,
    recorder_chromium_flags,
    recorder_script,
)

__all__ = [
    "PcmTap",
    "RecorderError",
    "RecordingClock",
    "RecordingFiles",
    "TabRecorder",
    "recorder_chromium_flags",
    "recorder_script",
]

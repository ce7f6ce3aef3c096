"""Local emulators of external speech-to-text providers (Gladia v2, Runpod faster-whisper worker).

Both transcribe for real with faster-whisper from a local model directory; see README.md.
"""

from provider_emulators.common import (
    BackgroundEmulator,
    EmulatorBase,
    RecordedRequest,
    RequestLog,
)
from provider_emulators.gladia import GladiaEmulator
from provider_emulators.runpod import RunpodEmulator
from provider_emulators.whisper import WhisperEngine, shared_engine

__all__ = [
    "BackgroundEmulator",
    "EmulatorBase",
    "GladiaEmulator",
    "RecordedRequest",
    "RequestLog",
    "RunpodEmulator",
    "WhisperEngine",
    "shared_engine",
]

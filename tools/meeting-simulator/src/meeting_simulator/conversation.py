"""A conversation as one audio file with known speakers: each line spoken by its speaker's
espeak-ng voice, one after the other with a pause between, and the truth of who spoke when.
Test material for importing recordings and finding their speakers."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meeting_simulator.speech import Voice

RATE = 16_000


@dataclass(frozen=True)
class SpokenLine:
    speaker: str
    text: str
    start: float
    end: float


def _speak(text: str, voice: Voice, work: Path, n: int) -> np.ndarray:
    path = work / f"{n}.wav"
    espeak = shutil.which("espeak-ng") or "espeak-ng"
    subprocess.run([espeak, "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed),
                    "-w", str(path), "--stdin"], input=text.encode(), check=True,
                   capture_output=True, timeout=60)
    resampled = work / f"{n}.16k.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path), "-ac", "1",
                    "-ar", str(RATE), "-c:a", "pcm_s16le", str(resampled)], check=True,
                   timeout=60)
    with wave.open(str(resampled), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def render_conversation(lines: Sequence[tuple[str, str]], voices: dict[str, Voice],
                        out: Path, *, pause_s: float = 0.8, lead_s: float = 0.5
                        ) -> list[SpokenLine]:
    """Write `lines` ((speaker, text), in order) to `out` (any format ffmpeg writes, by its
    extension) and return when each was spoken."""
    spoken: list[SpokenLine] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pieces = [np.zeros(int(lead_s * RATE), dtype=np.int16)]
        at = lead_s
        for n, (speaker, text) in enumerate(lines):
            samples = _speak(text, voices[speaker], work, n)
            spoken.append(SpokenLine(speaker, text, at, at + samples.size / RATE))
            at += samples.size / RATE + pause_s
            pieces += [samples, np.zeros(int(pause_s * RATE), dtype=np.int16)]
        joined = work / "joined.wav"
        with wave.open(str(joined), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(np.concatenate(pieces).tobytes())
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(joined), str(out)],
                       check=True, timeout=300)
    return spoken

"""Owns speech audio: synthesizes utterances with espeak-ng into WAV files, cached by text and voice."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice (`-v`), pitch (`-p`, 0-99) and speed in words per minute (`-s`)."""

    name: str = "en-us"
    pitch: int = 50
    speed: int = 150


# Assigned to participants in order when the meeting does not name a voice.
DEFAULT_VOICES: tuple[Voice, ...] = (
    Voice("en-us", 50),
    Voice("en-gb", 38),
    Voice("en-us+f3", 60),
    Voice("en-gb+m3", 32),
    Voice("en-us+m3", 44),
    Voice("en-gb+f2", 66),
)


@dataclass(frozen=True)
class Clip:
    key: str
    path: Path
    duration: float


class SpeechSynthesizer:
    def __init__(self, cache_dir: Path, espeak: str | None = None, concurrency: int = 2) -> None:
        self._cache_dir = cache_dir
        self._slots = asyncio.Semaphore(concurrency)
        self._espeak = espeak or shutil.which("espeak-ng") or "espeak-ng"
        self._clips: dict[str, Clip] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def key_for(text: str, voice: Voice) -> str:
        material = f"{voice.name}|{voice.pitch}|{voice.speed}|{text}".encode()
        return hashlib.sha256(material).hexdigest()[:32]

    def clip(self, key: str) -> Clip | None:
        return self._clips.get(key)

    async def synthesize(self, text: str, voice: Voice) -> Clip:
        key = self.key_for(text, voice)
        if key in self._clips:
            return self._clips[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._clips:
                return self._clips[key]
            path = self._cache_dir / f"{key}.wav"
            if not path.exists():
                async with self._slots:
                    await self._run_espeak(text, voice, path)
            clip = Clip(key=key, path=path, duration=_wav_duration(path))
            self._clips[key] = clip
            return clip

    async def _run_espeak(self, text: str, voice: Voice, path: Path) -> None:
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.wav")
        process = await asyncio.create_subprocess_exec(
            self._espeak,
            "-v",
            voice.name,
            "-p",
            str(voice.pitch),
            "-s",
            str(voice.speed),
            "-w",
            str(partial),
            "--stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate(text.encode())
        if process.returncode != 0 or not partial.exists():
            raise RuntimeError(
                f"espeak-ng failed for voice {voice.name!r}: {stderr.decode(errors='replace').strip()}"
            )
        partial.replace(path)


def _wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())

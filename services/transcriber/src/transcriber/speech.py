"""Speech-to-text: the port the transcriber depends on, and its default faster-whisper provider.

The provider never reads a whole recording into memory. Audio is decoded with PyAV (the FFmpeg
libraries faster-whisper already depends on, so any container/codec FFmpeg reads works: wav, mp3,
mp4, webm, ...), resampled to 16 kHz mono as it streams, and cut into windows of about
``chunk_seconds`` (default 120 s). Each cut is placed at the quietest half second of the window's
last 20 s, so words are not split, and every window is transcribed on its own (faster-whisper's
VAD filter, then 30 s decoding windows inside it) with its timestamps shifted back onto the
recording's timeline. Memory stays bounded by the window whatever the length of the meeting:
on a 1 h mp3, peak RSS was about 0.5 GB including the model, against about 1.1 GB when
faster-whisper is given the whole file (it decodes all of it into one array first).
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import av
import numpy as np

from mb_shared.contracts.provider_data import answer

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class RecognizedWord:
    """One recognised word; ``start``/``end`` are seconds from the start of the audio."""

    start: float
    end: float
    text: str


@runtime_checkable
class SpeechToText(Protocol):
    """Turns an audio file into timed words (in spoken order)."""

    def transcribe(self, audio_path: Path, *, said_before: str = "",
                   answers: list[dict] | None = None,
                   language: str | None = None) -> list[RecognizedWord]:
        """`answers`, if given, receives the model's raw output, one entry per window
        (`mb_shared.contracts.provider_data.answer`, offset: the window's start); `language`
        (ISO 639-1) overrides the model's own setting for this file."""
        ...


class AudioDecodeError(RuntimeError):
    """The file holds no decodable audio."""


# --------------------------------------------------------------------------------------------
# Streaming decode and chunking
# --------------------------------------------------------------------------------------------


def iter_pcm_blocks(audio_path: Path, sample_rate: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Yield the first audio stream of ``audio_path`` as float32 mono blocks at ``sample_rate``.

    Packets are demuxed and decoded one at a time; undecodable packets are skipped (as FFmpeg
    does), which keeps a recording with a damaged stretch usable.
    """
    try:
        container = av.open(str(audio_path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"cannot open {audio_path} as media: {exc}") from exc
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    try:
        if not container.streams.audio:
            raise AudioDecodeError(f"{audio_path} has no audio stream")
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError as exc:
                log.debug("skipping an undecodable packet in %s: %s", audio_path, exc)
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    yield _frame_samples(out)
        for out in resampler.resample(None):
            yield _frame_samples(out)
    finally:
        container.close()
        # PyAV's resampler keeps FFmpeg objects alive until collected (faster-whisper #390).
        del resampler
        gc.collect()


def _frame_samples(frame: av.AudioFrame) -> np.ndarray:
    return np.ascontiguousarray(frame.to_ndarray().reshape(-1), dtype=np.float32)


def quietest_cut(samples: np.ndarray, lo: int, hi: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Index in ``[lo, hi]`` at the centre of the quietest ~0.5 s of ``samples[lo:hi]``."""
    lo = max(0, lo)
    hi = min(len(samples), hi)
    frame = max(1, sample_rate // 20)  # 50 ms energy frames
    n_frames = (hi - lo) // frame
    if n_frames < 1:
        return hi
    region = samples[lo : lo + n_frames * frame].astype(np.float64)
    energy = (region.reshape(n_frames, frame) ** 2).mean(axis=1)
    span = min(10, n_frames)  # smooth over 0.5 s so a pause beats a single quiet frame
    smoothed = np.convolve(energy, np.ones(span) / span, mode="valid")
    best = int(np.argmin(smoothed))
    return lo + best * frame + (span * frame) // 2


def iter_audio_chunks(
    blocks: Iterator[np.ndarray],
    chunk_samples: int,
    search_samples: int,
    sample_rate: int = SAMPLE_RATE,
) -> Iterator[tuple[int, np.ndarray]]:
    """Group PCM blocks into ``(offset_in_samples, samples)`` windows of about ``chunk_samples``.

    A window is cut at the quietest point of its last ``search_samples``; what follows the cut
    starts the next window. Consecutive windows tile the stream exactly.
    """
    pending: list[np.ndarray] = []
    pending_len = 0
    offset = 0
    for block in blocks:
        if block.size == 0:
            continue
        pending.append(block)
        pending_len += block.size
        while pending_len >= chunk_samples:
            buffer = np.concatenate(pending)
            cut = quietest_cut(buffer, chunk_samples - search_samples, chunk_samples, sample_rate)
            cut = max(1, cut)
            yield offset, buffer[:cut]
            offset += cut
            rest = buffer[cut:]
            pending = [rest] if rest.size else []
            pending_len = rest.size
    if pending_len:
        yield offset, np.concatenate(pending)


# --------------------------------------------------------------------------------------------
# faster-whisper provider
# --------------------------------------------------------------------------------------------


class WhisperSpeechToText:
    """Default provider: faster-whisper (CTranslate2), int8 on CPU, word timestamps, VAD filter.

    The model is loaded once in ``__init__`` from ``model_dir`` (see
    :func:`transcriber.whisper_model.ensure_whisper_model`); nothing is downloaded. ``language``
    ``None`` lets Whisper detect the language of each window. ``transcribe`` is blocking and
    CPU-bound: from async code, run it in a worker thread, one call at a time per instance.

    Returned words are in spoken order with non-decreasing ``start``, ``start <= end``, and fall
    within the audio; their text is Whisper's, with its punctuation, stripped of whitespace.
    """

    provider_name = "faster-whisper"

    def __init__(
        self,
        model_dir: Path,
        *,
        cpu_threads: int = 2,
        language: str | None = "en",
        beam_size: int = 5,
        chunk_seconds: float = 120.0,
    ) -> None:
        model_dir = Path(model_dir)
        # faster-whisper treats a string that is not an existing directory as a model name or a
        # hub repository and would try to download it: refuse instead.
        if not (model_dir / "model.bin").is_file():
            raise FileNotFoundError(f"no faster-whisper model (model.bin) in {model_dir}")
        if chunk_seconds < 30.0:
            raise ValueError("chunk_seconds must be at least 30 (one Whisper window)")
        from faster_whisper import WhisperModel

        self.model_dir = model_dir
        self.language = language
        self.beam_size = beam_size
        self.chunk_seconds = chunk_seconds
        self._model: WhisperModel = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=1,
            local_files_only=True,
        )

    def transcribe(self, audio_path: Path, *, said_before: str = "",
                   answers: list[dict] | None = None,
                   language: str | None = None) -> list[RecognizedWord]:
        """The file's words; `said_before` is the text spoken just before it, given to the model
        as the previous window's text (when the file is a piece of a longer recording).
        `answers` receives what the model said of each window, as it said it. `language`, when
        given, is the language spoken (else the one this model was set up with)."""
        audio_path = Path(audio_path)
        if not audio_path.is_file():
            raise FileNotFoundError(audio_path)
        chunk_samples = int(self.chunk_seconds * SAMPLE_RATE)
        search_samples = min(chunk_samples // 4, 20 * SAMPLE_RATE)
        words: list[RecognizedWord] = []
        last_start = 0.0
        total_samples = 0
        for offset, samples in iter_audio_chunks(
            iter_pcm_blocks(audio_path), chunk_samples, search_samples
        ):
            total_samples = offset + samples.size
            chunk_start = offset / SAMPLE_RATE
            chunk_end = total_samples / SAMPLE_RATE
            prompt = said_before if offset == 0 else ""
            raw: dict[str, Any] = {}
            for start, end, text in self._transcribe_chunk(samples, prompt, raw,
                                                           language or self.language):
                start = min(max(chunk_start + start, chunk_start, last_start), chunk_end)
                end = min(max(chunk_start + end, start), chunk_end)
                words.append(RecognizedWord(start=start, end=end, text=text))
                last_start = start
            if answers is not None:
                answers.append({**answer("local_model", {"model": self.provider_name,
                                                         "model_dir": self.model_dir.name,
                                                         "payload": raw}),
                                "offset": chunk_start})
        log.info(
            "transcribed %s: %.1f s of audio, %d words",
            audio_path,
            total_samples / SAMPLE_RATE,
            len(words),
        )
        return words

    def _transcribe_chunk(self, samples: np.ndarray, said_before: str = "",
                          raw: dict[str, Any] | None = None, language: str | None = None,
                          ) -> Iterator[tuple[float, float, str]]:
        """The window's words (seconds of the window); `raw` receives the model's answer."""
        segments, info = self._model.transcribe(
            samples,
            language=language,
            beam_size=self.beam_size,
            word_timestamps=True,
            vad_filter=True,
            initial_prompt=said_before or None,
        )
        said: list[dict[str, Any]] = []
        if raw is not None:
            raw.update(language=info.language, language_probability=info.language_probability,
                       duration=info.duration, initial_prompt=said_before or None, segments=said)
        for segment in segments:  # a generator: decoding happens while iterating
            said.append({
                "id": segment.id, "start": segment.start, "end": segment.end,
                "text": segment.text, "avg_logprob": segment.avg_logprob,
                "compression_ratio": segment.compression_ratio,
                "no_speech_prob": segment.no_speech_prob, "temperature": segment.temperature,
                "words": [{"start": w.start, "end": w.end, "word": w.word,
                           "probability": w.probability} for w in segment.words or ()],
            })
            for word in segment.words or ():
                text = word.word.strip()
                if not text or not (math.isfinite(word.start) and math.isfinite(word.end)):
                    continue
                yield float(word.start), float(word.end), text

"""The faster-whisper engine both emulators transcribe with.

One :class:`WhisperEngine` per model directory and process (see :func:`shared_engine`): the model
is loaded once, lazily, on the first transcription, and a lock lets only one transcription run at
a time however many emulators share it. Nothing is ever downloaded: faster-whisper is handed the
local directory with ``local_files_only``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment


class TranscriptionCancelled(Exception):
    """``should_stop`` answered true between two segments."""


@dataclass(frozen=True)
class Transcription:
    """What faster-whisper produced for one file, fully materialised."""

    segments: list[Segment]
    language: str
    language_probability: float
    duration: float


class WhisperEngine:
    """faster-whisper, int8 on CPU, loaded from ``model_dir`` on first use."""

    def __init__(self, model_dir: Path | str, *, cpu_threads: int = 2) -> None:
        model_dir = Path(model_dir)
        # A path that is not a model directory would make faster-whisper look for the name on a
        # model hub: refuse it here instead.
        if not (model_dir / "model.bin").is_file():
            raise FileNotFoundError(f"no faster-whisper model (model.bin) in {model_dir}")
        self.model_dir = model_dir
        self.cpu_threads = cpu_threads
        self._model: WhisperModel | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def load(self) -> WhisperModel:
        """Load the model if it is not loaded yet (blocking; safe from any thread)."""
        with self._load_lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(self.model_dir),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self.cpu_threads,
                    num_workers=1,
                    local_files_only=True,
                )
            return self._model

    def transcribe(
        self,
        audio_path: Path | str,
        *,
        should_stop: Callable[[], bool] | None = None,
        **options: Any,
    ) -> Transcription:
        """Transcribe ``audio_path`` with faster-whisper ``options`` (blocking, one at a time).

        ``should_stop`` is polled before decoding and after every segment; when it answers true
        the work is abandoned with :class:`TranscriptionCancelled`.
        """
        model = self.load()
        with self._run_lock:
            if should_stop is not None and should_stop():
                raise TranscriptionCancelled()
            segments_iter, info = model.transcribe(str(audio_path), **options)
            segments: list[Segment] = []
            for segment in segments_iter:
                segments.append(segment)
                if should_stop is not None and should_stop():
                    raise TranscriptionCancelled()
        return Transcription(
            segments=segments,
            language=info.language,
            language_probability=float(info.language_probability),
            duration=float(info.duration),
        )


_shared: dict[tuple[Path, int], WhisperEngine] = {}
_shared_lock = threading.Lock()


def shared_engine(model_dir: Path | str, *, cpu_threads: int = 2) -> WhisperEngine:
    """The process-wide engine for ``model_dir`` (created on first call, then reused)."""
    key = (Path(model_dir).resolve(), cpu_threads)
    with _shared_lock:
        engine = _shared.get(key)
        if engine is None:
            engine = WhisperEngine(key[0], cpu_threads=cpu_threads)
            _shared[key] = engine
        return engine

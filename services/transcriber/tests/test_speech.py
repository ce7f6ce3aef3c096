"""Speech-to-text with the packaged Whisper base model, on speech synthesised by espeak-ng."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import pytest

from transcriber.speech import (
    SAMPLE_RATE,
    AudioDecodeError,
    RecognizedWord,
    SpeechToText,
    WhisperSpeechToText,
    iter_audio_chunks,
    iter_pcm_blocks,
    quietest_cut,
)
from transcriber.whisper_model import ensure_whisper_model

SENTENCE_1 = "The meeting will start in a few minutes, so please find a seat."
SENTENCE_2 = "Our team finished the new design and the results look very good."
GAP_SECONDS = 3.0
# Whisper's word timestamps (cross-attention alignment) are coarse: the first word after a pause
# is often placed a few tenths of a second early.
TIMING_SLACK = 0.6

needs_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="espeak-ng and ffmpeg are needed to synthesise test speech",
)


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def wav_duration(path: Path) -> float:
    with wave.open(str(path)) as wf:
        return wf.getnframes() / wf.getframerate()


def normalize(text: str) -> str:
    text = text.lower().replace("'", "")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def wer(reference: str, words: list[RecognizedWord]) -> float:
    return jiwer.wer(normalize(reference), normalize(" ".join(w.text for w in words)))


@dataclass(frozen=True)
class SpeechAudio:
    path: Path
    duration: float
    sentence_1_end: float  # where the silence gap starts
    sentence_2_start: float  # where the silence gap ends


# --------------------------------------------------------------------------------------------
# Fixtures: the model is loaded once for the module, the audio built once.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stt(tmp_path_factory) -> WhisperSpeechToText:
    model_dir = ensure_whisper_model(tmp_path_factory.mktemp("whisper-cache"))
    return WhisperSpeechToText(model_dir, cpu_threads=2, language="en")


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None:
        pytest.skip("espeak-ng and ffmpeg are needed to synthesise test speech")
    directory = tmp_path_factory.mktemp("speech")
    run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(directory / "s1.wav"), SENTENCE_1)
    run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(directory / "s2.wav"), SENTENCE_2)
    return directory


def concat_with_silence(directory: Path, name: str, pieces: list[str | float]) -> Path:
    """Join wav files and silences (floats, seconds) into one 16-bit 22.05 kHz mono wav."""
    inputs: list[str] = []
    for piece in pieces:
        if isinstance(piece, float):
            inputs += ["-f", "lavfi", "-t", f"{piece}", "-i", "anullsrc=r=22050:cl=mono"]
        else:
            inputs += ["-i", str(directory / piece)]
    labels = "".join(f"[{i}:a]" for i in range(len(pieces)))
    out = directory / name
    run(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs,
        "-filter_complex", f"{labels}concat=n={len(pieces)}:v=0:a=1[out]",
        "-map", "[out]", "-ar", "22050", "-ac", "1", "-c:a", "pcm_s16le", str(out),
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def two_sentences(speech_dir) -> SpeechAudio:
    path = concat_with_silence(speech_dir, "two.wav", ["s1.wav", GAP_SECONDS, "s2.wav"])
    first = wav_duration(speech_dir / "s1.wav")
    return SpeechAudio(
        path=path,
        duration=wav_duration(path),
        sentence_1_end=first,
        sentence_2_start=first + GAP_SECONDS,
    )


def encode(source: Path, suffix: str) -> Path:
    """Re-encode the wav into another container: mp3, or mp4 with a video track (as bots do)."""
    out = source.with_suffix(suffix)
    if suffix == ".mp3":
        run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
            "-c:a", "libmp3lame", "-b:a", "64k", str(out))  # fmt: skip
    elif suffix == ".mp4":
        run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "color=c=black:s=128x72:r=10", "-i", str(source),
            "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
            str(out))  # fmt: skip
    else:
        raise ValueError(suffix)
    return out


def check_words(words: list[RecognizedWord], audio: SpeechAudio, label: str) -> None:
    assert words, "no words recognised"
    assert all(w.text == w.text.strip() and w.text for w in words)
    starts = [w.start for w in words]
    assert starts == sorted(starts), "word start times are not monotonic"
    for prev, cur in itertools.pairwise(words):
        assert prev.end <= cur.end + 0.05, (prev, cur)
    assert all(0.0 <= w.start <= w.end <= audio.duration + 1e-6 for w in words)

    total = wer(f"{SENTENCE_1} {SENTENCE_2}", words)

    # The words of each sentence are on the right side of the silence.
    middle = (audio.sentence_1_end + audio.sentence_2_start) / 2
    first = [w for w in words if w.start < middle]
    second = [w for w in words if w.start >= middle]
    assert first and second
    assert max(w.end for w in first) <= audio.sentence_1_end + TIMING_SLACK
    assert min(w.start for w in second) >= audio.sentence_2_start - TIMING_SLACK
    assert wer(SENTENCE_1, first) <= 0.15
    assert wer(SENTENCE_2, second) <= 0.15
    print(
        f"\n  [{label}] WER {total:.3f}; second sentence starts at {second[0].start:.2f} s "
        f"(gap {audio.sentence_1_end:.2f}-{audio.sentence_2_start:.2f} s)\n"
        f"  hypothesis: {' '.join(w.text for w in words)}"
    )
    assert total <= 0.15


# --------------------------------------------------------------------------------------------
# Transcription
# --------------------------------------------------------------------------------------------


@needs_tools
def test_wav_transcription_accuracy_and_timing(stt, two_sentences):
    assert isinstance(stt, SpeechToText)  # the default provider fulfils the port
    started = time.perf_counter()
    words = stt.transcribe(two_sentences.path)
    elapsed = time.perf_counter() - started
    print(
        f"\n  real-time factor: {two_sentences.duration / elapsed:.2f}x "
        f"({two_sentences.duration:.2f} s of audio in {elapsed:.2f} s)"
    )
    check_words(words, two_sentences, "wav")


@needs_tools
@pytest.mark.parametrize("suffix", [".mp3", ".mp4"])
def test_other_containers(stt, two_sentences, suffix):
    path = encode(two_sentences.path, suffix)
    words = stt.transcribe(path)
    # lossy codecs add a little padding at the start; allow for it in the bounds
    audio = SpeechAudio(
        path=path,
        duration=two_sentences.duration + 0.2,
        sentence_1_end=two_sentences.sentence_1_end + 0.1,
        sentence_2_start=two_sentences.sentence_2_start,
    )
    check_words(words, audio, suffix)


@dataclass(frozen=True)
class LongAudio:
    path: Path
    spans: list[tuple[float, float, str]]  # (start, end, sentence) of each utterance


@pytest.fixture(scope="module")
def long_audio(speech_dir) -> LongAudio:
    """About 70 s: three utterances separated by long silences."""
    pieces: list[str | float] = ["s1.wav", 26.0, "s2.wav", 27.0, "s1.wav", 5.0]
    path = concat_with_silence(speech_dir, "long.wav", pieces)
    s1 = wav_duration(speech_dir / "s1.wav")
    s2 = wav_duration(speech_dir / "s2.wav")
    spans = [(0.0, s1, SENTENCE_1)]
    spans.append((spans[-1][1] + 26.0, spans[-1][1] + 26.0 + s2, SENTENCE_2))
    spans.append((spans[-1][1] + 27.0, spans[-1][1] + 27.0 + s1, SENTENCE_1))
    return LongAudio(path=path, spans=spans)


@needs_tools
def test_long_audio_is_cut_into_windows_at_silences(long_audio):
    windows = list(
        iter_audio_chunks(iter_pcm_blocks(long_audio.path), 30 * SAMPLE_RATE, 7 * SAMPLE_RATE)
    )
    assert len(windows) >= 3
    for offset, samples in windows[:-1]:  # every cut is in silence
        cut = (offset + samples.size) / SAMPLE_RATE
        assert not any(s - 0.05 < cut < e + 0.05 for s, e, _ in long_audio.spans), cut


@needs_tools
def test_chunked_transcription_keeps_the_recording_timeline(stt, long_audio, monkeypatch):
    monkeypatch.setattr(stt, "chunk_seconds", 30.0)  # same loaded model, 30 s windows
    words = stt.transcribe(long_audio.path)
    groups = [
        [w for w in words if s - TIMING_SLACK <= w.start and w.end <= e + TIMING_SLACK]
        for s, e, _ in long_audio.spans
    ]
    assert sum(len(g) for g in groups) == len(words), "a word fell outside the speech"
    for group, (_, _, sentence) in zip(groups, long_audio.spans, strict=True):
        assert wer(sentence, group) <= 0.15
    starts = [w.start for w in words]
    assert starts == sorted(starts)


@needs_tools
def test_the_models_raw_answer_of_each_window_is_kept_with_its_offset(stt, long_audio,
                                                                      monkeypatch):
    monkeypatch.setattr(stt, "chunk_seconds", 30.0)
    answers: list[dict] = []
    words = stt.transcribe(long_audio.path, answers=answers)
    assert len(answers) >= 2
    offsets = [a["offset"] for a in answers]
    assert offsets[0] == 0.0 and offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert {a["type"] for a in answers} == {"local_model"}
    raw_words = [(a["offset"] + w["start"], w["word"].strip())
                 for a in answers for s in a["data"]["payload"]["segments"] for w in s["words"]]
    assert [text for _, text in raw_words if text] == [w.text for w in words]
    assert all(abs(at - w.start) < 0.5 for (at, _), w in
               zip([r for r in raw_words if r[1]], words, strict=True))
    assert answers[0]["data"]["payload"]["language"] == "en"


@needs_tools
def test_silence_gives_no_words(stt, speech_dir):
    path = concat_with_silence(speech_dir, "silence.wav", [4.0])
    assert stt.transcribe(path) == []


@needs_tools
def test_the_words_said_before_a_piece_guide_its_words(stt, speech_dir):
    """A piece of a call is heard knowing what was said before it, as within one file: a name
    the model cannot spell from the sound alone comes out as it was written before."""
    path = speech_dir / "name.wav"
    run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path),
        "Please send it to Siobhan Nakamura before Friday.")
    alone = normalize(" ".join(w.text for w in stt.transcribe(path)))
    guided = normalize(" ".join(w.text for w in stt.transcribe(
        path, said_before="Siobhan Nakamura owns the Kubernetes rollout.")))
    assert "siobhan nakamura" not in alone, alone
    assert guided == "please send it to siobhan nakamura before friday", guided


def test_missing_file_and_non_audio_file(stt, tmp_path):
    with pytest.raises(FileNotFoundError):
        stt.transcribe(tmp_path / "nope.wav")
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(AudioDecodeError):
        stt.transcribe(junk)


def test_model_dir_must_exist(tmp_path):
    # Never falls back to downloading a model by name from a hub.
    with pytest.raises(FileNotFoundError):
        WhisperSpeechToText(tmp_path / "no-model-here")


# --------------------------------------------------------------------------------------------
# Windowing (pure numpy)
# --------------------------------------------------------------------------------------------


def test_quietest_cut_finds_the_pause():
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 0.3, 20 * SAMPLE_RATE).astype(np.float32)
    samples[int(12.0 * SAMPLE_RATE) : int(12.8 * SAMPLE_RATE)] *= 0.001
    cut = quietest_cut(samples, 5 * SAMPLE_RATE, 20 * SAMPLE_RATE)
    assert 12.0 * SAMPLE_RATE <= cut <= 12.8 * SAMPLE_RATE


def test_windows_tile_the_stream_exactly():
    rng = np.random.default_rng(1)
    total = 95 * SAMPLE_RATE + 123
    samples = rng.normal(0, 0.3, total).astype(np.float32)
    pauses = (27.0, 52.0, 78.0)  # one within the search span at the end of each window
    for pause in pauses:
        samples[int(pause * SAMPLE_RATE) : int((pause + 0.7) * SAMPLE_RATE)] = 0.0
    sizes = rng.integers(1, 5000, 2000)
    blocks, pos = [], 0
    for size in sizes:
        if pos >= total:
            break
        blocks.append(samples[pos : pos + size])
        pos += size
    blocks.append(samples[pos:])
    windows = list(iter_audio_chunks(iter(blocks), 30 * SAMPLE_RATE, 8 * SAMPLE_RATE))
    offsets = [o for o, _ in windows]
    assert offsets[0] == 0
    assert all(o + s.size == n for (o, s), n in zip(windows, offsets[1:] + [total], strict=True))
    np.testing.assert_array_equal(np.concatenate([s for _, s in windows]), samples)
    # every window is at most the target and every cut landed in a pause
    assert all(s.size <= 30 * SAMPLE_RATE for _, s in windows)
    for cut in offsets[1:]:
        assert any(p * SAMPLE_RATE <= cut <= (p + 0.7) * SAMPLE_RATE for p in pauses)

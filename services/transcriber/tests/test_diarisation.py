"""Speaker diarisation of recordings without speaker names, on speech synthesised by espeak-ng.

The voices are ones the packaged encoder tells apart: the meeting simulator's first and third
voices (``en-us`` pitch 50, ``en-us+f3`` pitch 60) and ``en-us+kaukovalta``. The simulator's other
default voices are all variants of one espeak male voice, which the encoder hears as nearly one
speaker (average window distance 0.23 to 0.28, against about 0.2 within one voice), so they
would not make an honest test of speaker separation.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from transcriber.diarisation import (
    ENCODER_WEIGHTS_SHA256,
    SpeakerTurn,
    VoiceEncoder,
    VoiceEncoderError,
    diarisation_error_rate,
    diarise,
    load_voice_encoder,
    locate_encoder_weights,
    match_speakers,
    mel_spectrogram,
)

SAMPLE_RATE = 16_000
VOICES = {
    "anna": ("en-us", 50),
    "bella": ("en-us+f3", 60),
    "carl": ("en-us+kaukovalta", 50),
}
SENTENCES = [
    "The meeting will start in a few minutes, so please find a seat.",
    "Our team finished the new design and the results look very good.",
    "Can everyone see the slides on the shared screen right now?",
    "We should move the release to the second week of next month.",
    "I think the budget needs another review before we sign anything.",
    "Let me share the numbers from last quarter before we decide.",
    "Customers asked for a simpler way to export their reports.",
    "The new office opens in March, and the move takes two days.",
    "Please send me the notes after the call so I can check them.",
]
# Nearly all of the scored speech is far from a turn change, so a whole turn given to the
# wrong speaker (about 3 s of 30 s) costs 10 % on its own; boundaries off by a few tenths of a
# second within the 0.25 s collar cost little. 8 % leaves room for boundary slack only.
MAX_DER = 0.08

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is needed to synthesise test speech"
)


@dataclass(frozen=True)
class Recording:
    samples: np.ndarray  # 16 kHz mono float32
    turns: list[SpeakerTurn]  # who speaks when (the voiced part of each sentence)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    pieces = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces).astype(np.float32)


def speak(text: str, voice: str, pitch: int) -> np.ndarray:
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "150", "--stdout", text],
        check=True, capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    return resample(pcm.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)


def voiced_span(samples: np.ndarray) -> tuple[int, int]:
    """First and last sample of the 10 ms frames louder than -50 dBFS."""
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(np.mean(frames.astype(np.float64) ** 2, axis=1) > 1e-5)
    return int(loud[0]) * 160, (int(loud[-1]) + 1) * 160


def build_recording(script: list[tuple[str, str, float]]) -> Recording:
    """``script``: (speaker, sentence, pause before it in seconds) in spoken order."""
    pieces: list[np.ndarray] = []
    turns: list[SpeakerTurn] = []
    position = 0
    for speaker, sentence, pause in script:
        clip = speak(sentence, *VOICES[speaker])
        first, last = voiced_span(clip)
        clip = clip[first:last]
        pieces.append(np.zeros(int(pause * SAMPLE_RATE), np.float32))
        position += pieces[-1].size
        turns.append(SpeakerTurn(position / SAMPLE_RATE, (position + clip.size) / SAMPLE_RATE,
                                 speaker))
        pieces.append(clip)
        position += clip.size
    pieces.append(np.zeros(SAMPLE_RATE // 2, np.float32))
    return Recording(np.concatenate(pieces), turns)


def alternating(speakers: list[str], pauses: list[float]) -> list[tuple[str, str, float]]:
    return [(speakers[n % len(speakers)], SENTENCES[n % len(SENTENCES)], pauses[n % len(pauses)])
            for n in range(len(SENTENCES))]


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return load_voice_encoder()


@pytest.fixture(scope="module")
def two_speakers(encoder) -> Recording:
    return build_recording(alternating(["anna", "bella"], [0.5, 0.0, 0.8, 0.15]))


@pytest.fixture(scope="module")
def three_speakers(encoder) -> Recording:
    return build_recording(alternating(["anna", "bella", "carl"], [0.6, 0.4, 0.8]))


@pytest.fixture(scope="module")
def one_speaker(encoder) -> Recording:
    return build_recording([("anna", text, 0.6) for text in SENTENCES[:5]])


def speakers_of(turns: list[SpeakerTurn]) -> set[str]:
    return {turn.speaker for turn in turns}


def check_turns(turns: list[SpeakerTurn], duration: float) -> None:
    assert turns == sorted(turns, key=lambda t: t.start)
    for before, after in zip(turns, turns[1:]):
        assert before.end <= after.start
    assert all(0 <= t.start < t.end <= duration + 1e-6 for t in turns)
    names = list(dict.fromkeys(t.speaker for t in turns))
    assert names == [f"Speaker {n}" for n in range(1, len(names) + 1)]


def der(recording: Recording, turns: list[SpeakerTurn]) -> float:
    return diarisation_error_rate(recording.turns, turns, collar=0.25).error_rate


# --------------------------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------------------------


def test_encoder_weights_come_from_the_installed_package():
    path = locate_encoder_weights()
    assert path.name == "pretrained.pt" and path.parent.name == "resemblyzer"
    assert load_voice_encoder() is load_voice_encoder()


def test_damaged_weights_are_refused(tmp_path: Path):
    copy = tmp_path / "pretrained.pt"
    shutil.copyfile(locate_encoder_weights(), copy)
    with copy.open("r+b") as file:
        file.seek(4_000_000)
        byte = file.read(1)
        file.seek(4_000_000)
        file.write(bytes([byte[0] ^ 1]))
    with pytest.raises(VoiceEncoderError, match="sha256"):
        VoiceEncoder.from_file(copy, sha256=ENCODER_WEIGHTS_SHA256)


def test_a_pickle_that_calls_code_is_refused(tmp_path: Path):
    import pickle

    evil = tmp_path / "evil.pt"
    with evil.open("wb") as file:
        for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(part, file)
        pickle.dump(print, file)
    with pytest.raises(VoiceEncoderError, match="refused"):
        VoiceEncoder.from_file(evil, sha256=None)


def reference_signal() -> np.ndarray:
    """2 s of a harmonic tone with a gliding pitch and a vowel-like spectral tilt."""
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    pitch = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 30))
    return (0.05 * tone).astype(np.float32)


# resemblyzer 0.1.4 with torch 2.13 (VoiceEncoder on librosa 0.11's wav_to_mel_spectrogram) gave
# these components (every 16th) of the embedding of reference_signal()[:25_440] (160 frames).
TORCH_EMBEDDING_EVERY_16TH = [
    0.000000, 0.026167, 0.004856, 0.114833, 0.097736, 0.000000, 0.015204, 0.000000,
    0.069147, 0.061571, 0.000000, 0.032748, 0.000000, 0.049333, 0.006035, 0.109833,
]


def test_embedding_matches_resemblyzer_with_torch(encoder):
    mel = mel_spectrogram(reference_signal()[:25_440])
    assert mel.shape == (160, 40)
    embedding = encoder.embed(mel[None])[0]
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    assert embedding[::16] == pytest.approx(TORCH_EMBEDDING_EVERY_16TH, abs=2e-5)


# --------------------------------------------------------------------------------------------
# Diarisation
# --------------------------------------------------------------------------------------------


def test_two_speakers_are_found_without_a_count(two_speakers):
    turns = diarise(two_speakers.samples, SAMPLE_RATE)
    check_turns(turns, two_speakers.samples.size / SAMPLE_RATE)
    assert speakers_of(turns) == {"Speaker 1", "Speaker 2"}
    assert der(two_speakers, turns) < MAX_DER


def test_two_speakers_with_their_count(two_speakers):
    turns = diarise(two_speakers.samples, SAMPLE_RATE, speaker_count=2)
    assert speakers_of(turns) == {"Speaker 1", "Speaker 2"}
    assert der(two_speakers, turns) < MAX_DER


def test_speech_stretches_that_span_a_change_of_speaker(two_speakers):
    """Word stretches join words closer than 0.6 s, so one stretch can hold two speakers."""
    stretches: list[tuple[float, float]] = []
    for turn in two_speakers.turns:
        if stretches and turn.start - stretches[-1][1] < 0.6:
            stretches[-1] = (stretches[-1][0], turn.end)
        else:
            stretches.append((turn.start, turn.end))
    assert len(stretches) < len(two_speakers.turns)
    turns = diarise(two_speakers.samples, SAMPLE_RATE, speech=stretches)
    assert speakers_of(turns) == {"Speaker 1", "Speaker 2"}
    assert der(two_speakers, turns) < MAX_DER


def test_three_speakers_with_their_count(three_speakers):
    turns = diarise(three_speakers.samples, SAMPLE_RATE, speaker_count=3)
    check_turns(turns, three_speakers.samples.size / SAMPLE_RATE)
    assert speakers_of(turns) == {"Speaker 1", "Speaker 2", "Speaker 3"}
    assert der(three_speakers, turns) < MAX_DER


def test_three_speakers_without_a_count(three_speakers):
    turns = diarise(three_speakers.samples, SAMPLE_RATE)
    assert len(speakers_of(turns)) == 3
    assert der(three_speakers, turns) < MAX_DER


def test_the_count_given_is_the_count_found(three_speakers):
    turns = diarise(three_speakers.samples, SAMPLE_RATE, speaker_count=2)
    assert speakers_of(turns) == {"Speaker 1", "Speaker 2"}
    capped = diarise(three_speakers.samples, SAMPLE_RATE, max_speakers=2)
    assert speakers_of(capped) == {"Speaker 1", "Speaker 2"}


def test_one_speaker_is_one_speaker(one_speaker):
    turns = diarise(one_speaker.samples, SAMPLE_RATE)
    assert speakers_of(turns) == {"Speaker 1"}
    assert der(one_speaker, turns) < MAX_DER


def test_speakers_are_numbered_in_order_of_first_speech(two_speakers):
    turns = diarise(two_speakers.samples, SAMPLE_RATE, speaker_count=2)
    assert turns[0].speaker == "Speaker 1"
    first_voice = two_speakers.turns[0]
    assert turns[0].start == pytest.approx(first_voice.start, abs=0.3)


def test_another_sample_rate(two_speakers):
    at_48k = resample(two_speakers.samples, SAMPLE_RATE, 48_000)
    turns = diarise(at_48k, 48_000, speaker_count=2)
    assert speakers_of(turns) == {"Speaker 1", "Speaker 2"}
    assert der(two_speakers, turns) < MAX_DER


def test_no_speech_gives_no_turns():
    silence = np.zeros(5 * SAMPLE_RATE, np.float32)
    hiss = (np.random.default_rng(7).standard_normal(5 * SAMPLE_RATE) * 1e-4).astype(np.float32)
    assert diarise(np.zeros(0, np.float32), SAMPLE_RATE) == []
    assert diarise(silence, SAMPLE_RATE) == []
    assert diarise(silence, SAMPLE_RATE, speech=[(0.5, 3.0)], speaker_count=2) == []
    assert diarise(hiss, SAMPLE_RATE) == []
    assert diarise(hiss, SAMPLE_RATE, speech=[]) == []


def test_speech_too_short_for_a_window(two_speakers):
    first = two_speakers.turns[0]
    turns = diarise(two_speakers.samples, SAMPLE_RATE, speech=[(first.start, first.start + 0.2)])
    assert [t.speaker for t in turns] in ([], ["Speaker 1"])


def test_bad_arguments_are_refused(two_speakers):
    with pytest.raises(ValueError):
        diarise(two_speakers.samples, SAMPLE_RATE, speaker_count=0)
    with pytest.raises(ValueError):
        diarise(two_speakers.samples, SAMPLE_RATE, max_speakers=0)


# --------------------------------------------------------------------------------------------
# The error rate
# --------------------------------------------------------------------------------------------


def test_error_rate_ignores_speaker_names():
    reference = [SpeakerTurn(0, 4, "a"), SpeakerTurn(4, 10, "b")]
    renamed = [SpeakerTurn(0, 4, "Speaker 2"), SpeakerTurn(4, 10, "Speaker 1")]
    assert diarisation_error_rate(reference, renamed, collar=0).error_rate == 0


def test_speakers_are_matched_by_agreement():
    reference = [SpeakerTurn(0, 4, "a"), SpeakerTurn(4, 10, "b"), SpeakerTurn(10, 11, "c")]
    hypothesis = [SpeakerTurn(0, 5, "Speaker 1"), SpeakerTurn(5, 10.2, "Speaker 2"),
                  SpeakerTurn(10.2, 11, "Speaker 3"), SpeakerTurn(11, 12, "Speaker 4")]
    assert match_speakers(reference, hypothesis) == {
        "Speaker 1": "a", "Speaker 2": "b", "Speaker 3": "c"}


def test_error_rate_counts_each_kind_of_error():
    reference = [SpeakerTurn(0, 4, "a"), SpeakerTurn(4, 10, "b")]
    hypothesis = [SpeakerTurn(1, 6, "x"), SpeakerTurn(6, 10, "y"), SpeakerTurn(10, 11, "y")]
    score = diarisation_error_rate(reference, hypothesis, collar=0)
    assert score.reference_speech == pytest.approx(10)
    assert score.missed == pytest.approx(1)  # 0-1
    assert score.false_alarm == pytest.approx(1)  # 10-11
    assert score.confusion == pytest.approx(2)  # 4-6 is b, said to be x (matched to a)
    assert score.error_rate == pytest.approx(0.4)


def test_error_rate_collar_forgives_boundaries():
    reference = [SpeakerTurn(0, 4, "a"), SpeakerTurn(4, 10, "b")]
    late = [SpeakerTurn(0.2, 4.2, "a"), SpeakerTurn(4.2, 9.8, "b")]
    assert diarisation_error_rate(reference, late, collar=0.25).error_rate == 0
    assert diarisation_error_rate(reference, late, collar=0).error_rate == pytest.approx(0.06)


def test_error_rate_of_nothing_found():
    reference = [SpeakerTurn(0, 4, "a")]
    assert diarisation_error_rate(reference, [], collar=0).error_rate == 1
    assert diarisation_error_rate([], [], collar=0).error_rate == 0

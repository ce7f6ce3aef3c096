"""The end-to-end meetings' script is one the packaged Whisper model hears word for word.

The simulator speaks the script with espeak-ng; some words in its voices are misheard by the base
model even from clean audio. The script is checked here, laid out as the simulator plays it but
without any meeting in between, so that the end-to-end tests' word error rate measures what the
platform lost rather than what the model cannot hear.
"""

from __future__ import annotations

import asyncio
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from meeting_simulator.speech import DEFAULT_VOICES, SpeechSynthesizer
from support import meeting_script, speaker_accuracy, word_error_rate
from transcriber.speech import SAMPLE_RATE, WhisperSpeechToText
from transcriber.whisper_model import ensure_whisper_model


def clean_meeting_audio(script: list[dict], directory: Path) -> Path:
    """The script's lines in the simulator's voices (participants in order of first line), each
    at its `at`, as one 16 kHz mono wav."""
    speakers = list(dict.fromkeys(line["speaker"] for line in script))
    synthesizer = SpeechSynthesizer(directory / "clips")
    voices = [DEFAULT_VOICES[speakers.index(line["speaker"])] for line in script]
    clips = [asyncio.run(synthesizer.synthesize(line["text"], voice))
             for line, voice in zip(script, voices, strict=True)]
    lines = []
    for line, clip in zip(script, clips, strict=True):
        pcm = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(clip.path), "-ac", "1", "-ar", str(SAMPLE_RATE),
             "-f", "s16le", "-"], check=True, capture_output=True).stdout
        lines.append((int(line["at"] * SAMPLE_RATE), np.frombuffer(pcm, dtype=np.int16)))
    audio = np.zeros(max(start + len(pcm) for start, pcm in lines) + SAMPLE_RATE, dtype=np.int16)
    for start, pcm in lines:
        audio[start:start + len(pcm)] += pcm
    path = directory / "meeting.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(audio.tobytes())
    return path


@pytest.fixture(scope="module")
def script() -> list[dict]:
    return meeting_script(first_at=3.0)


def test_the_model_hears_the_clean_script_word_for_word(script, tmp_path_factory):
    directory = tmp_path_factory.mktemp("meeting-script")
    stt = WhisperSpeechToText(ensure_whisper_model(directory / "model"))
    heard = stt.transcribe(clean_meeting_audio(script, directory))
    transcript = [{"speaker": "", "words": [{"word": word.text} for word in heard]}]
    error_rate, hypothesis = word_error_rate(transcript, script)
    assert error_rate == 0, hypothesis


def test_enough_words_belong_to_one_speaker_to_judge_attribution(script):
    transcript = [{"speaker": line["speaker"], "words": [{"word": w} for w in line["text"].split()]}
                  for line in script]
    right, judged = speaker_accuracy(transcript, script)
    assert judged >= 15 and right == judged

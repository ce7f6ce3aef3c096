"""How well the speakers of an imported file are found, and what it costs: WER, DER, RTF.

Builds a meeting of `--minutes` minutes spoken by espeak-ng voices (`--speakers` of them; the
first three are clearly different voices, see VOICES) with known text and known turns: turns of
one to three sentences, short interjections ("Okay.", "Right, thanks."), pauses of 0 to 1 s
between turns, some speakers cutting in with no pause at all. The meeting is written to a WAV
file and then goes through what the transcriber does with an import:

* transcription with the packaged Whisper base model (`transcriber.speech.WhisperSpeechToText`);
* diarisation (`transcriber.diarisation.diarise`) of the decoded file, once from the stretches of
  recognised words (as `transcriber.found_speakers` does: words less than 0.6 s apart are one
  stretch), once from the Silero VAD alone; each with and without the number of speakers;
* each word goes to the turn it overlaps most (else the nearest turn).

Printed for each diarisation: the number of speakers found, the DER (collar 0.25 s either side of
each reference boundary, overlap scored) with its missed / false alarm / confusion parts, the
share of recognised words given to the wrong speaker (after matching speakers), and the real-time
factor of diarisation; once: WER of the transcript and the real-time factor of transcription.

`--voices en-us:50,en-gb+m3:32` replaces the voices (espeak-ng `voice:pitch`), e.g. to see how
the meeting simulator's look-alike male voices fare. Not a test: nothing is asserted, and the
machine may be shared and noisy.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import jiwer
import numpy as np

from transcriber.diarisation import (
    SpeakerTurn,
    diarisation_error_rate,
    diarise,
    load_voice_encoder,
    match_speakers,
)
from transcriber.speech import SAMPLE_RATE, RecognizedWord, WhisperSpeechToText, iter_pcm_blocks
from transcriber.whisper_model import ensure_whisper_model

# The meeting simulator's first and third voices, and a third voice the encoder tells apart
# from both; then more of the simulator's voices (close to the first one for the encoder).
VOICES = [("en-us", 50), ("en-us+f3", 60), ("en-us+kaukovalta", 50), ("en-us+iven3", 40),
          ("en-gb+f2", 66), ("en-gb+m3", 32)]

SENTENCES = [
    "Let us start with the marketing budget for next year.",
    "Our engineers need more storage for the customer database.",
    "I will send the final report to finance on Friday.",
    "The meeting will start in a few minutes, so please find a seat.",
    "Our team finished the new design and the results look very good.",
    "Can everyone see the slides on the shared screen right now?",
    "We should move the release to the second week of next month.",
    "I think the budget needs another review before we sign anything.",
    "Let me share the numbers from last quarter before we decide.",
    "Customers asked for a simpler way to export their reports.",
    "The new office opens in March, and the move takes two days.",
    "Please send me the notes after the call so I can check them.",
    "Sales grew in every region except the north, where it stayed flat.",
    "We hired two new designers and one more support engineer.",
    "The server costs went down after we changed the storage plan.",
    "I would like to hear what the support team thinks about this.",
    "Training for the new tools will take place on Tuesday morning.",
    "The contract with our main supplier ends at the end of June.",
    "Could you prepare a short summary for the board meeting?",
    "Most of the bugs were found in the payment page last week.",
    "We need a decision on the hiring plan before the holidays.",
    "The mobile app now loads twice as fast as it did in spring.",
    "Our partners want a demo of the product in early September.",
    "I agree with the plan, but the timeline looks a bit tight.",
    "Let us keep the scope small and ship the first version soon.",
    "The survey shows that users like the new search feature.",
    "Travel costs were higher than expected this quarter.",
    "We can review the security audit at the next meeting.",
    "The marketing campaign brought in many new customers.",
    "Who will take care of the documentation for the release?",
]
INTERJECTIONS = ["Okay.", "Right, thanks.", "Yes, exactly.", "Sounds good.", "I see."]


@dataclass(frozen=True)
class Meeting:
    samples: np.ndarray  # 16 kHz mono float32
    turns: list[SpeakerTurn]  # reference: who speaks when
    text: str  # everything said, in order


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pieces = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces)


def speak(text: str, voice: str, pitch: int) -> np.ndarray:
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "155", "--stdout", text],
        check=True, capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    clip = resample(pcm.astype(np.float32) / 32768.0, rate)
    frames = clip[: clip.size // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(np.mean(frames**2, axis=1) > 1e-5)
    return clip[loud[0] * 160:(loud[-1] + 1) * 160].astype(np.float32)


def build_meeting(minutes: float, voices: list[tuple[str, int]], seed: int) -> Meeting:
    rng = random.Random(seed)
    names = [f"{voice}:{pitch}" for voice, pitch in voices]
    pieces: list[np.ndarray] = []
    turns: list[SpeakerTurn] = []
    said: list[str] = []
    clips: dict[tuple[str, str], np.ndarray] = {}
    position = 0
    speaker = 0
    while position < minutes * 60 * SAMPLE_RATE:
        speaker = rng.choice([n for n in range(len(voices)) if n != speaker] or [speaker])
        if rng.random() < 0.15:
            lines = [rng.choice(INTERJECTIONS)]
        else:
            lines = rng.sample(SENTENCES, rng.choice([1, 1, 2, 2, 3]))
        pause = rng.choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
        for number, line in enumerate(lines):
            key = (names[speaker], line)
            if key not in clips:
                clips[key] = speak(line, *voices[speaker])
            gap = pause if number == 0 else rng.choice([0.3, 0.5])
            pieces.append(np.zeros(int(gap * SAMPLE_RATE), np.float32))
            position += pieces[-1].size
            start = position / SAMPLE_RATE
            pieces.append(clips[key])
            position += clips[key].size
            turns.append(SpeakerTurn(start, position / SAMPLE_RATE, names[speaker]))
            said.append(line)
    pieces.append(np.zeros(SAMPLE_RATE, np.float32))
    return Meeting(np.concatenate(pieces), turns, " ".join(said))


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())


def speech_stretches(words: list[RecognizedWord], gap: float = 0.6) -> list[tuple[float, float]]:
    stretches: list[tuple[float, float]] = []
    for word in sorted(words, key=lambda w: w.start):
        if stretches and word.start - stretches[-1][1] <= gap:
            stretches[-1] = (stretches[-1][0], max(stretches[-1][1], word.end))
        else:
            stretches.append((word.start, max(word.end, word.start)))
    return stretches


def speaker_of(start: float, end: float, turns: list[SpeakerTurn]) -> str | None:
    if not turns:
        return None
    best = max(turns, key=lambda t: min(end, t.end) - max(start, t.start))
    if min(end, best.end) - max(start, best.start) > 0:
        return best.speaker
    return min(turns, key=lambda t: max(t.start - end, start - t.end)).speaker


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def wrong_speaker_share(words: list[RecognizedWord], reference: list[SpeakerTurn],
                        found: list[SpeakerTurn]) -> float:
    mapping = match_speakers(reference, found)
    judged = wrong = 0
    for word in words:
        truth = speaker_of(word.start, word.end, reference)
        guess = speaker_of(word.start, word.end, found)
        judged += 1
        wrong += guess is None or mapping.get(guess) != truth
    return wrong / judged if judged else 0.0


def report(label: str, meeting: Meeting, words: list[RecognizedWord], samples: np.ndarray,
           **options) -> None:
    began = time.perf_counter()
    found = diarise(samples, SAMPLE_RATE, **options)
    seconds = time.perf_counter() - began
    score = diarisation_error_rate(meeting.turns, found, collar=0.25)
    duration = samples.size / SAMPLE_RATE
    print(f"  {label:<34} speakers {len({t.speaker for t in found}):>2}  "
          f"DER {score.error_rate:6.1%} (missed {score.missed / score.reference_speech:5.1%}, "
          f"false alarm {score.false_alarm / score.reference_speech:5.1%}, "
          f"confusion {score.confusion / score.reference_speech:5.1%})  "
          f"wrong-speaker words {wrong_speaker_share(words, meeting.turns, found):5.1%}  "
          f"RTF {seconds / duration:.4f}")


def run(minutes: float, voices: list[tuple[str, int]], seed: int, stt: WhisperSpeechToText,
        directory: Path) -> None:
    meeting = build_meeting(minutes, voices, seed)
    path = directory / f"meeting-{len(voices)}-{minutes:g}min.wav"
    write_wav(path, meeting.samples)
    duration = meeting.samples.size / SAMPLE_RATE
    print(f"{len(voices)} speakers ({', '.join(f'{v}:{p}' for v, p in voices)}), "
          f"{duration / 60:.1f} min, {len(meeting.turns)} reference turns")

    began = time.perf_counter()
    words = stt.transcribe(path, language="en")
    transcription = time.perf_counter() - began
    error = jiwer.wer(normalize(meeting.text), normalize(" ".join(w.text for w in words)))
    print(f"  transcription: WER {error:.1%}, {len(words)} words, "
          f"RTF {transcription / duration:.3f}")

    blocks = list(iter_pcm_blocks(path))
    samples = np.concatenate(blocks)
    stretches = speech_stretches(words)
    count = len(voices)
    report("word stretches, count unknown", meeting, words, samples, speech=stretches)
    report("word stretches, count given", meeting, words, samples, speech=stretches,
           speaker_count=count)
    report("VAD, count unknown", meeting, words, samples)
    report("VAD, count given", meeting, words, samples, speaker_count=count)


def parse_voices(text: str) -> list[tuple[str, int]]:
    voices = []
    for item in text.split(","):
        name, _, pitch = item.partition(":")
        voices.append((name, int(pitch or 50)))
    return voices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0])
    parser.add_argument("--speakers", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--voices", type=parse_voices, help="voice:pitch,... (replaces VOICES)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model-cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "mb-whisper-model")
    args = parser.parse_args()

    began = time.perf_counter()
    load_voice_encoder()
    print(f"voice encoder loaded and checked in {time.perf_counter() - began:.2f} s")
    stt = WhisperSpeechToText(ensure_whisper_model(args.model_cache), cpu_threads=2,
                              language="en")
    voice_sets = [args.voices] if args.voices else [VOICES[:n] for n in args.speakers]
    with tempfile.TemporaryDirectory() as directory:
        for minutes in args.minutes:
            for voices in voice_sets:
                run(minutes, voices, args.seed, stt, Path(directory))


if __name__ == "__main__":
    main()

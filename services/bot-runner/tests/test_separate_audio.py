"""Each participant's own audio from the page's separate audio elements: channels laid on the
recording's timeline, their sound given to the participants whose speaking matches it, and each
participant's track as FLAC."""

import array
import json
import math
import subprocess
from pathlib import Path

from bot_runner.separate_audio import RATE, ChannelAudio, Stretch, separate, write_voices
from mb_shared.contracts.timeline import (
    SpeakerTimelineEntry,
    TimelineParticipant,
    TimelineTimestamp,
)

FRAME = RATE * 40 // 1000
ALICE = TimelineParticipant(id=1, name="Alice", platform="google_meet")
BOB = TimelineParticipant(id=2, name="Bob", platform="google_meet")
CAROL = TimelineParticipant(id=3, name="Carol", platform="google_meet")


def tone(seconds: float, amplitude: int = 8000, hz: float = 440.0) -> bytes:
    samples = round(seconds * RATE)
    return array.array("h", (round(amplitude * math.sin(2 * math.pi * hz * i / RATE))
                             for i in range(samples))).tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * RATE))


def feed(audio: ChannelAudio, channel: str, pcm: bytes, at: float) -> None:
    """`pcm` in 40 ms frames from `at` seconds of the recording, as the recorder hands them."""
    for n in range(0, len(pcm) // (2 * FRAME)):
        audio.on_frame(channel, pcm[2 * FRAME * n:2 * FRAME * (n + 1)], at + n * 0.04)


def spoke(who: TimelineParticipant, start: float, end: float) -> SpeakerTimelineEntry:
    return SpeakerTimelineEntry(participant=who,
                                start_timestamp=TimelineTimestamp(relative=start),
                                end_timestamp=TimelineTimestamp(relative=end))


def test_a_channel_is_laid_on_the_recording_from_its_first_frame(tmp_path: Path):
    audio = ChannelAudio(tmp_path)
    feed(audio, "0-0", bytes(2 * FRAME * 25), 0.5)  # silence from 0.5 s
    feed(audio, "0-0", tone(1.0), 1.5)
    audio.on_frame("0-0", tone(0.04), 1.6)  # a frame handed over twice: already written
    audio.on_frame("0-0", tone(0.04, hz=300), -0.02)  # before the recording: only its end counts
    stretches = audio.close()
    assert stretches == {"0-0": [(1.5, 2.5)]}
    written = (tmp_path / "channel-0-0.pcm").read_bytes()
    assert len(written) == 2 * RATE * 5 // 2
    assert written[:RATE] == bytes(RATE)  # the first 0.5 s: silence
    assert written[3 * RATE:5 * RATE] == tone(1.0)


def test_pauses_shorter_than_a_breath_keep_one_stretch_and_clicks_are_dropped(tmp_path: Path):
    audio = ChannelAudio(tmp_path)
    feed(audio, "0-1", tone(1.0), 0.0)
    feed(audio, "0-1", tone(1.0), 1.2)  # 0.2 s pause: the same stretch
    feed(audio, "0-1", tone(1.0), 3.0)  # 0.8 s pause: another
    feed(audio, "0-1", tone(0.04), 5.0)  # a click
    assert audio.close() == {"0-1": [(0.0, 2.2), (3.0, 4.0)]}


def test_each_stretch_goes_to_whose_speaking_matches_it_best():
    stretches = {
        "0-0": [(1.0, 3.0), (5.0, 7.0)],  # Alice, then (the element reused) Bob
        "0-1": [(2.0, 4.0)],  # Carol, over Alice's end
        "0-2": [(8.0, 8.5)],  # a chime no one was shown speaking for
    }
    speaking = [spoke(ALICE, 1.1, 3.2), spoke(CAROL, 2.2, 4.1), spoke(BOB, 5.3, 7.0)]
    voices = separate(stretches, speaking)
    assert voices == {1: (ALICE, [Stretch("0-0", 0.9, 3.3)]),
                      3: (CAROL, [Stretch("0-1", 1.9, 4.3)]),
                      2: (BOB, [Stretch("0-0", 4.9, 7.3)])}


def test_an_interjection_within_someones_speech_is_the_interjectors():
    speaking = [spoke(ALICE, 1.0, 9.0), spoke(BOB, 4.1, 4.9)]
    voices = separate({"0-0": [(1.0, 9.0)], "0-1": [(4.0, 5.0)]}, speaking)
    assert voices[2] == (BOB, [Stretch("0-1", 3.9, 5.3)])
    assert voices[1] == (ALICE, [Stretch("0-0", 0.9, 9.3)])


def test_one_stretch_carrying_two_voices_in_turn_is_cut_between_them():
    speaking = [spoke(ALICE, 1.0, 3.0), spoke(BOB, 3.3, 5.0)]
    voices = separate({"0-0": [(1.0, 5.0)]}, speaking)
    # A little of the channel before and after each voice, never into the other's.
    assert voices == {1: (ALICE, [Stretch("0-0", 0.9, 3.15)]),
                      2: (BOB, [Stretch("0-0", 3.15, 5.3)])}


def decoded(path: Path) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
                           "-ar", str(RATE), "-"], check=True, capture_output=True).stdout


def test_each_participant_gets_a_flac_from_their_first_words_to_their_last(tmp_path: Path):
    audio = ChannelAudio(tmp_path)
    feed(audio, "0-0", tone(1.0, hz=440), 1.0)
    feed(audio, "0-1", tone(1.0, hz=300), 1.5)
    feed(audio, "0-0", tone(0.52, hz=440), 4.0)
    voices = separate(audio.close(), [spoke(ALICE, 1.0, 2.0), spoke(BOB, 1.5, 2.5),
                                      spoke(ALICE, 4.0, 4.5)])
    parts = write_voices(audio, voices, 1_800_000_000.0, tmp_path)
    described = [(p.participant.name, p.start_timestamp.relative, p.duration,
                  p.start_timestamp.absolute) for p, _ in parts]
    assert described == [("Alice", 0.9, 3.92, "2027-01-15T08:00:00.900000Z"),
                         ("Bob", 1.4, 1.4, "2027-01-15T08:00:01.400000Z")]
    (alice, alice_flac), (bob, bob_flac) = parts
    assert alice_flac.name == f"{alice.id}.flac"
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(alice_flac)],
        check=True, capture_output=True).stdout)["streams"][0]
    assert (probe["codec_name"], probe["sample_rate"], probe["channels"]) == ("flac", "16000", 1)
    pcm = decoded(alice_flac)
    assert pcm == silence(0.1) + tone(1.0, hz=440) + silence(2.0) + tone(0.52, hz=440) + silence(0.3)
    assert decoded(bob_flac) == silence(0.1) + tone(1.0, hz=300) + silence(0.3)

"""The live audio cut into pieces that end in pauses, tiling what was handed over."""

from __future__ import annotations

import io
import struct
import wave

from bot_runner.media.pieces import PieceCutter, wav_bytes

RATE = 16_000
FRAME_S = 0.04
SAMPLES = int(RATE * FRAME_S)


def frame(level: int) -> bytes:
    return struct.pack(f"<{SAMPLES}h", *([level, -level] * (SAMPLES // 2)))


def feed(cutter: PieceCutter, levels: list[int], start_s: float = 0.0):
    pieces = []
    for index, level in enumerate(levels):
        pieces += cutter.push(frame(level), start_s + index * FRAME_S)
    return pieces


def seconds(value: float, level: int) -> list[int]:
    return [level] * round(value / FRAME_S)


def test_the_quiet_before_speech_is_a_piece_of_its_own():
    cutter = PieceCutter(RATE, lead_s=0.3)
    pieces = feed(cutter, seconds(3.0, 0) + seconds(1.2, 5000) + seconds(0.4, 0))
    quiet, voice = pieces
    # the last 0.3 s of the quiet (in whole frames) stays with the voice
    assert (quiet.offset_s, round(quiet.duration_s, 2), quiet.sound) == (0.0, 2.68, False)
    assert abs(voice.offset_s - 2.68) < 1e-6 and voice.sound
    assert abs(voice.duration_s - (0.32 + 1.2 + 0.32)) < 1e-6


def test_a_piece_ends_in_the_first_pause_after_a_second_of_speech():
    cutter = PieceCutter(RATE)
    pieces = feed(cutter, seconds(0.5, 5000) + seconds(0.4, 0) + seconds(1.0, 5000)
                  + seconds(0.5, 0) + seconds(2.0, 5000))
    (first,) = pieces
    # the short pause at 0.5 s is inside the first second: the piece goes on to the next pause
    assert first.index == 0 and first.offset_s == 0.0 and first.sound
    assert abs(first.duration_s - (0.5 + 0.4 + 1.0 + 0.3)) < 1e-6
    (rest,) = cutter.flush()
    assert rest.index == 1 and abs(rest.offset_s - 2.2) < 1e-6 and rest.sound


def test_speech_without_a_pause_is_cut_at_its_quietest_moment():
    cutter = PieceCutter(RATE, max_s=8.0)
    levels = seconds(7.6, 5000) + [400] + seconds(2.0, 5000)
    pieces = feed(cutter, levels)
    (first,) = pieces
    assert abs(first.duration_s - 7.64) < 1e-6  # up to and with the quiet frame
    (rest,) = cutter.flush()
    assert abs(rest.offset_s - 7.64) < 1e-6


def test_silence_is_announced_in_long_pieces_without_sound():
    cutter = PieceCutter(RATE, max_silent_s=30.0)
    pieces = feed(cutter, seconds(65.0, 10))
    assert [(round(p.offset_s, 2), round(p.duration_s, 2), p.sound) for p in pieces] == [
        (0.0, 30.0, False), (30.0, 30.0, False)]


def test_a_jump_in_the_timeline_ends_the_piece_before_it():
    cutter = PieceCutter(RATE)
    pieces = feed(cutter, seconds(0.6, 5000))
    pieces += feed(cutter, seconds(0.6, 5000), start_s=5.0)
    (first,) = pieces
    assert abs(first.duration_s - 0.6) < 1e-6
    (second,) = cutter.flush()
    assert second.offset_s == 5.0


def test_pieces_tile_everything_handed_over():
    cutter = PieceCutter(RATE)
    levels = (seconds(1.3, 3000) + seconds(0.35, 0) + seconds(9.0, 3000) + seconds(40.0, 0)
              + seconds(2.0, 3000))
    pieces = feed(cutter, levels) + cutter.flush()
    assert b"".join(p.pcm for p in pieces) == b"".join(frame(level) for level in levels)
    assert [p.index for p in pieces] == list(range(len(pieces)))
    for before, after in zip(pieces, pieces[1:]):
        assert abs(before.offset_s + before.duration_s - after.offset_s) < 1e-6


def test_a_piece_is_stored_as_a_wav_that_reads_back():
    cutter = PieceCutter(RATE)
    feed(cutter, seconds(0.5, 3000))
    (piece,) = cutter.flush()
    with wave.open(io.BytesIO(wav_bytes(piece))) as read:
        assert (read.getnchannels(), read.getsampwidth(), read.getframerate()) == (1, 2, RATE)
        assert read.readframes(read.getnframes()) == piece.pcm

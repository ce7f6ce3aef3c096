"""How pieces sent during a call are laid out into one audio for the model: the run that
follows the oldest pending piece, silent pieces shortened, and each word placed back on the
recording's timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from transcriber.live import SILENCE_KEPT_S, lay_out
from transcriber.models import LivePiece

BOT = uuid4()


def pieces(*spec: tuple[float, bool, bool]) -> list[LivePiece]:
    """Contiguous pieces from (duration, voiced, transcribed)."""
    rows, offset = [], 0.0
    for index, (duration, voiced, transcribed) in enumerate(spec):
        rows.append(LivePiece(
            bot_id=BOT, piece=index, offset_s=offset, duration_s=duration,
            audio=f"bots/{BOT}/live/{index}.wav" if voiced else None,
            words=[] if transcribed or not voiced else None, received_at=datetime.now(UTC)))
        offset += duration
    return rows


def test_a_run_goes_through_silent_pieces_and_keeps_only_a_little_of_their_silence():
    rows = pieces((4.0, True, False), (25.0, False, True), (3.0, True, False), (2.0, True, False))
    parts = lay_out(rows, 30.0)
    assert [p.piece.piece for p in parts] == [0, 1, 2, 3]
    assert [(p.at_s, p.length_s) for p in parts] == [
        (0.0, 4.0), (4.0, SILENCE_KEPT_S), (4.0 + SILENCE_KEPT_S, 3.0), (7.0 + SILENCE_KEPT_S, 2.0)]
    third = parts[2]
    assert third.to_recording(third.at_s + 1.5) == 4.0 + 25.0 + 1.5


def test_a_run_stops_at_its_limit_at_a_gap_and_at_a_piece_already_transcribed():
    rows = pieces((8.0, True, False), (8.0, True, False), (8.0, True, False), (8.0, True, False))
    assert [p.piece.piece for p in lay_out(rows, 20.0)] == [0, 1]
    gapped = pieces((4.0, True, False), (4.0, True, False))
    gapped[1].offset_s += 0.5
    assert [p.piece.piece for p in lay_out(gapped, 30.0)] == [0]
    done = pieces((4.0, True, False), (4.0, True, True), (4.0, True, False))
    assert [p.piece.piece for p in lay_out(done, 30.0)] == [0]


def test_a_run_does_not_end_in_silence_and_a_time_is_kept_within_its_piece():
    rows = pieces((4.0, True, False), (3.0, False, True), (6.0, False, True))
    parts = lay_out(rows, 30.0)
    assert [p.piece.piece for p in parts] == [0]
    assert parts[0].to_recording(-0.2) == 0.0
    assert parts[0].to_recording(9.0) == 4.0

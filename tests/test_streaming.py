"""Real time on the real stack, on each platform: a receiver on loopback gets the meeting's
audio as it plays; what a customer's server sends is heard in the meeting as the bot's voice; a
receiver that dies mid-call changes neither the recording nor the transcript, only the bot's
status history; and the transcript made while the bot records comes as `bot.live_transcript`
webhooks during the call, in order, with their speakers, and is the `complete` transcript.

Three bots at once: on Meet, one socket both ways at 24 kHz and live transcripts; on Teams, an
output whose server dies a few seconds into the call and an input on another server that stays;
on Zoom, an input alone (and no live transcripts: it did not ask).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jiwer
import pytest

from devstack.receivers import AudioConnection, AudioReceiver, BackgroundServer
from meeting_simulator import new_meet_code, new_teams_meeting_id, new_zoom_meeting_id
from meeting_simulator.speech import DEFAULT_VOICES, SpeechSynthesizer
from support import (
    ReceivedWebhook,
    assert_heard_the_script,
    assert_mp4_lasts_the_time_in_call,
    assert_words_carry_their_speaker,
    end_when,
    live_transcripts,
    meeting_link,
    meeting_script,
    normalize,
    word_error_rate,
)
from transcriber.speech import WhisperSpeechToText
from transcriber.whisper_model import ensure_whisper_model

SCRIPT = meeting_script(first_at=3.0)
END_AFTER = 25.0
LIVE_WAIT_S = 150.0
"""The Meet call, with the live transcript, goes on after `END_AFTER` until two live
transcripts came (slow on a loaded machine), at most this long."""
DIES_AFTER_S = 5.0
BOT_SAYS = "Please remember to send your comments before the end of the week."
"""A line the packaged model hears word for word in the simulator's voices, also once it went
through Opus at 24 kbit/s as the meeting's recording of the bot does."""


@dataclass
class StreamedBot:
    platform: str
    code: str
    bot_id: str
    final: ReceivedWebhook
    meeting: dict
    details: dict
    output: list[AudioConnection]
    input: list[AudioConnection]
    microphone: bytes
    """What the others in the simulated meeting heard from the bot (webm)."""
    live: list[ReceivedWebhook]
    """Its `bot.live_transcript` webhooks."""


def server_for(receiver: AudioReceiver) -> BackgroundServer:
    server = BackgroundServer(receiver.app())
    server.start()
    return server


@pytest.fixture(scope="module")
def bot_voice(tmp_path_factory) -> Path:
    synthesizer = SpeechSynthesizer(tmp_path_factory.mktemp("bot-voice"))
    return asyncio.run(synthesizer.synthesize(BOT_SAYS, DEFAULT_VOICES[2])).path


@pytest.fixture(scope="module")
def streamed(api, simulator, webhooks, bot_voice) -> Iterator[dict[str, StreamedBot]]:
    receivers = {name: AudioReceiver() for name in ("meet", "teams-out", "teams-in", "zoom")}
    servers = {name: server_for(receiver) for name, receiver in receivers.items()}

    def url(name: str) -> str:
        return f"ws://127.0.0.1:{servers[name].port}/{name}"

    for name in ("meet", "teams-in", "zoom"):
        receivers[name].speak[f"/{name}"] = bot_voice
    visits = {
        "meet": ("meet", new_meet_code(),
                 {"output": url("meet"), "input": url("meet"), "audio_frequency": "24khz"}),
        "teams": ("teams", new_teams_meeting_id(),
                  {"output": url("teams-out"), "input": url("teams-in")}),
        "zoom": ("zoom", new_zoom_meeting_id(), {"input": url("zoom")}),
    }
    sent: dict[str, tuple[str, str]] = {}
    try:
        for name, (platform, code, streaming) in visits.items():
            simulator.create_meeting(code, platform=platform,
                                     participants=[{"name": "Alice"}, {"name": "Bob"}],
                                     script=SCRIPT, admission={"action": "admit", "after": 2.0},
                                     end_after=END_AFTER if name != "meet" else LIVE_WAIT_S)
            response = api.join(meeting_url=meeting_link(platform, code),
                                bot_name=f"Streamer {name}",
                                webhook_url=webhooks.url + "/streaming",
                                speech_to_text={"provider": "Default",
                                                "live_transcript": name == "meet"},
                                streaming=streaming)
            assert response.status == 200, response.body
            sent[name] = (code, response.body["bot_id"])
        deadline = time.monotonic() + 300
        dying = receivers["teams-out"]
        while sum(len(c.frames) for c in dying.on_path("/teams-out")) < DIES_AFTER_S * 25:
            assert time.monotonic() < deadline, "the Teams output receiver got no audio"
            time.sleep(0.1)
        dying.crash()
        servers.pop("teams-out").stop()
        meet_code, meet_bot = sent["meet"]

        def meet_went_on_with_live_transcripts() -> bool:
            started_at = simulator.meeting(meet_code)["started_at"]
            return (started_at is not None and time.time() - started_at >= END_AFTER
                    and len(live_transcripts(webhooks, meet_bot)) >= 2)

        end_when(simulator, meet_code, meet_went_on_with_live_transcripts, LIVE_WAIT_S)
        results = {}
        for name, (code, bot_id) in sent.items():
            final = webhooks.wait_final(bot_id, timeout=300)
            meeting = simulator.meeting(code)
            (guest,) = meeting["guests"]
            outputs = {"meet": "meet", "teams": "teams-out"}
            inputs = {"meet": "meet", "teams": "teams-in", "zoom": "zoom"}
            results[name] = StreamedBot(
                visits[name][0], code, bot_id, final, meeting,
                api.request("GET", f"/bots/{bot_id}").body,
                receivers[outputs[name]].on_path(f"/{outputs[name]}") if name in outputs else [],
                receivers[inputs[name]].on_path(f"/{inputs[name]}"),
                simulator.microphone_audio(code, guest["id"]),
                live_transcripts(webhooks, bot_id))
        yield results
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def speech_to_text(platform_dir) -> WhisperSpeechToText:
    return WhisperSpeechToText(ensure_whisper_model(platform_dir / "models"))


def received_audio(connection: AudioConnection, path: Path) -> Path:
    """What the connection received, laid on its header's offset, as a wav."""
    header = connection.header
    assert header is not None
    rate = header["sample_rate"]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0" * (round(header["offset_ms"] * rate / 1000) * 2))
        out.writeframes(connection.pcm())
    return path


def test_the_receiver_gets_one_socket_that_says_what_it_carries(streamed):
    bot = streamed["meet"]
    (connection,) = bot.output
    header = dict(connection.header)
    assert 0 <= header.pop("offset_ms") < 1000
    assert header == {"type": "audio_start", "bot_id": bot.bot_id, "sample_rate": 24_000,
                      "channels": 1, "encoding": "pcm_s16le", "frame_ms": 40}
    assert {len(frame) for _, frame in connection.frames} == {24_000 * 40 // 1000 * 2}
    assert [t for t in connection.texts if t["type"] != "speaker"] == [], "no audio was skipped"
    assert connection.close_code == 1000


def test_the_receiver_is_told_who_speaks(streamed):
    (connection,) = streamed["meet"].output
    said = [(t["name"], t["speaking"]) for t in connection.texts if t["type"] == "speaker"]
    print(f"\n{said}")
    turns = [name for name, _ in itertools.groupby(name for name, speaking in said if speaking)]
    assert turns[:3] == [line["speaker"] for line in SCRIPT]
    offsets = [t["offset_ms"] for t in connection.texts if t["type"] == "speaker"]
    assert offsets == sorted(offsets)


def test_the_received_audio_lasts_the_recording(streamed):
    bot = streamed["meet"]
    (connection,) = bot.output
    received_s = connection.header["offset_ms"] / 1000 + len(connection.frames) * 0.04
    recorded_s = bot.details["duration"]
    print(f"\nreceived {received_s:.2f} s of audio, recording {recorded_s} s")
    assert abs(received_s - recorded_s) <= 2.0


def test_the_received_audio_arrived_while_the_meeting_played(streamed):
    bot = streamed["meet"]
    (connection,) = bot.output
    ended_at = bot.meeting["ended_at"]
    during = [arrived for arrived, _ in connection.frames if arrived <= ended_at]
    print(f"\n{len(during)} of {len(connection.frames)} frames arrived before the meeting ended")
    assert len(during) >= 0.8 * len(connection.frames)


def test_transcribing_what_the_receiver_got_gives_the_script(streamed, speech_to_text, tmp_path):
    (connection,) = streamed["meet"].output
    heard = speech_to_text.transcribe(received_audio(connection, tmp_path / "received.wav"))
    transcript = [{"speaker": "", "words": [{"word": word.text} for word in heard]}]
    error_rate, hypothesis = word_error_rate(transcript, SCRIPT)
    print(f"\nWER of the received audio {error_rate:.3f}: {hypothesis!r}")
    assert error_rate <= 0.15


def test_a_receiver_that_dies_changes_neither_recording_nor_transcript(streamed):
    bot = streamed["teams"]
    assert bot.final.body["event"] == "complete", bot.final.body
    assert_heard_the_script(bot.final.body, SCRIPT)
    assert_mp4_lasts_the_time_in_call(bot.final.body, bot.meeting, 2.0)
    (connection,) = bot.output
    received_s = len(connection.frames) * 0.04
    print(f"\nthe receiver got {received_s:.1f} s of a {bot.details['duration']} s recording")
    assert DIES_AFTER_S <= received_s < bot.details["duration"] - 5


def test_the_interruption_is_in_the_bots_status_history(streamed):
    history = streamed["teams"].details["status_history"]
    notes = [(entry["code"], entry["message"]) for entry in history
             if entry["message"] and entry["message"].startswith("streaming.output:")]
    print(f"\n{notes}")
    assert notes and notes[0][0] == "in_call_recording"
    assert notes[0][1].endswith("; reconnecting")
    codes = [entry["code"] for entry in history if not entry["message"]]
    assert codes[-2:] == ["call_ended", "completed"]
    assert [entry["message"] for entry in streamed["meet"].details["status_history"]
            if entry["message"]] == []


@pytest.mark.parametrize("name", ["meet", "teams", "zoom"])
def test_what_the_server_sends_is_heard_in_the_meeting(streamed, speech_to_text, tmp_path, name):
    bot = streamed[name]
    (connection,) = bot.input
    assert connection.header["bot_id"] == bot.bot_id
    assert bot.microphone, "the meeting heard nothing from the bot"
    recording = tmp_path / "heard.webm"
    recording.write_bytes(bot.microphone)
    heard = " ".join(word.text for word in speech_to_text.transcribe(recording))
    error_rate = jiwer.wer(" ".join(normalize(BOT_SAYS)), " ".join(normalize(heard)))
    print(f"\n{name}: the meeting heard {heard!r} (WER {error_rate:.2f})")
    assert error_rate <= 0.15


def test_the_bot_does_not_hear_its_own_voice_in_its_recording(streamed):
    """What the bot says goes to the others, not into its own recording's transcript."""
    words = " ".join(normalize(" ".join(
        word["word"] for segment in streamed["zoom"].final.body["data"]["transcript"]
        for word in segment["words"])))
    assert "remember" not in words and "comments" not in words
    assert_heard_the_script(streamed["zoom"].final.body, SCRIPT)


def live_segments(bot: StreamedBot) -> list[dict]:
    return [segment for hook in bot.live for segment in hook.body["data"]["transcript"]]


def test_live_transcripts_arrive_during_the_call(streamed):
    bot = streamed["meet"]
    assert bot.live, "no bot.live_transcript webhook"
    ended_at = bot.meeting["ended_at"]
    for hook in bot.live:
        said = [(s["speaker"], " ".join(w["word"] for w in s["words"]))
                for s in hook.body["data"]["transcript"]]
        print(f"\n{hook.received_at - ended_at:+.1f} s from the end: {said}")
    during = [hook for hook in bot.live if hook.received_at < ended_at]
    assert len(during) >= 2, "fewer than two live transcripts before the meeting ended"


def test_live_transcripts_are_in_order_and_say_who_spoke(streamed):
    segments = live_segments(streamed["meet"])
    starts = [segment["start_time"] for segment in segments]
    assert starts == sorted(starts)
    turns = [s["speaker"] for s in segments]
    firsts = [turns[0], *(b for a, b in zip(turns, turns[1:]) if a != b)]
    assert firsts[:3] == [line["speaker"] for line in SCRIPT]
    transcript = [{"speaker": s["speaker"], "words": s["words"]} for s in segments]
    assert_heard_the_script({"data": {"transcript": transcript}}, SCRIPT)


def test_the_complete_transcript_is_made_of_the_live_words(streamed):
    bot = streamed["meet"]
    assert bot.final.body["event"] == "complete", bot.final.body
    assert_heard_the_script(bot.final.body, SCRIPT)
    assert_words_carry_their_speaker(bot.final.body, SCRIPT)
    live_words = [(w["word"], round(w["start"], 2)) for s in live_segments(bot) for w in s["words"]]
    final_words = [(w["word"], round(w["start"], 2))
                   for s in bot.final.body["data"]["transcript"] for w in s["words"]]
    assert final_words == live_words
    print(f"\nmeeting end -> complete: {bot.final.received_at - bot.meeting['ended_at']:.1f} s")


def test_a_bot_that_did_not_ask_gets_no_live_transcript(streamed):
    assert streamed["zoom"].live == []
    assert streamed["teams"].live == []

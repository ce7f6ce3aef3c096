"""A real bot records and transcribes a simulated Google Meet meeting through every service."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass

import pytest

from support import (
    ReceivedWebhook,
    assert_heard_the_script,
    assert_mp4_lasts_the_time_in_call,
    assert_words_carry_their_speaker,
    decodes,
    meeting_script,
    transcript_words,
)

SCRIPT = meeting_script(first_at=3.0)
END_AFTER = 25.0
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
EXPECTED_STATUSES = [
    "joining_call",
    "in_waiting_room",
    "in_call_not_recording",
    "in_call_recording",
    "call_ended",
]



@dataclass
class RecordedMeeting:
    code: str
    bot_id: str
    final: ReceivedWebhook
    meeting: dict
    statuses: list[str]


@pytest.fixture(scope="module")
def recorded(api, simulator, webhooks, platform) -> RecordedMeeting:
    code = "rec-ordi-ngx"
    simulator.create_meeting(
        code,
        participants=[{"name": "Alice"}, {"name": "Bob"}],
        script=SCRIPT,
        admission={"action": "admit", "after": 2.0},
        end_after=END_AFTER,
    )
    response = api.request(
        "POST",
        "/bots/",
        {
            "meeting_url": f"https://meet.google.com/{code}",
            "bot_name": "Notetaker",
            "webhook_url": webhooks.url + "/e2e",
            "speech_to_text": {"provider": "Default"},
            "extra": {"customer": "acme"},
            "entry_message": ENTRY_MESSAGE,
        },
        headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
    )
    assert response.status == 200, response.body
    bot_id = response.body["bot_id"]
    final = webhooks.wait_final(bot_id, timeout=300)
    return RecordedMeeting(code, bot_id, final, simulator.meeting(code), webhooks.status_codes(bot_id))


ENTRY_MESSAGE = "Hello, I am taking notes for this meeting."


def test_the_entry_message_is_posted_in_the_chat_once_admitted(recorded):
    guest = recorded.meeting["guests"][0]
    posted = [m for m in recorded.meeting["chat"] if m["from_guest"]]
    assert [(m["sender"], m["text"]) for m in posted] == [("Notetaker", ENTRY_MESSAGE)]
    assert posted[0]["sent_at"] >= guest["admitted_at"]



def test_the_bot_joins_under_its_name_and_completes(recorded):
    assert recorded.final.body["event"] == "complete", recorded.final.body
    assert [g["name"] for g in recorded.meeting["guests"]] == ["Notetaker"]
    assert recorded.final.body["data"]["extra"] == {"customer": "acme"}


def test_status_webhooks_arrive_in_order(recorded):
    assert recorded.statuses == EXPECTED_STATUSES


def test_complete_arrives_after_the_meeting_end(recorded):
    ended_at = recorded.meeting["ended_at"]
    assert ended_at is not None
    latency = recorded.final.received_at - ended_at
    print(f"\nmeeting end -> complete webhook: {latency:.1f} s")
    assert latency >= 0


def test_webhooks_carry_the_api_key(recorded, platform):
    assert recorded.final.headers["x-meeting-baas-api-key"] == platform.endpoints.api_key


def test_transcript_matches_what_was_said(recorded):
    assert_heard_the_script(recorded.final.body, SCRIPT)


def test_words_carry_the_right_speaker(recorded):
    assert_words_carry_their_speaker(recorded.final.body, SCRIPT)


def test_speakers_are_the_two_participants(recorded):
    assert sorted(recorded.final.body["data"]["speakers"]) == ["Alice", "Bob"]


def test_the_mp4_has_audio_and_video_and_lasts_the_time_in_call(recorded):
    assert_mp4_lasts_the_time_in_call(recorded.final.body, recorded.meeting, 2.0)


def test_the_audio_file_decodes(recorded):
    assert recorded.final.body["data"]["audio"]
    assert decodes(recorded.final.body["data"]["audio"])


def test_meeting_data_returns_the_same_transcript_and_working_urls(recorded, api):
    response = api.request("GET", f"/bots/meeting_data?bot_id={recorded.bot_id}")
    assert response.status == 200, response.body
    data = response.body
    words = [w["text"] for t in data["bot_data"]["transcripts"] for w in t["words"]]
    assert words == [w for _, w in transcript_words(recorded.final.body["data"]["transcript"])]
    assert [t["speaker"] for t in data["bot_data"]["transcripts"]] == [
        s["speaker"] for s in recorded.final.body["data"]["transcript"]
    ]
    assert data["bot_data"]["bot"]["uuid"] == recorded.bot_id
    assert data["bot_data"]["bot"]["extra"] == {"customer": "acme"}
    assert data["duration"] > 0
    for field in ("mp4", "audio", "speaker_diarization_file"):
        with urllib.request.urlopen(data[field], timeout=30) as download:
            assert download.status == 200 and len(download.read()) > 0, field


def test_the_local_models_raw_answers_are_the_transcripts_source(recorded):
    data = recorded.final.body["data"]
    with urllib.request.urlopen(data["transcript_provider_data_file"], timeout=30) as download:
        parts = json.loads(download.read())["parts"]
    assert parts and {p["type"] for p in parts} == {"local_model"}
    offsets = [p["source_audio"]["offset"] for p in parts]
    assert offsets == sorted(offsets)
    raw = [w["word"].strip() for p in parts for s in p["data"]["payload"]["segments"]
           for w in s["words"]]
    assert [w for w in raw if w] == [w for _, w in transcript_words(data["transcript"])]


def test_the_transcript_in_the_download_schemas_shape_names_participants(recorded, api):
    data = recorded.final.body["data"]
    meeting_data = api.request("GET", f"/bots/meeting_data?bot_id={recorded.bot_id}").body
    with urllib.request.urlopen(data["transcript_file"], timeout=30) as download:
        document = json.loads(download.read())
    with urllib.request.urlopen(meeting_data["meeting_participants_file"], timeout=30) as download:
        ids = {p["name"]: p["id"] for p in json.loads(download.read())}
    assert [(s["participant"], [w["text"] for w in s["words"]]) for s in document] == [
        ({"id": ids.get(s["speaker"], 0), "name": s["speaker"] if s["speaker"] in ids else None},
         [w["word"] for w in s["words"]])
        for s in data["transcript"]]
    starts = [w["start_timestamp"]["relative"] for s in document for w in s["words"]]
    assert starts == [round(w["start"], 3) for s in data["transcript"] for w in s["words"]]


def test_one_trace_goes_from_the_request_to_the_webhook(recorded, traces):
    webhook_trace = recorded.final.headers.get("traceparent", "--").split("-")[1]
    assert webhook_trace == TRACE_ID, (
        f"request trace: {traces.spans_of(TRACE_ID)}\nwebhook trace: {traces.spans_of(webhook_trace)}"
    )
    expected = {"api-gateway", "scheduler", "bot-runner", "transcriber", "webhook-dispatcher"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not expected <= traces.services_in(TRACE_ID):
        time.sleep(0.5)
    assert expected <= traces.services_in(TRACE_ID)

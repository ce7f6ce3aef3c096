"""`speech_to_text` with Gladia and Runpod, through their HTTP APIs, on the real stack.

The transcriber talks to local emulators that follow the providers' public documentation and
transcribe for real. One meeting with two speakers is recorded by two bots at once, one with a
valid Gladia key and one with a valid Runpod key, both asking for the live transcript (their
pieces go to their provider during the call); a third bot records a meeting of its own with a key
Gladia refuses. The Gladia bot's recording is then transcribed again with Runpod, with a Runpod
job that fails, and with a refused key.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

import jiwer
import pytest

from support import Api, ReceivedWebhook, SpeechProviders, end_when, live_transcripts

ALICE = "Good morning everyone, welcome to the weekly project meeting."
BOB = "The new release is ready for testing on Monday morning."


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def words_by_speaker(transcript: list[dict]) -> dict[str, str]:
    spoken: dict[str, list[str]] = {}
    for segment in transcript:
        spoken.setdefault(segment["speaker"], []).extend(w["word"] for w in segment["words"])
    return {speaker: normalize(" ".join(words)) for speaker, words in spoken.items()}


def assert_heard_both(transcript: list[dict]) -> None:
    """Each speaker's words, as the provider heard them (the emulators run the small base model
    on the whole file, so the bound is looser than for the platform's own transcriber)."""
    heard = words_by_speaker(transcript)
    assert set(heard) == {"Alice", "Bob"}, heard
    assert jiwer.wer(normalize(ALICE), heard["Alice"]) <= 0.45, heard
    assert jiwer.wer(normalize(BOB), heard["Bob"]) <= 0.45, heard


LIVE_WAIT_S = 150.0


@dataclass
class Recorded:
    bot_id: str
    final: ReceivedWebhook
    live: list[ReceivedWebhook]
    ended_at: float


@pytest.fixture(scope="module")
def recorded(api: Api, simulator, webhooks, speech_providers: SpeechProviders
             ) -> dict[str, Recorded]:
    """The three bots by name: `Gladia` and `Runpod` (valid keys, live transcript) in one
    meeting, then `Refused` in one of its own (the test stack runs two bots at a time)."""
    from meeting_simulator.client import new_meet_code

    codes = {"both": new_meet_code(), "refused": new_meet_code()}
    simulator.create_meeting(
        codes["both"], participants=[{"name": "Alice"}, {"name": "Bob"}],
        # The script's clock starts with the first bot admitted; the words wait until the
        # second one records too (both start at once on two cores).
        script=[{"speaker": "Alice", "text": ALICE, "at": 8.0},
                {"speaker": "Bob", "text": BOB, "at": 12.5}],
        # The meeting goes on until both bots have Bob's words live (a provider is slow on a
        # loaded machine); if they never come, it ends by itself and the test says so.
        admission={"action": "admit", "after": 1.0}, end_after=LIVE_WAIT_S,
    )
    simulator.create_meeting(
        codes["refused"], participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": ALICE, "at": 2.0}],
        admission={"action": "admit", "after": 1.0}, end_after=8.0,
    )

    def send(name: str, code: str, provider: str, key: str) -> str:
        response = api.join(meeting_url=f"https://meet.google.com/{code}", bot_name=name,
                            deduplication_key=name, webhook_url=webhooks.url + "/providers",
                            speech_to_text={"provider": provider, "api_key": key,
                                            "live_transcript": name != "Refused"})
        assert response.status == 200, response.body
        return response.body["bot_id"]

    def result(bot_id: str, code: str) -> Recorded:
        final = webhooks.wait_final(bot_id, timeout=240)
        return Recorded(bot_id, final, live_transcripts(webhooks, bot_id),
                        simulator.meeting(code)["ended_at"])

    both = {"Gladia": send("Gladia", codes["both"], "Gladia", speech_providers.gladia_key),
            "Runpod": send("Runpod", codes["both"], "Runpod", speech_providers.runpod_key)}

    def both_heard_bob_live() -> bool:
        return all(any(segment["speaker"] == "Bob" for hook in live_transcripts(webhooks, bot_id)
                       for segment in hook.body["data"]["transcript"])
                   for bot_id in both.values())

    end_when(simulator, codes["both"], both_heard_bob_live, LIVE_WAIT_S)
    recorded = {name: result(bot_id, codes["both"]) for name, bot_id in both.items()}
    refused = send("Refused", codes["refused"], "Gladia", "not-a-gladia-key")
    recorded["Refused"] = result(refused, codes["refused"])
    return recorded


def rerun(api: Api, webhooks, bot_id: str, speech_to_text) -> dict:
    """Ask for a new transcript; the data of the `transcription_complete` that answers it."""

    def reruns() -> list:
        return [w for w in webhooks.for_bot(bot_id) if w.body["event"] == "transcription_complete"]

    before = len(reruns())
    response = api.request("POST", "/bots/retranscribe", {
        "bot_uuid": bot_id, "speech_to_text": speech_to_text,
        "webhook_url": webhooks.url + "/providers-rerun"})
    assert response.status == 202, response.body
    webhooks.wait_for(bot_id, lambda _: len(reruns()) > before, timeout=180)
    return reruns()[before].body["data"]


def live_words(bot: Recorded) -> list[tuple[str, float]]:
    return [(w["word"], round(w["start"], 2)) for hook in bot.live
            for s in hook.body["data"]["transcript"] for w in s["words"]]


def final_words(bot: Recorded) -> list[tuple[str, float]]:
    return [(w["word"], round(w["start"], 2))
            for s in bot.final.body["data"]["transcript"] for w in s["words"]]


@pytest.mark.parametrize("name", ["Gladia", "Runpod"])
def test_a_provider_transcribes_during_the_call_and_the_transcript_is_made_of_it(recorded, name):
    bot = recorded[name]
    assert bot.final.body["event"] == "complete", bot.final.body
    assert bot.final.body["data"]["transcription_error"] is None
    assert_heard_both(bot.final.body["data"]["transcript"])
    assert [h for h in bot.live if h.received_at < bot.ended_at], "no live transcript in the call"
    assert final_words(bot) == live_words(bot)


def provider_words(part: dict) -> list[dict]:
    """The timed words of one raw answer: Gladia's finished job or Runpod's completed one."""
    body = part["data"]["body"] or {}
    if body.get("status") == "done":
        return [w for u in body["result"]["transcription"]["utterances"] for w in u["words"]]
    if body.get("status") == "COMPLETED":
        return body["output"]["word_timestamps"]
    return []


@pytest.mark.parametrize("name", ["Gladia", "Runpod"])
def test_the_providers_raw_answers_are_the_transcripts_source(recorded, speech_providers, name):
    data = recorded[name].final.body["data"]
    with urllib.request.urlopen(data["transcript_provider_data_file"], timeout=30) as response:
        raw = response.read().decode()
    parts = json.loads(raw)["parts"]
    assert {p["type"] for p in parts} == {"http_response"}
    assert all(p["source_audio"]["type"] == "mixed" for p in parts)
    assert all(200 <= p["data"]["status_code"] < 300 for p in parts)
    assert all("?" not in p["data"]["url"] for p in parts)
    for secret in ("X-Amz-Signature", speech_providers.gladia_key, speech_providers.runpod_key):
        assert secret not in raw
    heard = sorted((p["source_audio"]["offset"] + w["start"], w["word"].strip())
                    for p in parts for w in provider_words(p))
    final = sorted((start, word) for word, start in final_words(recorded[name]))
    assert [word for _, word in heard] == [word for _, word in final]
    # a run's audio starts at its offset; silence inside it may have been shortened, so a word
    # lies at or after its offset plus its time in the run
    assert all(at <= start + 0.05 for (at, _), (start, _) in zip(heard, final, strict=True))
    assert len({p["id"] for p in parts}) == len(parts)


def test_a_refused_transcript_has_no_provider_data(recorded):
    assert recorded["Refused"].final.body["data"]["transcript_provider_data_file"] == ""


def test_gladia_transcribes_the_meeting_and_keeps_nothing(recorded, speech_providers):
    gladia = speech_providers.gladia
    uploads = gladia.requests.matching("POST", "/v2/upload")
    jobs = gladia.requests.matching("POST", "/v2/pre-recorded")
    assert uploads and jobs
    assert {r.api_key for r in uploads + jobs} >= {speech_providers.gladia_key}
    # every job Gladia ran for us was deleted once its result was read
    assert set(gladia.jobs) <= set(gladia.deleted_jobs)


def test_runpod_fetched_each_run_of_pieces_that_is_then_removed(recorded, speech_providers):
    runpod = speech_providers.runpod
    runs = runpod.requests.matching("POST", f"/v2/{speech_providers.runpod_endpoint}/run")
    audio = [run.json["input"]["audio"] for run in runs if run.api_key == speech_providers.runpod_key]
    live = [url for url in audio if f"/bots/{recorded['Runpod'].bot_id}/live/run-" in url]
    assert live, audio
    # each run after the first is heard knowing the words of the runs before it
    prompts = [run.json["input"].get("initial_prompt") for run in runs
               if run.json["input"]["audio"] in live]
    heard = [[w["word"] for s in hook.body["data"]["transcript"] for w in s["words"]]
             for hook in recorded["Runpod"].live]
    assert len(prompts) == len(heard) >= 2
    said_before = [" ".join([w for words in heard[:k] for w in words][-60:]) or None
                   for k in range(len(heard))]
    assert prompts == said_before
    for url in live:
        with pytest.raises(urllib.error.HTTPError) as gone:
            urllib.request.urlopen(url, timeout=10)
        assert gone.value.code == 404


def test_a_key_gladia_refuses_is_reported_with_the_recording(api, recorded):
    bot_id, final = recorded["Refused"].bot_id, recorded["Refused"].final
    assert final.body["event"] == "complete", final.body
    data = final.body["data"]
    assert data["transcript"] == []
    assert data["transcription_error"] == "Gladia refused the API key (HTTP 401)"
    assert data["mp4"]  # the recording is delivered all the same
    bot = api.request("GET", f"/bots/{bot_id}").body
    assert bot["transcription_error"] == data["transcription_error"]
    assert bot["params"]["speech_to_text_provider"] == "Gladia"
    assert bot["params"]["speech_to_text_api_key"] is None


def test_runpod_transcribes_the_recording_again(api, webhooks, recorded, speech_providers):
    bot_id = recorded["Gladia"].bot_id
    runpod = speech_providers.runpod
    runs = f"/v2/{speech_providers.runpod_endpoint}/run"
    earlier = len(runpod.requests.matching("POST", runs))  # other modules' bots
    data = rerun(api, webhooks, bot_id, {"provider": "Runpod",
                                         "api_key": speech_providers.runpod_key})
    assert data["error"] is None, data
    assert_heard_both(data["transcript"])
    (run,) = runpod.requests.matching("POST", runs)[earlier:]
    assert run.api_key == speech_providers.runpod_key
    assert run.json["input"]["word_timestamps"] is True
    assert run.json["input"]["audio"].startswith("http://127.0.0.1:")
    meeting = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
    assert [w["text"] for s in meeting["bot_data"]["transcripts"] for w in s["words"]] == [
        w["word"] for s in data["transcript"] for w in s["words"]]


RUNPOD_KEY = object()


@pytest.mark.parametrize(("speech_to_text", "fail", "error"), [
    ({"provider": "Runpod", "api_key": RUNPOD_KEY}, True, "the Runpod job ended FAILED"),
    ({"provider": "Runpod", "api_key": "not-a-runpod-key"}, False,
     "Runpod refused the API key (HTTP 401)"),
    ({"provider": "Gladia", "api_key": "not-a-gladia-key"}, False,
     "Gladia refused the API key (HTTP 401)"),
    ("Runpod", False, "the Runpod provider needs an API key: pass speech_to_text.api_key"),
])
def test_a_provider_failure_keeps_the_current_transcript(
        api, webhooks, recorded, speech_providers, speech_to_text, fail, error):
    bot_id = recorded["Gladia"].bot_id
    before = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body["bot_data"]
    if fail:
        speech_providers.runpod.fail_next = 1
    if isinstance(speech_to_text, dict) and speech_to_text["api_key"] is RUNPOD_KEY:
        speech_to_text = {**speech_to_text, "api_key": speech_providers.runpod_key}
    data = rerun(api, webhooks, bot_id, speech_to_text)
    assert data["error"].startswith(error), data
    assert data["transcript"] == []
    after = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body["bot_data"]
    assert after["transcripts"] == before["transcripts"]
    assert after["transcripts"]


def test_provider_keys_never_reach_the_logs(platform, recorded, speech_providers):
    logs = "".join(p.read_text(errors="replace") for p in (platform.base_dir / "logs").glob("*.log"))
    assert "transcrib" in logs.lower()
    for key in (speech_providers.gladia_key, speech_providers.runpod_key, "not-a-gladia-key"):
        assert key not in logs

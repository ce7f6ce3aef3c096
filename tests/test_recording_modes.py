"""`recording_mode: audio_only` gives an mp3 and the audio file; no `speech_to_text`, no transcript."""

from __future__ import annotations

from support import decodes, ffprobe


def test_an_audio_only_bot_without_transcription(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(
        meeting_code, participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": "Only my voice should be kept.", "at": 1.5}],
        admission={"action": "admit", "after": 1.0}, end_after=8.0,
    )
    bot_id = api.join(meeting_url=f"https://meet.google.com/{meeting_code}", bot_name="Ears",
                      recording_mode="audio_only",
                      webhook_url=webhooks.url + "/audio-only").body["bot_id"]
    final = webhooks.wait_final(bot_id, timeout=180)
    assert final.body["event"] == "complete", final.body
    data = final.body["data"]
    assert data["transcript"] == []
    probe = ffprobe(data["mp4"])
    assert [s["codec_type"] for s in probe["streams"]] == ["audio"]
    assert probe["streams"][0]["codec_name"] == "mp3"
    assert float(probe["format"]["duration"]) > 5
    assert decodes(data["audio"])
    meeting_data = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
    assert meeting_data["bot_data"]["transcripts"] == []
    assert meeting_data["bot_data"]["bot"]["recording_mode"] == "audio_only"
    assert ".mp3" in meeting_data["mp4"].split("?")[0]

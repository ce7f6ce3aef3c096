"""Recording modes: `audio_only` gives an mp3 and the audio file (and, without `speech_to_text`,
no transcript); `speaker_view` records whoever speaks, `gallery_view` every tile."""

from __future__ import annotations

from support import color_area, decodes, ffprobe, video_frames


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



def _two_speaker_meeting(simulator, code: str) -> None:
    simulator.create_meeting(
        code, participants=[{"name": "Alice"}, {"name": "Bob"}],
        script=[{"speaker": "Alice", "text": "I will start with the numbers for this week.",
                 "at": 1.0},
                {"speaker": "Bob", "text": "Then I will talk about the launch and the plans "
                 "for the next quarter.", "at": 5.0}],
        admission={"action": "admit", "after": 1.0}, end_after=12.0,
    )


def _avatar_areas(webhooks, simulator, code: str, bot_id: str) -> list[tuple[int, int]]:
    """Per frame of the bot's mp4 (2 fps): the areas of Alice's and Bob's avatar colours."""
    final = webhooks.wait_final(bot_id, timeout=180)
    assert final.body["event"] == "complete", final.body
    colors = {p["name"]: p["color"] for p in simulator.meeting(code)["participants"]}
    assert colors["Alice"] != colors["Bob"]
    frames = video_frames(final.body["data"]["mp4"])
    assert len(frames) >= 16
    return [(color_area(f, colors["Alice"]), color_area(f, colors["Bob"])) for f in frames]


def test_speaker_view_shows_only_the_speaker_and_gallery_view_shows_everyone(
        api, simulator, webhooks):
    from meeting_simulator import new_meet_code

    bots = {}
    for mode in ("speaker_view", "gallery_view"):
        code = new_meet_code()
        _two_speaker_meeting(simulator, code)
        response = api.join(meeting_url=f"https://meet.google.com/{code}", bot_name="Camera",
                            recording_mode=mode, webhook_url=webhooks.url + f"/{mode}")
        assert response.status == 200, response.body
        bots[mode] = (code, response.body["bot_id"])
    visible = 1000  # pixels: an avatar is a 72 px disc, about 4000 pixels
    speaker = _avatar_areas(webhooks, simulator, *bots["speaker_view"])
    assert not [i for i, (a, b) in enumerate(speaker) if a > visible and b > visible], speaker
    assert any(a > visible for a, _ in speaker), speaker
    assert any(b > visible for _, b in speaker), speaker
    gallery = _avatar_areas(webhooks, simulator, *bots["gallery_view"])
    both = [a > visible and b > visible for a, b in gallery]
    assert sum(both) >= 0.7 * len(both), gallery

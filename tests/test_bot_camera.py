"""The bot as other participants see it: its `bot_image` as its camera on every platform, and a
plain card with its name when it has no image or the image cannot be fetched."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from aiohttp import web
from PIL import Image

from meeting_simulator import new_meet_code, new_teams_meeting_id, new_zoom_meeting_id
from support import BackgroundServer, meeting_link

QUADRANTS = {  # the bot's picture: four colour blocks, 16:9 like the camera
    (0, 0): (230, 40, 40), (0, 1): (40, 200, 60), (1, 0): (40, 80, 230), (1, 1): (240, 220, 40),
}


def picture() -> bytes:
    image = Image.new("RGB", (320, 180))
    for (row, col), color in QUADRANTS.items():
        image.paste(color, (col * 160, row * 90, col * 160 + 160, row * 90 + 90))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def image_url() -> Iterator[str]:
    """Serves the picture at /bot.png; every other path is a 404."""
    app = web.Application()
    app.router.add_get("/bot.png", lambda _: web.Response(body=picture(), content_type="image/png"))
    server = BackgroundServer(app)
    server.start()
    yield server.url
    server.stop()


@dataclass
class Seen:
    bot_id: str
    frame: np.ndarray
    final: dict  # the last webhook's body


@pytest.fixture(scope="module")
def seen(api, simulator, webhooks, image_url) -> dict[str, Seen]:
    """Four bots: three with the picture (one per platform) and one whose picture is missing.
    Each meeting ends once the bot's camera has been seen and the bot records."""
    visits = {"meet": ("meet", new_meet_code(), "/bot.png"),
              "teams": ("teams", new_teams_meeting_id(), "/bot.png"),
              "zoom": ("zoom", new_zoom_meeting_id(), "/bot.png"),
              "missing": ("meet", new_meet_code(), "/missing.png")}
    sent = {}
    for key, (platform, code, path) in visits.items():
        simulator.create_meeting(code, platform=platform, participants=[{"name": "Alice"}],
                                 admission={"action": "admit", "after": 1.0}, end_after=240.0)
        response = api.join(meeting_url=meeting_link(platform, code), bot_name="Camera Bot",
                            bot_image=image_url + path, webhook_url=webhooks.url + "/camera")
        assert response.status == 200, response.body
        sent[key] = (code, response.body["bot_id"])
    result = {}
    for key, (code, bot_id) in sent.items():
        state = simulator.wait_for(code, lambda m: any(g["camera_frame_at"] for g in m["guests"]),
                                   timeout=240, interval=1.0)
        (guest,) = state["guests"]
        jpeg = simulator.camera_frame(code, guest["id"])
        # the page may show the bot's camera before the bot has seen itself admitted: end the
        # meeting once it records, or it rightly reports that it never got into the call
        webhooks.wait_for(bot_id, lambda w: (w.body["data"].get("status") or {}).get("code")
                          == "in_call_recording", timeout=120)
        simulator.end(code)
        final = webhooks.wait_final(bot_id, timeout=120)
        frame = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB").resize((640, 360)))
        result[key] = Seen(bot_id, frame.astype(int), final.body)
    return result


def block_colors(frame: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """The mean colour of the middle of each quadrant."""
    return {(row, col): frame[row * 180 + 45:row * 180 + 135, col * 320 + 80:col * 320 + 240]
            .reshape(-1, 3).mean(axis=0) for row, col in QUADRANTS}


@pytest.mark.parametrize("meeting_platform", ["meet", "teams", "zoom"])
def test_the_others_see_the_bot_image_as_its_camera(seen, meeting_platform):
    colors = block_colors(seen[meeting_platform].frame)
    for quadrant, expected in QUADRANTS.items():
        assert np.abs(colors[quadrant] - expected).max() < 30, (meeting_platform, quadrant, colors)
    assert seen[meeting_platform].final["event"] == "complete", seen[meeting_platform].final


def test_a_bot_whose_image_is_missing_shows_a_plain_card_with_its_name(seen):
    frame = seen["missing"].frame
    top, bottom, middle = frame[:100], frame[-100:], frame[150:210, 120:520]
    assert top.std(axis=(0, 1)).max() < 6 and bottom.std(axis=(0, 1)).max() < 6  # plain
    assert np.abs(top.mean(axis=(0, 1)) - bottom.mean(axis=(0, 1))).max() < 6
    assert middle.std() > 20  # the name written across the middle
    for expected in QUADRANTS.values():
        assert np.abs(top.mean(axis=(0, 1)) - expected).max() > 60
    assert seen["missing"].final["event"] == "complete", seen["missing"].final

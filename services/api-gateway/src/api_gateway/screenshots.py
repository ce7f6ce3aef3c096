"""`GET /bots/{uuid}/screenshots`: the screenshots a bot took during its session.

The answer is the reference's `ScreenshotsList`, an array of `ScreenshotWrapper` objects with
exactly the two required string fields and nothing else:

    [{"date": "2025-01-31T14:02:03.123456+00:00", "url": "https://.../bots/<id>/screenshots/...png?X-Amz-..."}]

Choices where the reference only says `"type": "string"`:

- `date` is the moment the bot captured the picture, as ISO 8601 in UTC with an explicit offset
  (`datetime.isoformat()`, the format of every other date this gateway answers). It is read from
  the object's key, `bots/<bot_id>/screenshots/<%Y%m%dT%H%M%S.%fZ>-<label>.png`, written by the
  bot-runner; a key without that stamp falls back to the object's last-modified time.
- `url` is a presigned GET (one hour, like the other download URLs) of the PNG itself.
- The list is sorted by `date`, oldest first (ties by key). The label (`joining`, `waiting-room`,
  `admitted`, `in-call`, `failure`) is not a field of the reference; it stays readable as the end
  of the file name in the URL's path.

A bot that exists but took no screenshot yet answers `[]`. An unknown bot, or another account's,
answers 404 (the scheduler's `GetBot` decides); a malformed id answers 400 naming `uuid`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from api_gateway.accounts import Caller
from api_gateway.bots import _ask, _bot_uuid
from api_gateway.keys import CALLER, STORE
from api_gateway.responses import ScreenshotsList, ScreenshotWrapper, json_response
from mb_shared.contracts.queries import BotView, GetBot
from mb_shared.storage import ObjectStore

routes = web.RouteTableDef()

_STAMP = re.compile(r"^(\d{8}T\d{6}\.\d{6})Z(?:-|\.png$)")


def screenshots_prefix(bot_id: object) -> str:
    return f"bots/{bot_id}/screenshots/"


def captured_at(key: str, last_modified: datetime | None) -> datetime | None:
    """The capture moment encoded in the key's file name, else the object's last-modified time."""
    match = _STAMP.match(key.rsplit("/", 1)[-1])
    if match:
        try:
            return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        except ValueError:
            pass
    if last_modified is None:
        return None
    if last_modified.tzinfo is None:
        return last_modified.replace(tzinfo=UTC)
    return last_modified.astimezone(UTC)


async def list_screenshots(store: ObjectStore, bot_id: object) -> list[ScreenshotWrapper]:
    """The bot's screenshots in the reference's `ScreenshotsList` shape, oldest first."""
    found = []
    for key, last_modified in await store.list_keys(screenshots_prefix(bot_id)):
        if not key.endswith(".png"):
            continue
        date = captured_at(key, last_modified)
        if date is not None:
            found.append((date, key))
    found.sort()
    return [ScreenshotWrapper(date=date.isoformat(), url=store.presigned_url(key))
            for date, key in found]


@routes.get("/bots/{uuid}/screenshots")
async def screenshots(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    bot_id = _bot_uuid(request.match_info["uuid"], "uuid")
    bot: BotView = await _ask(request, GetBot(account_id=caller.account_id, bot_id=bot_id), BotView)
    return json_response(ScreenshotsList(await list_screenshots(request.app[STORE], bot.bot_id)))

"""`POST /bots/retranscribe` and `POST /bots/retry_webhook`: operations on a finished bot.

`POST /bots/retranscribe` (body: the reference's `RetranscribeBody`) transcribes a completed bot's
stored audio again, with its stored speaker timeline. It only checks and hands the work over: the
answer is `202` with no content once the scheduler has recorded the request (and, in the same
transaction, its `transcription.requested`). The transcriber stores the new transcript (the current
one stays until the new one is stored) and the webhook-dispatcher delivers a
`transcription_complete` event to `webhook_url`, or else to the bot's webhook URL.

`POST /bots/retry_webhook` (query: the reference's `RetryWebhookQuery`, `bot_uuid` and an optional
`webhook_url`) has the webhook-dispatcher send the bot's final event (`complete` or `failed`) again,
as the same delivery (same `webhook-id`) with a fresh run of attempts, to `webhook_url` if given.

Both take `webhook_url` only if it is an absolute http(s) URL (else a 400 `InvalidWebhookUrl`)
that the SSRF guard lets through (else a 400 `UnsafeUrl`), before looking at the bot.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from api_gateway import urls
from api_gateway.accounts import Caller
from api_gateway.bots import _ask, _bot_uuid, speech_to_text_params
from api_gateway.errors import ApiError, from_validation_error, read_json
from api_gateway.keys import CALLER, KEY_RING, SETTINGS
from api_gateway.schemas import SpeechToTextApiParameter
from mb_shared.contracts.bot import SpeechToText, SpeechToTextProvider
from mb_shared.contracts.queries import OkReply, Retranscribe, RetryWebhook

routes = web.RouteTableDef()


class RetranscribeBody(BaseModel):
    """The reference's `RetranscribeBody`. `bot_uuid` is a string here so that a malformed one is
    a 400 naming it, like every other bot id of this API."""

    model_config = ConfigDict(extra="ignore")

    bot_uuid: str
    speech_to_text: SpeechToTextApiParameter | SpeechToTextProvider | None = None
    webhook_url: str | None = None


@routes.post("/bots/retranscribe")
async def retranscribe(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    try:
        body = RetranscribeBody.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    bot_id = _bot_uuid(body.bot_uuid, "bot_uuid")
    webhook_url = urls.webhook_url(body.webhook_url, request.app[SETTINGS].outbound_policy)
    speech_to_text = (speech_to_text_params(body.speech_to_text, request.app[KEY_RING])
                      or SpeechToText(provider=SpeechToTextProvider.DEFAULT))
    await _ask(request, Retranscribe(account_id=caller.account_id, bot_id=bot_id,
                                     speech_to_text=speech_to_text, webhook_url=webhook_url),
               OkReply)
    return web.Response(status=202)


async def _retry_parameters(request: web.Request) -> tuple[str | None, Any]:
    """`bot_uuid` and `webhook_url` from the query string (the reference), or else from a JSON
    object body, which some clients send."""
    query = request.query
    if "bot_uuid" in query or not request.can_read_body:
        return query.get("bot_uuid"), query.get("webhook_url")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidRequest", "body: expected a JSON object", field="body")
    bot_uuid = body.get("bot_uuid")
    if bot_uuid is not None and not isinstance(bot_uuid, str):
        raise ApiError(400, "InvalidBotId", f"bot_uuid: {bot_uuid!r} is not a UUID",
                       field="bot_uuid")
    return bot_uuid, body.get("webhook_url", query.get("webhook_url"))


@routes.post("/bots/retry_webhook")
async def retry_webhook(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    raw_bot, raw_url = await _retry_parameters(request)
    if not raw_bot:
        raise ApiError(400, "MissingParameter", "bot_uuid: this query parameter is required",
                       field="bot_uuid")
    bot_id = _bot_uuid(raw_bot, "bot_uuid")
    webhook_url = urls.webhook_url(raw_url, request.app[SETTINGS].outbound_policy)
    await _ask(request, RetryWebhook(account_id=caller.account_id, bot_id=bot_id,
                                     webhook_url=webhook_url), OkReply)
    return web.json_response({"ok": True})

"""The `/accounts` routes: the account's default webhook URL, its API keys and signing secret.

The reference documents the schemas (`GetWebhookUrlResponse`, `PostWebhookUrlRequest`,
`ApiKeyResponse`) but not the paths; these follow them. Keys are shown once, when created, and
listed by prefix afterwards; more than one can be active so that rotation has no downtime.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from api_gateway.accounts import Caller, LastKeyError
from api_gateway.errors import ApiError, from_validation_error, read_json
from api_gateway.keys import ACCOUNTS, CALLER

routes = web.RouteTableDef()


class PostWebhookUrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook_url: str


def _valid_webhook_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "InvalidWebhookUrl", "webhook_url: must be an http or https URL",
                       field="webhook_url")
    return url.strip()


@routes.get("/accounts/webhook_url")
async def get_webhook_url(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    return web.json_response({"webhook_url": caller.webhook_url})


@routes.post("/accounts/webhook_url")
async def post_webhook_url(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    try:
        body = PostWebhookUrlRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    url = _valid_webhook_url(body.webhook_url)
    await request.app[ACCOUNTS].set_webhook_url(caller.account_id, url)
    return web.json_response({"webhook_url": url})


@routes.get("/accounts/webhook_secret")
async def get_webhook_secret(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    return web.json_response({"secret": caller.webhook_secret})


@routes.post("/accounts/webhook_secret/rotate")
async def rotate_webhook_secret(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    secret = await request.app[ACCOUNTS].rotate_webhook_secret(caller.account_id)
    return web.json_response({"secret": secret})


def _key_view(key) -> dict:
    return {
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "active": key.revoked_at is None,
    }


@routes.get("/accounts/api_keys")
async def list_api_keys(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    keys = await request.app[ACCOUNTS].keys(caller.account_id)
    return web.json_response({"api_keys": [_key_view(k) for k in keys]})


@routes.post("/accounts/api_keys")
async def create_api_key(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    key, row = await request.app[ACCOUNTS].create_key(caller.account_id)
    return web.json_response({"api_key": key, **_key_view(row)}, status=201)


@routes.delete("/accounts/api_keys/{prefix}")
async def revoke_api_key(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    prefix = request.match_info["prefix"]
    try:
        revoked = await request.app[ACCOUNTS].revoke_key(caller.account_id, prefix)
    except LastKeyError:
        raise ApiError(409, "LastActiveKey", "This is the account's last active API key; create "
                       "another one before revoking it.", field="prefix") from None
    if not revoked:
        raise ApiError(404, "ApiKeyNotFound", f"No active API key with prefix {prefix!r}",
                       field="prefix")
    return web.json_response({"ok": True})

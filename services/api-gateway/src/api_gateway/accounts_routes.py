"""The `/accounts` routes: the account's default webhook URL, its API keys and signing secret.

The reference documents the schemas (`GetWebhookUrlResponse`, `PostWebhookUrlRequest`,
`ApiKeyResponse`) but not the paths; these follow them. Keys are shown once, when created, and
listed by prefix afterwards; more than one can be active so that rotation has no downtime.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api_gateway.accounts import Caller, LastKeyError
from api_gateway.errors import ApiError, from_validation_error, read_json
from api_gateway.keys import ACCOUNTS, CALLER, SETTINGS
from api_gateway.responses import (
    ApiKeyList,
    ApiKeyResponse,
    ApiKeyView,
    GetWebhookUrlResponse,
    OkResponse,
    WebhookSecretResponse,
    json_response,
)
from api_gateway.schemas import WEBHOOK_URL_PATTERN
from api_gateway.urls import guarded
from mb_shared.url_guard import OutboundPolicy

routes = web.RouteTableDef()


class PostWebhookUrlRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    webhook_url: Annotated[str, Field(json_schema_extra={"pattern": WEBHOOK_URL_PATTERN})]


def _valid_webhook_url(url: str, policy: OutboundPolicy) -> str:
    """An absolute http(s) URL, exactly as `WEBHOOK_URL_PATTERN` documents it (else a 400
    `InvalidWebhookUrl`), that the SSRF guard lets through (else a 400 `UnsafeUrl`)."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        hostname = None
    shape = re.fullmatch(WEBHOOK_URL_PATTERN, url.strip())
    if not shape or not hostname or parts.scheme not in ("http", "https"):
        raise ApiError(400, "InvalidWebhookUrl", "webhook_url: must be an http or https URL",
                       field="webhook_url")
    return guarded(url.strip(), "webhook_url", policy)


@routes.get("/accounts/webhook_url")
async def get_webhook_url(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    return json_response(GetWebhookUrlResponse(webhook_url=caller.webhook_url))


@routes.post("/accounts/webhook_url")
async def post_webhook_url(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    try:
        body = PostWebhookUrlRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    url = _valid_webhook_url(body.webhook_url, request.app[SETTINGS].outbound_policy)
    await request.app[ACCOUNTS].set_webhook_url(caller.account_id, url)
    return json_response(GetWebhookUrlResponse(webhook_url=url))


@routes.get("/accounts/webhook_secret")
async def get_webhook_secret(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    secret = await request.app[ACCOUNTS].webhook_secret(caller.account_id)
    return json_response(WebhookSecretResponse(secret=secret))


@routes.post("/accounts/webhook_secret/rotate")
async def rotate_webhook_secret(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    secret = await request.app[ACCOUNTS].rotate_webhook_secret(caller.account_id)
    return json_response(WebhookSecretResponse(secret=secret))


def _key_view(key) -> ApiKeyView:
    return ApiKeyView(
        prefix=key.prefix,
        created_at=key.created_at.isoformat(),
        revoked_at=key.revoked_at.isoformat() if key.revoked_at else None,
        active=key.revoked_at is None,
    )


@routes.get("/accounts/api_keys")
async def list_api_keys(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    keys = await request.app[ACCOUNTS].keys(caller.account_id)
    return json_response(ApiKeyList(api_keys=[_key_view(k) for k in keys]))


@routes.post("/accounts/api_keys")
async def create_api_key(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    key, row = await request.app[ACCOUNTS].create_key(caller.account_id)
    return json_response(ApiKeyResponse(api_key=key, **_key_view(row).model_dump()), status=201)


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
    return json_response(OkResponse(ok=True))

"""Zoom OAuth for user-managed apps (`https://zoom.us/oauth/token`: the authorization-code and
refresh-token grants, client credentials in HTTP Basic) and the user API (`GET /v2/users/me`,
`GET /v2/users/{userId}/token?type=onbehalf`). Refresh tokens rotate: the newest must be kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from calendar_sync.providers.base import CredentialsRefused, ProviderError
from calendar_sync.providers.http import Answer, exchange

NAME = "Zoom"


class AccessTokenRefused(ProviderError):
    """Zoom's 401 (code 124): the access token expired or was revoked before its time."""


@dataclass(frozen=True)
class ZoomTokens:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scopes: str | None


def _why(answer: Answer) -> str:
    return str(answer.field("reason") or answer.field("message") or answer.field("error")
               or f"HTTP {answer.status}")


class ZoomOAuth:
    def __init__(self, session: aiohttp.ClientSession, *, oauth_url: str, api_url: str,
                 timeout_s: float) -> None:
        self._session = session
        self._token_url = oauth_url.rstrip("/") + "/oauth/token"
        self._api = api_url.rstrip("/")
        self._timeout_s = timeout_s

    async def _grant(self, client_id: str, client_secret: str, form: dict[str, str],
                     refused_field: str) -> ZoomTokens:
        try:
            auth = aiohttp.BasicAuth(client_id, client_secret, encoding="utf-8")
        except ValueError as exc:  # a colon in the id: HTTP Basic cannot carry it
            raise CredentialsRefused(f"Zoom cannot be sent this app id: {exc}",
                                     "zoom_client_id") from None
        answer = await exchange(self._session, "POST", self._token_url, provider=NAME,
                                timeout_s=self._timeout_s, data=form, auth=auth)
        if answer.status == 200 and answer.field("access_token"):
            return ZoomTokens(
                access_token=answer.field("access_token"),
                refresh_token=answer.field("refresh_token"),
                expires_at=datetime.now(UTC) + timedelta(
                    seconds=int(answer.field("expires_in") or 3600)),
                scopes=answer.field("scope"))
        code = answer.field("error")
        if code == "invalid_client":
            raise CredentialsRefused(f"Zoom refused the OAuth app: {_why(answer)}",
                                     "zoom_client_secret")
        if code in ("invalid_grant", "invalid_request"):
            field = "redirect_uri" if "redirect" in _why(answer).lower() else refused_field
            raise CredentialsRefused(f"Zoom refused the grant: {_why(answer)}", field)
        raise ProviderError(f"Zoom's token endpoint answered HTTP {answer.status}: "
                            f"{_why(answer)}")

    async def exchange_code(self, client_id: str, client_secret: str, code: str,
                            redirect_uri: str) -> ZoomTokens:
        return await self._grant(client_id, client_secret,
                                 {"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": redirect_uri}, "authorization_code")

    async def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> ZoomTokens:
        return await self._grant(client_id, client_secret,
                                 {"grant_type": "refresh_token", "refresh_token": refresh_token},
                                 "refresh_token")

    async def _get(self, path: str, access_token: str, **params: str) -> dict[str, Any]:
        answer = await exchange(self._session, "GET", self._api + path, provider=NAME,
                                timeout_s=self._timeout_s, params=params or None,
                                headers={"Authorization": f"Bearer {access_token}"})
        if answer.status == 401:
            raise AccessTokenRefused(f"Zoom refused the access token: {_why(answer)}")
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise ProviderError(f"Zoom answered HTTP {answer.status}: {_why(answer)}")
        return answer.body

    async def me(self, access_token: str) -> dict[str, Any]:
        return await self._get("/users/me", access_token)

    async def obf_token(self, access_token: str, user_id: str, meeting_id: str) -> str:
        body = await self._get(f"/users/{quote(user_id, safe='')}/token", access_token,
                               type="onbehalf", meeting_id=meeting_id)
        token = body.get("token")
        if not token:
            raise ProviderError("Zoom answered no OBF token")
        return str(token)

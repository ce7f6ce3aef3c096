"""Microsoft Graph (v1.0) calendars and the Microsoft identity platform's token endpoint.

Events are read with `calendarView/delta` (occurrences of recurring events one by one, each with
its `seriesMasterId`): the window page by page (`@odata.nextLink`), then from the `@odata.deltaLink`
for changes only; a removed event comes as `@removed`, and a 410 means the delta state is gone.
Pushes come through Graph subscriptions (`clientState` is our channel token), which are renewed
before they end.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from calendar_sync.providers.base import (
    Changes,
    Channel,
    CredentialsRefused,
    NotFound,
    OAuthClient,
    ProviderCalendar,
    ProviderError,
    ProviderEvent,
    SyncStateLost,
)
from calendar_sync.providers.http import Answer, exchange

NAME = "Microsoft Graph"
SCOPE = "offline_access User.Read Calendars.Read"
PAGE_SIZE = 100
MAX_SUBSCRIPTION = timedelta(minutes=4200)
"""Graph keeps a subscription on Outlook events at most 4230 minutes."""
_TAGS = re.compile(r"<[^>]+>")
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def _when(value: dict[str, Any] | None) -> datetime | None:
    """Graph's `{"dateTime": "2026-12-01T10:00:00.0000000", "timeZone": "UTC"}`."""
    if not value or not value.get("dateTime"):
        return None
    text = value["dateTime"]
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _body_text(body: dict[str, Any] | None) -> str:
    """The links of an HTML body and its text, entities decoded."""
    content = (body or {}).get("content") or ""
    if (body or {}).get("contentType", "").lower() != "html":
        return content
    hrefs = " ".join(html.unescape(h) for h in _HREF.findall(content))
    return f"{hrefs} {html.unescape(_TAGS.sub(' ', content))}"


def _error(answer: Answer) -> str:
    return str(answer.field("error", "message") or answer.field("error_description")
               or answer.field("error") or f"HTTP {answer.status}")


def parse_event(item: dict[str, Any]) -> ProviderEvent | None:
    start, end = _when(item.get("start")), _when(item.get("end"))
    if start is None or end is None:
        return None
    organizer = ((item.get("organizer") or {}).get("emailAddress") or {})
    sources = [(item.get("onlineMeeting") or {}).get("joinUrl") or "",
               item.get("onlineMeetingUrl") or "",
               (item.get("location") or {}).get("displayName") or "",
               _body_text(item.get("body"))]
    return ProviderEvent(
        id=item["id"],
        name=item.get("subject") or "",
        start=start,
        end=end,
        cancelled=bool(item.get("isCancelled")),
        attendees=[{"email": a["emailAddress"]["address"], "name": a["emailAddress"].get("name")}
                   for a in item.get("attendees") or []
                   if (a.get("emailAddress") or {}).get("address")],
        organizer_email=organizer.get("address"),
        is_organizer=bool(item.get("isOrganizer")),
        recurring_event_id=item.get("seriesMasterId"),
        link_sources=[s for s in sources if s.strip()],
        raw=item,
    )


class MicrosoftGraph:
    def __init__(self, session: aiohttp.ClientSession, *, login_url: str, tenant: str,
                 graph_url: str, timeout_s: float) -> None:
        self._session = session
        self._token_url = f"{login_url.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        self._graph = graph_url.rstrip("/")
        self._timeout_s = timeout_s

    async def _call(self, method: str, url: str, token: str, **kwargs: Any) -> Answer:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        if not url.startswith(("http://", "https://")):
            url = self._graph + url
        answer = await exchange(self._session, method, url, provider=NAME,
                                timeout_s=self._timeout_s, headers=headers, **kwargs)
        if answer.status == 410:
            raise SyncStateLost(_error(answer))
        if answer.status == 404:
            raise NotFound(_error(answer))
        if answer.status >= 300:
            raise ProviderError(f"{NAME} answered HTTP {answer.status}: {_error(answer)}")
        return answer

    async def access_token(self, client: OAuthClient) -> str:
        answer = await exchange(
            self._session, "POST", self._token_url, provider="Microsoft identity platform",
            timeout_s=self._timeout_s,
            data={"client_id": client.client_id, "client_secret": client.client_secret,
                  "refresh_token": client.refresh_token, "grant_type": "refresh_token",
                  "scope": SCOPE})
        if answer.status == 200 and answer.field("access_token"):
            return answer.field("access_token")
        code = answer.field("error")
        why = answer.field("error_description") or code or f"HTTP {answer.status}"
        if code == "invalid_grant":
            raise CredentialsRefused(f"Microsoft refused the refresh token: {why}",
                                     "oauth_refresh_token")
        if code in ("invalid_client", "unauthorized_client"):
            # AADSTS700016: no such application; AADSTS7000215: wrong secret.
            field = "oauth_client_id" if "700016" in str(why) else "oauth_client_secret"
            raise CredentialsRefused(f"Microsoft refused the OAuth client: {why}", field)
        raise ProviderError(f"Microsoft's token endpoint answered HTTP {answer.status}: {why}")

    async def calendars(self, token: str) -> list[ProviderCalendar]:
        found: list[ProviderCalendar] = []
        url: str | None = "/me/calendars"
        while url:
            answer = await self._call("GET", url, token)
            for item in answer.field("value") or []:
                owner = item.get("owner") or {}
                found.append(ProviderCalendar(
                    id=item["id"], name=item.get("name") or item["id"],
                    email=owner.get("address") or "",
                    is_primary=bool(item.get("isDefaultCalendar"))))
            url = answer.field("@odata.nextLink")
        return found

    async def changes(self, token: str, calendar_id: str, window: tuple[datetime, datetime],
                      cursor: str | None) -> Changes:
        changes = Changes(full=cursor is None)
        prefer = {"Prefer": f'odata.maxpagesize={PAGE_SIZE}, outlook.timezone="UTC"'}
        if cursor is None:
            url = f"/me/calendars/{quote(calendar_id, safe='')}/calendarView/delta"
            params: dict[str, str] | None = {
                "startDateTime": window[0].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endDateTime": window[1].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        else:
            url, params = cursor, None
        while True:
            answer = await self._call("GET", url, token, headers=prefer,
                                      **({"params": params} if params else {}))
            for item in answer.field("value") or []:
                event = None if "@removed" in item else parse_event(item)
                if event is None:
                    changes.removed.append(item["id"])
                else:
                    changes.events.append(event)
            following = answer.field("@odata.nextLink")
            if not following:
                changes.cursor = answer.field("@odata.deltaLink")
                return changes
            url, params = following, None

    async def watch(self, token: str, calendar_id: str, address: str, channel_id: str,
                    channel_token: str, expires_at: datetime) -> Channel:
        expires_at = min(expires_at, datetime.now(UTC) + MAX_SUBSCRIPTION)
        answer = await self._call("POST", "/subscriptions", token, json={
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": f"me/calendars/{calendar_id}/events",
            "expirationDateTime": expires_at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "clientState": channel_token,
        })
        return Channel(id=answer.field("id"), resource_id=answer.field("resource"),
                       expires_at=_when({"dateTime": answer.field("expirationDateTime")})
                       or expires_at)

    async def renew(self, token: str, channel: Channel, expires_at: datetime) -> Channel | None:
        expires_at = min(expires_at, datetime.now(UTC) + MAX_SUBSCRIPTION)
        try:
            answer = await self._call(
                "PATCH", f"/subscriptions/{quote(channel.id, safe='')}", token,
                json={"expirationDateTime": expires_at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")})
        except NotFound:
            return None
        return Channel(id=channel.id, resource_id=channel.resource_id,
                       expires_at=_when({"dateTime": answer.field("expirationDateTime")})
                       or expires_at)

    async def stop(self, token: str, channel: Channel) -> None:
        try:
            await self._call("DELETE", f"/subscriptions/{quote(channel.id, safe='')}", token)
        except NotFound:
            pass

"""Google Calendar API v3 and Google's OAuth 2.0 token endpoint.

Events are listed with `singleEvents=true` (each instance of a recurring event on its own, with
`recurringEventId`), the window first and then by `syncToken` increments; Google's 410 means the
token is gone and the calendar is listed again. Pushes come through `events.watch` channels,
which cannot be extended: a new channel replaces one about to end.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote

import aiohttp

from calendar_sync.providers.base import (
    Changes,
    Channel,
    CredentialsRefused,
    NotFound,
    ProviderCalendar,
    ProviderError,
    ProviderEvent,
    SyncStateLost,
)
from calendar_sync.providers.base import OAuthClient as Client
from calendar_sync.providers.http import Answer, exchange

NAME = "Google Calendar"
PAGE_SIZE = 250


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: dict[str, Any] | None) -> datetime | None:
    """`{"dateTime": ...}` or, for an all-day event, `{"date": "YYYY-MM-DD"}` (its UTC midnight)."""
    if not value:
        return None
    if value.get("dateTime"):
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(UTC)
    if value.get("date"):
        return datetime.combine(datetime.fromisoformat(value["date"]).date(), time(), UTC)
    return None


def _error(answer: Answer) -> str:
    return str(answer.field("error", "message") or answer.field("error_description")
               or answer.field("error") or f"HTTP {answer.status}")


def parse_event(item: dict[str, Any]) -> ProviderEvent | None:
    """None for a cancelled event Google sends without its times (it is only a removal)."""
    start, end = _when(item.get("start")), _when(item.get("end"))
    cancelled = item.get("status") == "cancelled"
    if start is None or end is None:
        return None
    organizer = item.get("organizer") or {}
    sources = [entry.get("uri", "")
               for entry in (item.get("conferenceData") or {}).get("entryPoints") or []
               if entry.get("entryPointType") == "video"]
    sources += [item.get("hangoutLink") or "", item.get("location") or "",
                item.get("description") or ""]
    return ProviderEvent(
        id=item["id"],
        name=item.get("summary") or "",
        start=start,
        end=end,
        cancelled=cancelled,
        attendees=[{"email": a["email"], "name": a.get("displayName")}
                   for a in item.get("attendees") or [] if a.get("email")],
        organizer_email=organizer.get("email"),
        is_organizer=bool(organizer.get("self")),
        recurring_event_id=item.get("recurringEventId"),
        link_sources=[s for s in sources if s],
        raw=item,
    )


class GoogleCalendar:
    def __init__(self, session: aiohttp.ClientSession, *, token_url: str, api_url: str,
                 timeout_s: float) -> None:
        self._session = session
        self._token_url = token_url
        self._api = api_url.rstrip("/")
        self._timeout_s = timeout_s

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> Answer:
        answer = await exchange(self._session, method, self._api + path, provider=NAME,
                                timeout_s=self._timeout_s,
                                headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if answer.status == 410:
            raise SyncStateLost(_error(answer))
        if answer.status == 404:
            raise NotFound(_error(answer))
        if answer.status >= 300:
            raise ProviderError(f"{NAME} answered HTTP {answer.status}: {_error(answer)}")
        return answer

    async def access_token(self, client: Client) -> str:
        answer = await exchange(
            self._session, "POST", self._token_url, provider=NAME, timeout_s=self._timeout_s,
            data={"client_id": client.client_id, "client_secret": client.client_secret,
                  "refresh_token": client.refresh_token, "grant_type": "refresh_token"})
        if answer.status == 200 and answer.field("access_token"):
            return answer.field("access_token")
        code = answer.field("error")
        why = answer.field("error_description") or code or f"HTTP {answer.status}"
        if code == "invalid_grant":
            raise CredentialsRefused(f"Google refused the refresh token: {why}",
                                     "oauth_refresh_token")
        if code in ("invalid_client", "unauthorized_client"):
            field = "oauth_client_id" if "not found" in str(why).lower() else "oauth_client_secret"
            raise CredentialsRefused(f"Google refused the OAuth client: {why}", field)
        raise ProviderError(f"Google's token endpoint answered HTTP {answer.status}: {why}")

    async def calendars(self, token: str) -> list[ProviderCalendar]:
        found, page = [], None
        while True:
            params = {"maxResults": "250", **({"pageToken": page} if page else {})}
            answer = await self._call("GET", "/users/me/calendarList", token, params=params)
            for item in answer.field("items") or []:
                calendar_id = item["id"]
                found.append(ProviderCalendar(
                    id=calendar_id,
                    name=item.get("summaryOverride") or item.get("summary") or calendar_id,
                    email=calendar_id if "@" in calendar_id else item.get("summary", ""),
                    is_primary=bool(item.get("primary")),
                ))
            page = answer.field("nextPageToken")
            if not page:
                return found

    async def changes(self, token: str, calendar_id: str, window: tuple[datetime, datetime],
                      cursor: str | None) -> Changes:
        changes = Changes(full=cursor is None)
        base = {"singleEvents": "true", "maxResults": str(PAGE_SIZE)}
        if cursor is None:
            base |= {"timeMin": _rfc3339(window[0]), "timeMax": _rfc3339(window[1])}
        else:
            base |= {"syncToken": cursor}
        page = None
        path = f"/calendars/{quote(calendar_id, safe='')}/events"
        while True:
            params = base | ({"pageToken": page} if page else {})
            answer = await self._call("GET", path, token, params=params)
            for item in answer.field("items") or []:
                event = parse_event(item)
                if event is None:
                    changes.removed.append(item["id"])
                else:
                    changes.events.append(event)
            page = answer.field("nextPageToken")
            if not page:
                changes.cursor = answer.field("nextSyncToken")
                return changes

    async def watch(self, token: str, calendar_id: str, address: str, channel_id: str,
                    channel_token: str, expires_at: datetime) -> Channel:
        ttl = max(1, int((expires_at - datetime.now(UTC)).total_seconds()))
        answer = await self._call(
            "POST", f"/calendars/{quote(calendar_id, safe='')}/events/watch", token,
            json={"id": channel_id, "type": "web_hook", "address": address,
                  "token": channel_token, "params": {"ttl": str(ttl)}})
        expiration = answer.field("expiration")
        granted = (datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration
                   else expires_at)
        return Channel(id=channel_id, resource_id=answer.field("resourceId"), expires_at=granted)

    async def renew(self, token: str, channel: Channel, expires_at: datetime) -> Channel | None:
        return None

    async def stop(self, token: str, channel: Channel) -> None:
        try:
            await self._call("POST", "/channels/stop", token,
                             json={"id": channel.id, "resourceId": channel.resource_id})
        except NotFound:
            pass

"""`Client` and `AsyncClient`: the API key, the server and the resources (`meetings`, `bots`,
`calendars`) over a sync or an async transport."""

from __future__ import annotations

from types import TracebackType

import httpx

from meetingbots.resources.bots import Bots
from meetingbots.resources.calendars import Calendars
from meetingbots.resources.meetings import Meetings
from meetingbots.transport import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    AsyncTransport,
    ExtraHeaders,
    SyncTransport,
    Transport,
)


class _Resources:
    meetings: Meetings
    """Meetings, their transcripts, summaries, participants and recordings; topics."""
    bots: Bots
    """Bots sent to meetings (Meeting BaaS v1 `/bots`)."""
    calendars: Calendars
    """Connected calendars and their events (Meeting BaaS v1 `/calendars`)."""

    def _attach(self, transport: Transport) -> None:
        self.meetings = Meetings(transport)
        self.bots = Bots(transport)
        self.calendars = Calendars(transport)


class Client(_Resources):
    """The platform's API, one blocking call at a time:

        with Client(api_key) as client:
            meeting = client.meetings.get_meeting(42)

    `extra_headers` go with every request (a call's own `extra_headers` go over them); the API
    key header is always the client's. `http_client` is an `httpx.Client` of your own
    (proxies, TLS, a mock transport); the client does not close it. No request is retried."""

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = DEFAULT_TIMEOUT, extra_headers: ExtraHeaders | None = None, *,
                 http_client: httpx.Client | None = None) -> None:
        self._transport = SyncTransport(api_key, base_url, timeout, extra_headers, http_client)
        self._attach(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class AsyncClient(_Resources):
    """The platform's API for asyncio: the same resources and methods as `Client`, each
    returning an awaitable of the same answer:

        async with AsyncClient(api_key) as client:
            meeting = await client.meetings.get_meeting(42)
    """

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = DEFAULT_TIMEOUT, extra_headers: ExtraHeaders | None = None, *,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self._transport = AsyncTransport(api_key, base_url, timeout, extra_headers, http_client)
        self._attach(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    async def aclose(self) -> None:
        await self._transport.close()

    async def close(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

"""The one request path of the client. A resource method describes an operation as a `Request`
(method, path, query, body, the type of its answer); a transport sends it and turns the answer
into that type or an `ApiError`. `SyncTransport` and `AsyncTransport` differ only in how they
send: the headers, the encoding of the query and the body, and the reading of the answer are
shared, so that resources are written once for both clients."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, Generic, TypeVar
from urllib.parse import quote
from uuid import UUID

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from meetingbots._version import __version__
from meetingbots.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    UnexpectedResponseError,
    error_from_response,
)

T = TypeVar("T")

API_KEY_HEADER = "x-meeting-baas-api-key"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0

ExtraHeaders = Mapping[str, str | None]
"""Extra headers: a value of None leaves out a header the client would otherwise send."""


@dataclass(frozen=True)
class Request(Generic[T]):
    """One call of the API. `answer` is the type the success body is read as, None for an
    operation that answers no body."""

    method: str
    path: str
    answer: Any = None
    query: Mapping[str, Any] | None = None
    body: Any = None
    extra_headers: ExtraHeaders | None = None


def path(template: str, **values: Any) -> str:
    """`template` with each `{name}` replaced by its value, escaped as one path segment."""
    return template.format(**{name: quote(str(value), safe="") for name, value in values.items()})


def query_value(value: Any) -> str:
    """A value as the API reads it in a query string: `true`/`false`, ISO 8601 dates, lists
    joined with commas."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return query_value(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return ",".join(query_value(item) for item in value)
    return str(value)


def json_value(value: Any) -> Any:
    """A value as JSON: models without their None fields, dates in ISO 8601, UUIDs as text."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [json_value(item) for item in value]
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def without_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that were given: the API takes an absent field as its default."""
    return {name: value for name, value in fields.items() if value is not None}


def _name(answer: Any) -> str:
    return answer.__name__ if isinstance(answer, type) else repr(answer)


@cache
def _adapter(answer: Any) -> TypeAdapter[Any]:
    return TypeAdapter(answer)


class Transport(ABC):
    """What the sync and async transports share: the client's headers, the building of an
    `httpx.Request` and the reading of its answer."""

    def __init__(self, api_key: str, base_url: str, timeout: float,
                 extra_headers: ExtraHeaders | None) -> None:
        if not api_key:
            raise ValueError("api_key: the platform's API key is required")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = httpx.Headers({"accept": "application/json",
                                      "user-agent": f"meetingbots-python/{__version__}"})
        self._merge(self.headers, extra_headers)

    def _merge(self, headers: httpx.Headers, extra: ExtraHeaders | None) -> None:
        for name, value in (extra or {}).items():
            if name.lower() == API_KEY_HEADER:
                continue
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        headers[API_KEY_HEADER] = self.api_key

    def build(self, http: httpx.Client | httpx.AsyncClient, request: Request[Any]) -> httpx.Request:
        headers = httpx.Headers(self.headers)
        self._merge(headers, request.extra_headers)
        params = {name: query_value(value) for name, value in (request.query or {}).items()
                  if value is not None}
        body = json_value(request.body) if request.body is not None else None
        return http.build_request(request.method, self.base_url + request.path, params=params,
                                  json=body, headers=headers, timeout=self.timeout)

    @staticmethod
    def read(request: Request[T], response: httpx.Response) -> T:
        if not response.is_success:
            raise error_from_response(response)
        if request.answer is None:
            return None  # type: ignore[return-value]
        try:
            body = response.json()
        except ValueError:
            raise UnexpectedResponseError(
                f"{request.method} {request.path}: the answer is not JSON",
                status=response.status_code, body=response.text) from None
        try:
            return _adapter(request.answer).validate_python(body)
        except ValidationError as exc:
            raise UnexpectedResponseError(
                f"{request.method} {request.path}: the answer does not fit "
                f"{_name(request.answer)}: {exc}",
                status=response.status_code, body=body) from exc

    @staticmethod
    def connection_error(exc: httpx.TransportError, sent: httpx.Request) -> ApiConnectionError:
        kind = ApiTimeoutError if isinstance(exc, httpx.TimeoutException) else ApiConnectionError
        return kind(f"{sent.method} {sent.url}: {exc!r}", method=sent.method, url=str(sent.url))

    @abstractmethod
    def send(self, request: Request[T]) -> T | Awaitable[T]:
        """The answer of the request (sync) or an awaitable of it (async)."""

    @abstractmethod
    def close(self) -> Any:
        """Release the connections the transport opened."""


class SyncTransport(Transport):
    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = DEFAULT_TIMEOUT, extra_headers: ExtraHeaders | None = None,
                 http_client: httpx.Client | None = None) -> None:
        super().__init__(api_key, base_url, timeout, extra_headers)
        self._owned = http_client is None
        self.http = http_client if http_client is not None else httpx.Client()

    def send(self, request: Request[T]) -> T:
        sent = self.build(self.http, request)
        try:
            response = self.http.send(sent)
        except httpx.TransportError as exc:
            raise self.connection_error(exc, sent) from exc
        return self.read(request, response)

    def close(self) -> None:
        if self._owned:
            self.http.close()


class AsyncTransport(Transport):
    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = DEFAULT_TIMEOUT, extra_headers: ExtraHeaders | None = None,
                 http_client: httpx.AsyncClient | None = None) -> None:
        super().__init__(api_key, base_url, timeout, extra_headers)
        self._owned = http_client is None
        self.http = http_client if http_client is not None else httpx.AsyncClient()

    async def send(self, request: Request[T]) -> T:
        sent = self.build(self.http, request)
        try:
            response = await self.http.send(sent)
        except httpx.TransportError as exc:
            raise self.connection_error(exc, sent) from exc
        return self.read(request, response)

    async def close(self) -> None:
        if self._owned:
            await self.http.aclose()

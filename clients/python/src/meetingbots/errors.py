"""The exceptions the client raises: `ApiError` and its per-status subclasses for answers that
are not a success, `ApiConnectionError` when no answer came, `UnexpectedResponseError` when a
success answer is not what the operation returns."""

from __future__ import annotations

from typing import Any

import httpx


class MeetingBotsError(Exception):
    """Every error this client raises."""


class ApiConnectionError(MeetingBotsError):
    """The request got no answer: the server could not be reached or the connection broke."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method, self.url = method, url


class ApiTimeoutError(ApiConnectionError):
    """The request got no answer within the client's timeout."""


class UnexpectedResponseError(MeetingBotsError):
    """A success answer whose body is not what the operation returns."""

    def __init__(self, message: str, *, status: int, body: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, body


class ApiError(MeetingBotsError):
    """An answer that is not a success. The API's error body gives `code` (machine-readable),
    `message` (naming the field at fault), `field` (when one is) and, for a body that does not
    fit its schema, every problem in `errors`."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None, retry_after: float | None = None,
                 body: Any = None, headers: httpx.ExtraHeaders | None = None,
                 method: str | None = None, url: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.field = status, code, message, field
        self.errors = errors or []
        self.retry_after = retry_after
        """Seconds to wait before trying again, when the server says (`Retry-After`)."""
        self.body, self.headers = body, headers if headers is not None else httpx.Headers()
        self.method, self.url = method, url


class BadRequestError(ApiError):
    """400 (a value is not acceptable; `field` names it) or 422 (the body does not fit the
    schema; `errors` lists every problem)."""


class AuthenticationError(ApiError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(ApiError):
    """403: the API key has no access to the organisation the request names."""


class NotFoundError(ApiError):
    """404: no such resource for this account."""


class ConflictError(ApiError):
    """409: the request conflicts with the resource's state."""


class RateLimitError(ApiError):
    """429: too many requests; `retry_after` says how long to wait."""


class ServerError(ApiError):
    """5xx: the platform, or a provider it called, failed or was away; `retry_after` says when
    to try again when the server says."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 422: BadRequestError, 429: RateLimitError,
}


def error_class(status: int) -> type[ApiError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def _retry_after(headers: httpx.Headers) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return max(seconds, 0.0)


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an answer that is not a success, from its JSON error body or, when it
    has none, from its status line."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text or None
    fields = body if isinstance(body, dict) else {}
    code = fields.get("code")
    message = fields.get("message")
    field = fields.get("field")
    errors = fields.get("errors")
    return error_class(response.status_code)(
        response.status_code,
        code if isinstance(code, str) else f"Http{response.status_code}",
        message if isinstance(message, str) else (response.reason_phrase or str(body or "")),
        field=field if isinstance(field, str) else None,
        errors=errors if isinstance(errors, list) else None,
        retry_after=_retry_after(response.headers),
        body=body, headers=response.headers,
        method=response.request.method, url=str(response.request.url),
    )

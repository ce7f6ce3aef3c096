"""Every error the gateway answers is JSON: a machine-readable code and a message naming the field."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from api_gateway.responses import ErrorBody

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.errors = errors
        self.retry_after_s = retry_after_s
        self.headers: dict[str, str] = {}

    def response(self) -> web.Response:
        body = ErrorBody(code=self.code, message=self.message, field=self.field,
                         errors=self.errors or None)
        headers = dict(self.headers)
        if self.retry_after_s:
            headers["Retry-After"] = str(self.retry_after_s)
        return body.response(self.status, headers or None)


def from_validation_error(exc: ValidationError) -> ApiError:
    errors = [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]
    first = errors[0]
    return ApiError(
        422,
        "InvalidRequest",
        f"{first['field']}: {first['message']}",
        field=first["field"],
        errors=errors,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _nul_at(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a NUL character, which no store keeps."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path != "body" else str(key)
            if "\x00" in key:
                return where
            found = _nul_at(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}.{index}")
            if found:
                return found
    return None


def invalid_character(where: str) -> ApiError:
    return ApiError(400, "InvalidCharacter",
                    f"{where}: must not contain the NUL character (U+0000)", field=where)


async def read_json(request: web.Request) -> Any:
    try:
        body = json.loads(await request.read(), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, NaN/Infinity and integers too long to convert
        raise ApiError(400, "MalformedJson", f"The request body is not valid JSON: {exc}",
                       field="body") from None
    where = _nul_at(body, "body")
    if where:
        raise invalid_character(where)
    return body


def _check_characters(request: web.Request) -> None:
    """NUL in the path or the query string is refused before any handler sees it."""
    for name, value in request.match_info.items():
        if "\x00" in value:
            raise invalid_character(name)
    for name, value in request.query.items():
        if "\x00" in name or "\x00" in value:
            raise invalid_character(name)
    if "\x00" in request.path:
        raise invalid_character("path")


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        _check_characters(request)
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = ApiError(exc.status, exc.reason.replace(" ", ""), exc.reason)
        if "Allow" in exc.headers:  # 405: RFC 9110 wants the methods the resource supports
            error.headers["Allow"] = exc.headers["Allow"]
        return error.response()
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return ApiError(500, "InternalError", "Something went wrong on our side; retry later.",
                        retry_after_s=5).response()

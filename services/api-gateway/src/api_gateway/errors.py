"""Every error the gateway answers is JSON: a machine-readable code and a message naming the field."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.errors = errors
        self.retry_after_s = retry_after_s

    def response(self) -> web.Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        headers = {"Retry-After": str(self.retry_after_s)} if self.retry_after_s else None
        return web.json_response(body, status=self.status, headers=headers)


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


async def read_json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "MalformedJson", f"The request body is not valid JSON: {exc}",
                       field="body") from None


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return ApiError(exc.status, exc.reason.replace(" ", ""), exc.reason).response()
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return ApiError(500, "InternalError", "Something went wrong on our side; retry later.",
                        retry_after_s=5).response()

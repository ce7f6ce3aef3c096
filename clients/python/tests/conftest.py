"""A fake server for the client's unit tests: an `httpx.MockTransport` that records every
request and answers what the test scripted; and `sample`, a valid JSON body of any answer
model, built from the model's fields."""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from pydantic import BaseModel

from meetingbots import AsyncClient, Client

API_KEY = "mb_test_key"
BASE_URL = "http://api.test"
SAMPLE_UUID = "0b0e3d0c-5f1a-4c1e-9d61-7a4f0f6b2a10"
SAMPLE_TIME = "2026-03-04T05:06:07.123456+00:00"


class FakeServer:
    """Answers scripted replies in order (then 200 `[]`), and keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: list[httpx.Response | Exception] = []

    def reply(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None,
              text: str | None = None) -> None:
        if text is not None:
            self.replies.append(httpx.Response(status, text=text, headers=headers))
        elif body is None:
            self.replies.append(httpx.Response(status, headers=headers))
        else:
            self.replies.append(httpx.Response(status, json=body, headers=headers))

    def fail(self, error: Exception) -> None:
        self.replies.append(error)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.replies.pop(0) if self.replies else httpx.Response(200, json=[])
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server: FakeServer):
    with Client(API_KEY, BASE_URL, extra_headers={"x-tenant": "acme"},
                http_client=httpx.Client(transport=httpx.MockTransport(server))) as made:
        yield made


@pytest.fixture
async def async_client(server: FakeServer):
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        async with AsyncClient(API_KEY, BASE_URL, extra_headers={"x-tenant": "acme"},
                               http_client=http) as made:
            yield made


def sample_of(annotation: Any) -> Any:
    """A JSON value `annotation` accepts, every optional field filled."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return sample_of(args[0])
    if origin in (typing.Union, types.UnionType):
        return sample_of(next(arg for arg in args if arg is not type(None)))
    if origin is list:
        return [sample_of(args[0])]
    if origin is dict or annotation in (dict, Any):
        return {"key": "value"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: sample_of(field.annotation)
                for name, field in annotation.model_fields.items()}
    simple = {bool: True, int: 7, float: 1.5, str: "text", UUID: SAMPLE_UUID,
              datetime: SAMPLE_TIME}
    if annotation in simple:
        return simple[annotation]
    if annotation is None or annotation is type(None):
        return None
    raise TypeError(f"no sample for {annotation!r}")


@pytest.fixture
def sample():
    return sample_of

"""Local emulator of an OpenAI-compatible chat-completions API (OpenAI's API reference, "Chat
Completions": ``POST /v1/chat/completions``), for testing what asks a model for meeting summaries.

Request: ``{"model", "messages": [{"role", "content"}...], "temperature"?, "response_format"?}``
with ``Authorization: Bearer <key>``. Answer: ``{"id", "object": "chat.completion", "created",
"model", "choices": [{"index": 0, "message": {"role": "assistant", "content"}, "finish_reason":
"stop"}], "usage"}``. Errors are OpenAI's shape, ``{"error": {"message", "type", "param",
"code"}}``: 401 ``invalid_api_key`` for a wrong key (the key is never echoed), 400
``invalid_request_error`` for a body that is not a chat request, or a JSON-mode request whose
messages never say "json" (OpenAI refuses those too).

No model runs. The reply is made from the request by a fixed rule a test can check: the
*transcript lines* are the ``Speaker: text`` lines of the last ``user`` message, and

* in JSON mode (``response_format`` ``json_object``) the content is the JSON text of
  :func:`summary_reply`: ``summary`` counts the lines and names the speakers, ``notes`` has one
  ``- **Speaker**: first thing they said`` bullet each, ``keywords`` are the first five distinct
  lowercase words of at least six letters, in order of first appearance;
* otherwise the content is that summary sentence alone.

Knobs (plain attributes, changeable while the server runs): ``api_keys`` (None: no key is
checked), ``fail_next`` with ``fail_status`` (the next N requests are answered 500 or 429, with
OpenAI's error body), ``replies`` (contents answered verbatim by the next requests, in order, in
place of the rule: for malformed answers), ``delay`` (seconds to wait before answering).
Records: ``requests`` (a :class:`~provider_emulators.common.RequestLog`; ``api_key`` is the
bearer token sent).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from provider_emulators.common import RequestLog, log_middleware

DEFAULT_API_KEY = "test-chat-completions-key"
PATH = "/v1/chat/completions"

_TRANSCRIPT_LINE = re.compile(r"^(?P<speaker>[^:\[\]\n]{1,80}):[ \t]+(?P<text>\S.*)$", re.M)
_LONG_WORD = re.compile(r"[^\W\d_]{6,}")
_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}

_FAILURES: dict[int, dict[str, Any]] = {
    500: {"message": "The server had an error while processing your request. Sorry about that!",
          "type": "server_error", "param": None, "code": None},
    429: {"message": "Rate limit reached for requests. Please try again in 1s.",
          "type": "requests", "param": None, "code": "rate_limit_exceeded"},
    503: {"message": "The engine is currently overloaded, please try again later.",
          "type": "server_error", "param": None, "code": None},
}


def transcript_lines(text: str) -> list[tuple[str, str]]:
    """The ``(speaker, text)`` of each ``Speaker: text`` line of ``text``."""
    return [(m["speaker"].strip(), m["text"].strip()) for m in _TRANSCRIPT_LINE.finditer(text)]


def summary_reply(lines: list[tuple[str, str]]) -> dict[str, Any]:
    """What the emulator answers in JSON mode for these transcript lines."""
    speakers = list(dict.fromkeys(speaker for speaker, _ in lines))
    first_said: dict[str, str] = {}
    for speaker, text in lines:
        first_said.setdefault(speaker, text)
    keywords: list[str] = []
    for _, text in lines:
        for word in _LONG_WORD.findall(text):
            if word.lower() not in keywords and len(keywords) < 5:
                keywords.append(word.lower())
    return {
        "summary": _summary_sentence(lines, speakers),
        "notes": "\n".join(f"- **{s}**: {first_said[s]}" for s in speakers),
        "keywords": keywords,
    }


def _summary_sentence(lines: list[tuple[str, str]], speakers: list[str]) -> str:
    return f"{len(lines)} transcript lines from {', '.join(speakers) or 'nobody'}."


def error_body(message: str, type_: str, code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ChatCompletionsEmulator:
    """``POST /v1/chat/completions`` on one aiohttp application (see the module's docstring).

    Serve it with ``BackgroundEmulator(emulator.app())``; its base URL for a client is
    ``<origin>/v1``.
    """

    def __init__(self, *, api_keys: Iterable[str] | None = (DEFAULT_API_KEY,),
                 fail_next: int = 0, fail_status: int = 500, delay: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.api_keys: set[str] | None = None if api_keys is None else set(api_keys)
        self.fail_next = fail_next
        self.fail_status = fail_status
        self.delay = delay
        self.replies: list[str] = []
        self.requests = RequestLog()

    def app(self) -> web.Application:
        """A fresh aiohttp application serving this emulator (its state lives on ``self``)."""
        app = web.Application(middlewares=[log_middleware(self.requests, self._key_of),
                                           self._errors_as_json])
        app.router.add_post(PATH, self._create)
        return app

    @staticmethod
    def _key_of(request: web.Request) -> str | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None

    @web.middleware
    async def _errors_as_json(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            message = f"Invalid URL ({request.method} {request.path})" if exc.status in (
                404, 405) else exc.reason
            return web.json_response(error_body(message, "invalid_request_error"),
                                     status=exc.status)

    def _take_failure(self) -> bool:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return True
            return False

    def _take_reply(self) -> str | None:
        with self._lock:
            return self.replies.pop(0) if self.replies else None

    async def _create(self, request: web.Request) -> web.StreamResponse:
        if self.api_keys is not None:
            key = self._key_of(request)
            if key is None:
                return web.json_response(error_body(
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                    "YOUR_KEY).", "invalid_request_error"), status=401)
            if key not in self.api_keys:
                return web.json_response(error_body(
                    "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
                    status=401)
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if self._take_failure():
            status = self.fail_status
            body = {"error": dict(_FAILURES.get(status, _FAILURES[500]))}
            headers = {"Retry-After": "1"} if status == 429 else None
            return web.json_response(body, status=status, headers=headers)
        try:
            body = await request.json()
        except ValueError:
            return self._invalid("We could not parse the JSON body of your request.")
        problem = _request_problem(body)
        if problem is not None:
            return self._invalid(*problem)
        json_mode = (body.get("response_format") or {}).get("type") == "json_object"
        user_messages = [m for m in body["messages"] if m.get("role") == "user"]
        last_user = _text_of(user_messages[-1]) if user_messages else ""
        lines = transcript_lines(last_user)
        speakers = list(dict.fromkeys(speaker for speaker, _ in lines))
        content = self._take_reply()
        if content is None:
            content = (json.dumps(summary_reply(lines), ensure_ascii=False) if json_mode
                       else _summary_sentence(lines, speakers))
        prompt_tokens = sum(len(_text_of(m).split()) for m in body["messages"])
        completion_tokens = len(content.split())
        return web.json_response({
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    @staticmethod
    def _invalid(message: str, param: str | None = None) -> web.Response:
        return web.json_response(error_body(message, "invalid_request_error", param=param),
                                 status=400)


def _text_of(message: dict[str, Any]) -> str:
    """A message's text: its string content, or the text parts of a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content
                         if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _request_problem(body: Any) -> tuple[str, str | None] | None:
    """Why ``body`` is not a chat-completions request OpenAI would take, or None."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object.", None
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array of messages.", "messages"
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"Invalid value for 'messages[{n}].role'.", f"messages[{n}].role"
        if not isinstance(message.get("content"), str | list | None):
            return f"Invalid type for 'messages[{n}].content'.", f"messages[{n}].content"
    temperature = body.get("temperature")
    if temperature is not None and (not isinstance(temperature, int | float)
                                    or isinstance(temperature, bool)
                                    or not 0 <= temperature <= 2):
        return "'temperature' must be a number between 0 and 2.", "temperature"
    response_format = body.get("response_format")
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            return "Invalid value for 'response_format.type'.", "response_format.type"
        if kind == "json_object" and not any("json" in _text_of(m).lower() for m in messages):
            return ("'messages' must contain the word 'json' in some form, to use "
                    "'response_format' of type 'json_object'.", "messages")
    return None

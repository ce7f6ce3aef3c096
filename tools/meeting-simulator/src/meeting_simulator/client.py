"""Owns the synchronous control-API client that tests use (standard library only)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any


class SimulatorError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class SimulatorClient:
    def __init__(self, control_url: str, timeout: float = 30.0) -> None:
        self.control_url = control_url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        payload = self._request_raw(method, path, body)
        return json.loads(payload) if payload else None

    def _request_raw(self, method: str, path: str, body: Any = None) -> bytes:
        """The answer's body as bytes (JSON `body` sent if given); SimulatorError on HTTP errors."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.control_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            raise SimulatorError(exc.code, detail) from None
        return payload

    def create_meeting(self, code: str, *, platform: str = "meet", **fields: Any) -> dict[str, Any]:
        return self._request("POST", "/meetings", {"code": code, "platform": platform, **fields})

    def meeting(self, code: str) -> dict[str, Any]:
        return self._request("GET", f"/meetings/{_quoted(code)}")

    def meetings(self) -> list[dict[str, Any]]:
        return self._request("GET", "/meetings")

    def end(self, code: str) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{_quoted(code)}/end", {})

    def remove(self, code: str, name: str | None = None) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{_quoted(code)}/remove", {"name": name})

    def admit(self, code: str, name: str | None = None) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{_quoted(code)}/admit", {"name": name})

    def deny(self, code: str, name: str | None = None) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{_quoted(code)}/deny", {"name": name})

    def chat(self, code: str, sender: str, text: str) -> dict[str, Any]:
        return self._request(
            "POST", f"/meetings/{_quoted(code)}/chat", {"sender": sender, "text": text}
        )

    def camera_frame(self, code: str, guest_id: str) -> bytes:
        """The latest camera frame (JPEG or PNG bytes) the guest's page posted; 404 if none yet."""
        return self._request_raw(
            "GET", f"/meetings/{_quoted(code)}/guests/{_quoted(guest_id)}/camera"
        )

    def microphone_audio(self, code: str, guest_id: str) -> bytes:
        """What the guest's page recorded of its microphone so far (WebM/Opus bytes, one stream);
        404 if it posted nothing yet. The guest's `microphone_stopped_at` says it is complete."""
        return self._request_raw(
            "GET", f"/meetings/{_quoted(code)}/guests/{_quoted(guest_id)}/microphone"
        )

    def delete(self, code: str) -> None:
        self._request("DELETE", f"/meetings/{_quoted(code)}")

    def wait_for(
        self,
        code: str,
        predicate: Callable[[dict[str, Any]], Any],
        timeout: float = 30.0,
        interval: float = 0.2,
    ) -> dict[str, Any]:
        """Poll the meeting's state until `predicate(state)` is truthy; return that state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.meeting(code)
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"meeting {code} did not reach the expected state: {state}")
            time.sleep(interval)


def _quoted(code: str) -> str:
    """A meeting code as one path segment (Teams ids carry `:` and `@`)."""
    return urllib.parse.quote(code, safe="")


def new_meet_code() -> str:
    """A fresh, random Google Meet code (three letters, four, three)."""
    import secrets
    import string

    def part(n: int) -> str:
        return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))

    return f"{part(3)}-{part(4)}-{part(3)}"


def new_zoom_meeting_id() -> str:
    """A fresh, random 11-digit Zoom meeting number (the form `zoom.us/j/<id>` links carry)."""
    import secrets

    return str(secrets.choice(range(1, 10))) + "".join(
        str(secrets.randbelow(10)) for _ in range(10)
    )


def new_teams_meeting_id() -> str:
    """A fresh Teams thread id, `19:meeting_<base64 of a GUID>@thread.v2`, as in meetup-join links."""
    import base64
    import uuid

    while True:
        token = base64.b64encode(str(uuid.uuid4()).encode()).decode().rstrip("=")
        if token.isalnum():
            return f"19:meeting_{token}@thread.v2"


def new_teams_numeric_id() -> str:
    """A fresh 13-digit Teams meeting id, as `/meet/<id>?p=<passcode>` links carry."""
    import secrets

    return str(secrets.choice(range(1, 10))) + "".join(
        str(secrets.randbelow(10)) for _ in range(12)
    )

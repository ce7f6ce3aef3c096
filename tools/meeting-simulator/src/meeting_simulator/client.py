"""Owns the synchronous control-API client that tests use (standard library only)."""

from __future__ import annotations

import json
import time
import urllib.error
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
        return json.loads(payload) if payload else None

    def create_meeting(self, code: str, **fields: Any) -> dict[str, Any]:
        return self._request("POST", "/meetings", {"code": code, **fields})

    def meeting(self, code: str) -> dict[str, Any]:
        return self._request("GET", f"/meetings/{code}")

    def meetings(self) -> list[dict[str, Any]]:
        return self._request("GET", "/meetings")

    def end(self, code: str) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{code}/end", {})

    def remove(self, code: str, name: str | None = None) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{code}/remove", {"name": name})

    def admit(self, code: str, name: str | None = None) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{code}/admit", {"name": name})

    def deny(self, code: str, name: str | None = None) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{code}/deny", {"name": name})

    def chat(self, code: str, sender: str, text: str) -> dict[str, Any]:
        return self._request("POST", f"/meetings/{code}/chat", {"sender": sender, "text": text})

    def delete(self, code: str) -> None:
        self._request("DELETE", f"/meetings/{code}")

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


def new_meet_code() -> str:
    """A fresh, random Google Meet code (three letters, four, three)."""
    import secrets
    import string

    def part(n: int) -> str:
        return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))

    return f"{part(3)}-{part(4)}-{part(3)}"

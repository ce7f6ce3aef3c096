"""The bot's live audio sockets (`streaming.output`, `streaming.input`).

The bot is the WebSocket client; the customer's server is the receiver. On every connection the
bot first sends one JSON text frame::

    {"type": "audio_start", "bot_id": "...", "sample_rate": 16000, "channels": 1,
     "encoding": "pcm_s16le", "frame_ms": 40, "offset_ms": 0}

`offset_ms` is where the next audio frame starts, from the start of the recording (the bot's
`in_call_recording`). On the output socket binary frames follow, each `frame_ms` of 16-bit
little-endian mono PCM at `sample_rate`, as the meeting plays. Audio that could not be sent (the
receiver was away or too slow) is announced before the next frame by
``{"type": "audio_gap", "offset_ms": ..., "duration_ms": ...}``, so the receiver keeps the
meeting's timeline. Who speaks is told as it is seen, by
``{"type": "speaker", "name": ..., "speaking": true|false, "offset_ms": ...}``. Binary frames the
server sends (same format) on the input socket are the bot's microphone; one URL given for both
is one socket used both ways.

Nothing here can hold up the recording: `push` only appends to a bounded buffer (the oldest audio
is dropped when it is full) and the sockets run on their own thread. A socket that cannot connect,
closes or fails is opened again with a growing delay; each interruption and each recovery is
noted for the bot's status history (`take_notes`). `wss://` is checked against the system's
certificate authorities; every address goes through the SSRF guard when connecting.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import aiohttp

from mb_shared.url_guard import OutboundPolicy, UnsafeUrl, check_socket_url, guarded_session

log = logging.getLogger(__name__)

MAX_TEXTS = 200
"""Speaker messages kept while the output socket is away (the oldest go first)."""
MAX_NOTES = 20
"""Interruptions noted per socket; one more note says that later ones are not."""


@dataclass(frozen=True)
class _Frame:
    pcm: bytes
    offset_s: float


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class LiveAudio:
    """One bot's live audio: the recorded mix out to `output`, `input`'s audio in to `on_input`.

    `push` may be called from any thread; `on_input(pcm)` is called on the sockets' thread and
    must return at once.
    """

    def __init__(self, bot_id: UUID, *, output: str | None, input: str | None, sample_rate: int,
                 frame_ms: int, policy: OutboundPolicy,
                 on_input: Callable[[bytes], None] | None = None, buffer_s: float = 3.0,
                 connect_timeout_s: float = 10.0, max_backoff_s: float = 15.0) -> None:
        self.bot_id = bot_id
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self._policy = policy
        self._on_input = on_input
        self._connect_timeout_s = connect_timeout_s
        self._max_backoff_s = max_backoff_s
        self._frames: collections.deque[_Frame] = collections.deque()
        self._texts: collections.deque[str] = collections.deque(maxlen=MAX_TEXTS)
        self._max_frames = max(1, round(buffer_s * 1000 / frame_ms))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name=f"live-audio-{bot_id}",
                                        daemon=True)
        self._wake: asyncio.Event | None = None
        self._closed: asyncio.Event | None = None
        self._closing = False
        self._heard_until = 0.0  # where the latest pushed frame ends
        self._recording_started_unix: float | None = None
        self._tasks: list[asyncio.Task] = []
        self._notes: list[str] = []
        self._notes_lock = threading.Lock()
        self._sockets: list[tuple[str, str, bool, bool]] = []  # (name, url, sends, hears)
        if output and input and output == input:
            self._sockets.append(("streaming.output", output, True, True))
        else:
            if output:
                self._sockets.append(("streaming.output", output, True, False))
            if input:
                self._sockets.append(("streaming.input", input, False, True))
        self.frames_pushed = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.frames_heard = 0
        self.connections = 0

    # ------------------------------------------------------------------ API
    @property
    def sends(self) -> bool:
        """The meeting's audio goes out (`streaming.output` given)."""
        return any(sends for _, _, sends, _ in self._sockets)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_sockets(), self._loop).result(10)

    def recording_started(self, unix_s: float) -> None:
        """When the recording began: an input-only socket's header counts its offset from it."""
        self._recording_started_unix = unix_s

    def _position(self) -> float:
        """Where the recording is now, as far as this side knows."""
        if self._recording_started_unix is not None and not self.sends:
            return max(0.0, time.time() - self._recording_started_unix)
        return self._heard_until

    def push(self, pcm: bytes, offset_s: float) -> None:
        """The next frame of the meeting's audio (from any thread; never waits)."""
        if self._closing or not self._thread.is_alive():
            return
        try:
            self._loop.call_soon_threadsafe(self._append, _Frame(pcm, offset_s))
        except RuntimeError:  # the loop has just closed
            pass

    def speaker(self, name: str, speaking: bool, offset_s: float) -> None:
        """Someone started or stopped speaking (from any thread; never waits)."""
        if not self.sends or self._closing or not self._thread.is_alive():
            return
        text = json.dumps({"type": "speaker", "name": name, "speaking": speaking,
                           "offset_ms": _ms(offset_s)})
        try:
            self._loop.call_soon_threadsafe(self._append_text, text)
        except RuntimeError:
            pass

    def take_notes(self) -> list[str]:
        """What happened to the sockets since the last call, for the bot's status history."""
        with self._notes_lock:
            notes, self._notes = self._notes, []
        return notes

    def close(self, flush_s: float = 1.0) -> None:
        """Send what is buffered (for at most `flush_s`), close the sockets, stop the thread."""
        if self._thread.ident is None:  # never started
            self._loop.close()
            return
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(flush_s), self._loop).result(flush_s + 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    def stats(self) -> dict[str, int]:
        return {"frames_pushed": self.frames_pushed, "frames_sent": self.frames_sent,
                "frames_dropped": self.frames_dropped, "frames_heard": self.frames_heard,
                "connections": self.connections}

    # ------------------------------------------------------------ internals
    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _note(self, name: str, count: list[int], message: str) -> None:
        count[0] += 1
        if count[0] > MAX_NOTES + 1:
            return
        if count[0] == MAX_NOTES + 1:
            message = f"{name}: further interruptions are not noted"
        log.info("live audio: %s", message, extra={"bot_id": self.bot_id})
        with self._notes_lock:
            self._notes.append(message)

    async def _start_sockets(self) -> None:
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        for name, url, sends, hears in self._sockets:
            self._tasks.append(asyncio.create_task(self._guarded(name, url, sends, hears)))

    async def _guarded(self, name: str, url: str, sends: bool, hears: bool) -> None:
        try:
            await self._keep_open(name, url, sends, hears)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live audio: %s stopped", name, extra={"bot_id": self.bot_id})
            self._note(name, [0], f"{name}: stopped after an internal error")

    def _append(self, frame: _Frame) -> None:
        self.frames_pushed += 1
        self._heard_until = frame.offset_s + self.frame_ms / 1000.0
        if not self.sends:
            return
        if len(self._frames) >= self._max_frames:
            self._frames.popleft()
            self.frames_dropped += 1
        self._frames.append(frame)
        assert self._wake is not None
        self._wake.set()

    def _append_text(self, text: str) -> None:
        self._texts.append(text)
        assert self._wake is not None
        self._wake.set()

    async def _stop(self, flush_s: float) -> None:
        """Connected sockets send what is buffered and close (code 1000); the others stop."""
        self._closing = True
        assert self._closed is not None and self._wake is not None
        self._closed.set()
        self._wake.set()
        _, pending = await asyncio.wait(self._tasks, timeout=flush_s) if self._tasks else ((), ())
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _header(self, offset_s: float) -> str:
        return json.dumps({
            "type": "audio_start", "bot_id": str(self.bot_id), "sample_rate": self.sample_rate,
            "channels": 1, "encoding": "pcm_s16le", "frame_ms": self.frame_ms,
            "offset_ms": _ms(offset_s),
        })

    async def _keep_open(self, name: str, url: str, sends: bool, hears: bool) -> None:
        """Connect, stream, and connect again (with a growing delay) until closed."""
        try:
            check_socket_url(url, policy=self._policy)
        except UnsafeUrl as exc:
            self._note(name, [0], f"{name}: not connected, the URL is refused: {exc}")
            return
        noted = [0]
        down_since: float | None = None
        dropped_before = failures = 0
        position = 0.0  # where the audio sent so far ends (s on the recording's timeline)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout_s)
        async with guarded_session(self._policy, timeout=timeout) as session:
            while True:
                reason: str
                try:
                    async with session.ws_connect(
                        url, heartbeat=20.0, max_msg_size=1 << 20,
                        timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                    ) as ws:
                        self.connections += 1
                        if down_since is not None:
                            lost = (self.frames_dropped - dropped_before) * self.frame_ms / 1000
                            self._note(name, noted, f"{name}: connected again after "
                                       f"{time.monotonic() - down_since:.1f} s"
                                       + (f"; {lost:.1f} s of audio could not be sent"
                                          if sends and lost else ""))
                        down_since, failures = None, 0
                        if sends and not await self._first_frame():
                            return
                        start = self._frames[0].offset_s if sends else self._position()
                        await ws.send_str(self._header(max(start, position)))
                        position = await self._stream(ws, sends, hears, max(start, position))
                        if self._closing:
                            return
                        reason = f"the receiver closed the connection (code {ws.close_code})"
                except asyncio.CancelledError:
                    raise
                except aiohttp.WSServerHandshakeError as exc:
                    reason = f"the server refused the WebSocket (HTTP {exc.status})"
                except aiohttp.ClientConnectorCertificateError:
                    reason = "the server's TLS certificate is not trusted"
                except aiohttp.ClientConnectorError as exc:
                    reason = f"could not connect ({exc.os_error.strerror or exc.os_error})"
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    reason = f"the connection failed ({type(exc).__name__})"
                if self._closing:
                    return
                failures += 1
                delay = min(self._max_backoff_s, 0.5 * 2 ** (failures - 1))
                if down_since is None:
                    down_since, dropped_before = time.monotonic(), self.frames_dropped
                    self._note(name, noted, f"{name}: {reason}; reconnecting")
                else:
                    log.info("live audio: %s: %s; again in %.1f s", name, reason, delay,
                             extra={"bot_id": self.bot_id})
                assert self._closed is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), delay)
                if self._closing:
                    return

    async def _first_frame(self) -> bool:
        """Wait until there is audio to send: True, or False once closing with none."""
        assert self._wake is not None
        while not self._frames:
            if self._closing:
                return False
            self._wake.clear()
            await self._wake.wait()
        return True

    async def _stream(self, ws: aiohttp.ClientWebSocketResponse, sends: bool, hears: bool,
                      position: float) -> float:
        """Send frames / hear frames until the socket closes; where the sent audio ends."""
        frame_s = self.frame_ms / 1000.0
        state = {"position": position}

        async def send() -> None:
            assert self._wake is not None
            while True:
                while self._texts:
                    await ws.send_str(self._texts[0])
                    self._texts.popleft()
                if not self._frames:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                frame = self._frames.popleft()
                gap = frame.offset_s - state["position"]
                if gap > frame_s / 2:
                    await ws.send_str(json.dumps({"type": "audio_gap",
                                                  "offset_ms": _ms(state["position"]),
                                                  "duration_ms": _ms(gap)}))
                try:
                    await ws.send_bytes(frame.pcm)
                except BaseException:
                    self._frames.appendleft(frame)  # not sent: the next connection sends it
                    raise
                self.frames_sent += 1
                state["position"] = frame.offset_s + frame_s

        async def hear() -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY and hears:
                    self.frames_heard += 1
                    if self._on_input is not None:
                        try:
                            self._on_input(message.data)
                        except Exception:
                            log.exception("live audio: the microphone could not take a frame",
                                          extra={"bot_id": self.bot_id})

        async def until_closed() -> None:
            assert self._closed is not None
            await self._closed.wait()

        tasks = [asyncio.create_task(hear())]
        tasks.append(asyncio.create_task(send() if sends else until_closed()))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a failed send raises here
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return state["position"]

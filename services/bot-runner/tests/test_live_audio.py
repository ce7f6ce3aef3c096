"""The bot's live audio sockets against real WebSocket servers on loopback: what a receiver gets,
and what happens when it is away, drops the connection, is slow, or is not to be trusted."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import struct
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot_runner.media.live_audio import LiveAudio
from devstack.receivers import AudioReceiver, BackgroundServer
from mb_shared.url_guard import OutboundPolicy

pytestmark = pytest.mark.timeout(60)

LOOPBACK = OutboundPolicy(allow_loopback=True)
FRAME_MS = 40
SAMPLES = 16_000 * FRAME_MS // 1000


def frame(index: int) -> bytes:
    """A frame whose every sample is its index: which frame arrived is read back from it."""
    return struct.pack(f"<{SAMPLES}h", *([index] * SAMPLES))


def index_of(data: bytes) -> int:
    assert len(data) == SAMPLES * 2
    return struct.unpack_from("<h", data)[0]


def live_audio(output: str | None, input: str | None = None, *,
               policy: OutboundPolicy = LOOPBACK, **kwargs) -> LiveAudio:
    return LiveAudio(uuid4(), output=output, input=input, sample_rate=16_000, frame_ms=FRAME_MS,
                     policy=policy, **kwargs)


def feed(live: LiveAudio, count: int, *, first: int = 0, pace_s: float = 0.0) -> None:
    for index in range(first, first + count):
        live.push(frame(index), index * FRAME_MS / 1000)
        if pace_s:
            time.sleep(pace_s)


@pytest.fixture
def receiver() -> Iterator[tuple[AudioReceiver, str]]:
    audio = AudioReceiver()
    server = BackgroundServer(audio.app())
    server.start()
    yield audio, f"ws://127.0.0.1:{server.port}"
    server.stop()


def test_the_receiver_gets_the_header_then_every_frame_in_order(receiver):
    audio, base = receiver
    live = live_audio(f"{base}/out")
    live.start()
    feed(live, 50, pace_s=0.005)
    live.close()
    (connection,) = audio.wait_closed("/out")
    assert connection.header == {"type": "audio_start", "bot_id": str(live.bot_id),
                                 "sample_rate": 16_000, "channels": 1, "encoding": "pcm_s16le",
                                 "frame_ms": FRAME_MS, "offset_ms": 0}
    assert [index_of(data) for _, data in connection.frames] == list(range(50))
    assert connection.texts == []
    assert connection.close_code == 1000
    assert live.take_notes() == []


def test_who_speaks_is_told_between_the_frames(receiver):
    audio, base = receiver
    live = live_audio(f"{base}/speakers")
    live.start()
    feed(live, 10)
    live.speaker("Alice", True, 0.12)
    feed(live, 10, first=10)
    live.speaker("Alice", False, 0.6)
    live.close()
    (connection,) = audio.wait_closed("/speakers")
    assert connection.texts == [
        {"type": "speaker", "name": "Alice", "speaking": True, "offset_ms": 120},
        {"type": "speaker", "name": "Alice", "speaking": False, "offset_ms": 600}]
    assert [index_of(data) for _, data in connection.frames] == list(range(20))


def test_audio_the_bot_never_had_is_announced_as_a_gap(receiver):
    audio, base = receiver
    live = live_audio(f"{base}/gap")
    live.start()
    feed(live, 5)
    feed(live, 5, first=30)  # the page handed nothing over for 1 s (e.g. it navigated)
    live.close()
    (connection,) = audio.wait_closed("/gap")
    assert [index_of(data) for _, data in connection.frames] == [0, 1, 2, 3, 4, 30, 31, 32, 33, 34]
    assert connection.texts == [{"type": "audio_gap", "offset_ms": 200, "duration_ms": 1000}]


def test_a_dropped_connection_is_opened_again_and_noted(receiver):
    audio, base = receiver
    audio.drop_after_s["/drop"], audio.drops["/drop"] = 0.5, 1
    live = live_audio(f"{base}/drop")
    live.start()
    feed(live, 60, pace_s=FRAME_MS / 1000)
    live.close()
    first, second = audio.wait_closed("/drop", count=2)
    sent_first = [index_of(data) for _, data in first.frames]
    sent_second = [index_of(data) for _, data in second.frames]
    # Each connection's audio is continuous; the second starts where its header says, and the
    # frames buffered while the receiver was away are sent then: only what was on the wire when
    # it dropped can be missing.
    assert sent_first == list(range(len(sent_first)))
    assert second.header["offset_ms"] == sent_second[0] * FRAME_MS
    assert sent_second == list(range(sent_second[0], 60))
    assert sent_second[0] <= len(sent_first) + 5
    assert second.close_code == 1000
    notes = live.take_notes()
    assert len(notes) == 2, notes
    assert notes[0].startswith("streaming.output: ") and notes[0].endswith("; reconnecting")
    assert notes[1].startswith("streaming.output: connected again after ")


def test_an_unreachable_receiver_is_noted_once_and_tried_again(receiver):
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live = live_audio(f"ws://127.0.0.1:{port}/nobody")
    live.start()
    feed(live, 50, pace_s=FRAME_MS / 1000)
    live.close()
    notes = live.take_notes()
    assert len(notes) == 1, notes
    assert notes[0].startswith("streaming.output: could not connect (")
    assert live.connections == 0


def test_a_receiver_that_does_not_read_loses_old_audio_and_never_holds_up_the_bot():
    reading, finished = threading.Event(), threading.Event()
    received: list[bytes | str] = []

    async def stalled(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=1 << 22)
        await ws.prepare(request)
        while not reading.is_set():
            await asyncio.sleep(0.05)
        async for message in ws:
            received.append(message.data)
        finished.set()
        return ws

    app = web.Application()
    app.router.add_get("/slow", stalled)
    server = BackgroundServer(app)
    server.start()
    try:
        live = live_audio(f"ws://127.0.0.1:{server.port}/slow", buffer_s=1.0)
        live.start()
        feed(live, 1)
        while live.connections == 0:
            time.sleep(0.05)
        feed(live, 12_000, first=1)  # eight minutes of audio, far more than the socket holds
        while live.frames_pushed < 12_001:
            time.sleep(0.05)
        assert live.frames_dropped > 0
        reading.set()
        feed(live, 1, first=12_001)
        live.close(flush_s=10.0)
        assert finished.wait(30), "the socket was not closed"
    finally:
        server.stop()
    gaps = [item for item in received if isinstance(item, str) and "audio_gap" in item]
    assert gaps, "the receiver was not told which audio it missed"
    frames = [index_of(item) for item in received if isinstance(item, bytes)]
    assert frames == sorted(frames) and frames[-1] == 12_001


def raw_audio(path: Path, pcm: bytes) -> Path:
    """`pcm` as a file ffmpeg reads back unchanged (16 kHz s16le mono wav)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm)
    return path


def test_audio_from_the_same_socket_becomes_the_microphone(receiver, tmp_path):
    audio, base = receiver
    spoken = b"".join(frame(1000 + i) for i in range(25))
    audio.speak["/both"] = raw_audio(tmp_path / "both.wav", spoken)
    heard: list[bytes] = []
    live = live_audio(f"{base}/both", f"{base}/both", on_input=heard.append)
    live.start()
    feed(live, 40, pace_s=FRAME_MS / 1000)
    deadline = time.monotonic() + 10
    while len(b"".join(heard)) < len(spoken) and time.monotonic() < deadline:
        time.sleep(0.05)
    live.close()
    (connection,) = audio.wait_closed("/both")
    assert b"".join(heard) == spoken
    assert [index_of(data) for _, data in connection.frames] == list(range(40))


def test_an_input_only_socket_sends_its_header_at_once_and_hears(receiver, tmp_path):
    audio, base = receiver
    spoken = b"".join(frame(2000 + i) for i in range(10))
    audio.speak["/in"] = raw_audio(tmp_path / "in.wav", spoken)
    heard: list[bytes] = []
    live = live_audio(None, f"{base}/in", on_input=heard.append)
    live.start()
    deadline = time.monotonic() + 10
    while len(b"".join(heard)) < len(spoken) and time.monotonic() < deadline:
        time.sleep(0.05)
    live.close()
    (connection,) = audio.wait_closed("/in")
    assert connection.header["offset_ms"] == 0 and connection.frames == []
    assert b"".join(heard) == spoken


def test_ws_is_refused_where_loopback_is_not_open(receiver):
    _, base = receiver
    live = live_audio(f"{base}/out", policy=OutboundPolicy())
    live.start()
    feed(live, 5)
    live.close()
    assert live.take_notes() == [
        "streaming.output: not connected, the URL is refused: the scheme must be wss"]
    assert live.connections == 0


def self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


def test_a_wss_server_whose_certificate_is_not_trusted_gets_no_audio(tmp_path):
    audio = AudioReceiver()
    context = self_signed(tmp_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def serve() -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(audio.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]

    runner, port = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    try:
        live = live_audio(f"wss://127.0.0.1:{port}/tls")
        live.start()
        feed(live, 25, pace_s=FRAME_MS / 1000)
        live.close()
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert live.take_notes() == [
        "streaming.output: the server's TLS certificate is not trusted; reconnecting"]
    assert audio.connections == []

"""Zoom tokens fetched at join time: what ends up in the web-client URL, and every way a token
URL can fail, as a typed failure that never shows the token or the URL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from bot_runner.platforms.zoom import TOKEN_MAX_BYTES, ZoomAdapter, _RedactTokens, fetch_token
from bot_runner.session import BotFailure
from mb_shared.contracts.bot import BotError, BotParams, EndReason, Platform
from mb_shared.url_guard import OutboundPolicy

SECRET = "zak-secret-0123456789"
ROUTES: dict[str, tuple[int, bytes, float]] = {
    "/plain": (200, SECRET.encode() + b"\n", 0.0),
    "/json": (200, b'{"token": "' + SECRET.encode() + b'", "expires_in": 300}', 0.0),
    "/json-string": (200, b'"' + SECRET.encode() + b'"', 0.0),
    "/obf": (200, b"obf-secret-42", 0.0),
    "/error": (500, b"upstream exploded " + SECRET.encode(), 0.0),
    "/forbidden": (403, b"no", 0.0),
    "/empty": (200, b"", 0.0),
    "/html": (200, b"<html><body>Sign in</body></html>", 0.0),
    "/huge": (200, b"x" * (TOKEN_MAX_BYTES + 10), 0.0),
    "/slow": (200, SECRET.encode(), 3.0),
    "/redirect": (302, b"", 0.0),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        status, body, delay = ROUTES.get(urlsplit(self.path).path, (404, b"", 0.0))
        time.sleep(delay)
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def params(**zoom) -> BotParams:
    return BotParams(meeting_url="https://app.zoom.us/wc/12345678901/join?pwd=abc",
                     platform=Platform.ZOOM, bot_name="Notetaker", zoom=zoom or None)


LOOPBACK = OutboundPolicy(allow_loopback=True)  # the test server is on 127.0.0.1


def adapter(outbound: OutboundPolicy = LOOPBACK) -> ZoomAdapter:
    return ZoomAdapter(driver=None, input_driver=None, outbound=outbound)  # no browser needed


@pytest.mark.parametrize("path", ["/plain", "/json", "/json-string"])
def test_a_token_url_answer_becomes_the_zak_parameter(server, path):
    url = adapter().join_url(params(zoom_access_token_url=server + path))
    query = parse_qs(urlsplit(url).query)
    assert query == {"pwd": ["abc"], "zak": [SECRET]}
    assert url.startswith("https://app.zoom.us/wc/12345678901/join?")


def test_obf_tokens_given_or_fetched_become_the_obf_token_parameter(server):
    given = adapter().join_url(params(zoom_obf_token="obf-given"))
    assert parse_qs(urlsplit(given).query)["obf_token"] == ["obf-given"]
    fetched = adapter().join_url(params(zoom_obf_token_url=server + "/obf",
                                        zoom_access_token_url=server + "/plain"))
    assert parse_qs(urlsplit(fetched).query) == {"pwd": ["abc"], "zak": [SECRET],
                                                  "obf_token": ["obf-secret-42"]}


def test_without_zoom_parameters_the_link_is_unchanged():
    assert adapter().join_url(params()) == "https://app.zoom.us/wc/12345678901/join?pwd=abc"


@pytest.mark.parametrize("path, words", [
    ("/error", "HTTP 500"), ("/forbidden", "HTTP 403"), ("/empty", "no usable token"),
    ("/html", "no usable token"), ("/huge", "more than"), ("/missing", "HTTP 404"),
])
def test_a_token_url_that_fails_is_a_typed_failure(server, path, words):
    with pytest.raises(BotFailure) as caught:
        adapter().join_url(params(zoom_access_token_url=server + path))
    failure = caught.value
    assert failure.error == BotError.CANNOT_JOIN_MEETING
    assert failure.reason == EndReason.SIGN_IN_REQUIRED
    assert words in failure.message and "zoom_access_token_url" in failure.message
    assert SECRET not in failure.message and "127.0.0.1" not in failure.message


def test_a_slow_token_url_fails_within_its_timeout(server):
    started = time.monotonic()
    with pytest.raises(BotFailure) as caught:
        fetch_token(server + "/slow", "zoom_obf_token_url", timeout_s=0.5, outbound=LOOPBACK)
    assert time.monotonic() - started < 2.5
    assert "did not answer within" in caught.value.message


def test_unreachable_and_non_http_token_urls_fail(server):
    with pytest.raises(BotFailure):
        fetch_token("http://127.0.0.1:9/token", "zoom_access_token_url", timeout_s=2,
                    outbound=LOOPBACK)
    with pytest.raises(BotFailure) as caught:
        fetch_token("file:///etc/passwd", "zoom_access_token_url")
    assert "http(s)" in caught.value.message


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/t",
                                 "http://[::ffff:10.0.0.7]/t", "http://scheduler/token"])
def test_a_token_url_to_a_private_address_is_refused_before_connecting(url):
    with pytest.raises(BotFailure) as caught:
        adapter(OutboundPolicy()).join_url(params(zoom_access_token_url=url))
    assert "may call" in caught.value.message and "zoom_access_token_url" in caught.value.message


def test_loopback_needs_the_explicit_setting(server):
    with pytest.raises(BotFailure):
        adapter(OutboundPolicy()).join_url(params(zoom_access_token_url=server + "/plain"))


def test_a_redirect_is_not_followed(server):
    with pytest.raises(BotFailure) as caught:
        adapter().join_url(params(zoom_access_token_url=server + "/redirect"))
    assert "HTTP 302" in caught.value.message


def test_tokens_are_redacted_from_selenium_command_logs():
    record = logging.LogRecord("selenium.webdriver.remote.remote_connection", logging.DEBUG,
                               __file__, 1, "%s %s", ("POST", '{"url": "https://app.zoom.us/wc/1/'
                                                      f'join?pwd=a&zak={SECRET}&obf_token=x"}}'),
                               None)
    assert _RedactTokens().filter(record)
    message = record.getMessage()
    assert SECRET not in message and "obf_token=x" not in message
    assert "zak=<redacted>" in message and "pwd=a" in message

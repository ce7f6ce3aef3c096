"""The SSRF guard at the gateway, on the real stack: a customer URL the platform would call later
(a webhook URL, `bot_image`, a streaming socket, a Zoom token URL) that points at a non-public
address or a local name is a 400 naming the field, and nothing is created or stored.

The stack runs as in development, with `MB_OUTBOUND_ALLOW_LOOPBACK=true`: 127.0.0.1 exactly is
let through (the tests' own receivers listen there), every other loopback spelling is not. No
URL here is ever called: refused ones are refused before anything is stored, and the accepted
ones point at the tests' receiver on 127.0.0.1.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from support import Api, account_api

MEET = "https://meet.google.com/abc-defg-hij"
FAR_FUTURE = 4102444800  # 2100: the bot stays queued and no browser starts

UNSAFE_HTTP = [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"),
    ("http://10.0.0.5/hook", "10.0.0.5 is not a public address: a private address"),
    ("http://[::ffff:10.0.0.5]/hook", "IPv4-mapped form of 10.0.0.5"),
    ("http://0x7f000002/hook", "is not a public address: a loopback address"),
    ("http://0xa9fea9fe/hook", "is not a public address: a link-local address"),
    ("http://2130706434/hook", "loopback"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://localhost:8080/hook", "localhost is a local or internal name"),
    ("http://scheduler/hook", "scheduler is a single-label name"),
    ("http://scheduler.meeting-bots.svc.cluster.local/hook", "local or internal name"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
    ("http://100.100.100.200/latest/meta-data/", "carrier-grade NAT"),
]


@pytest.fixture(scope="module")
def customer(api, platform) -> Api:
    """An account of its own, so that its bots can be counted."""
    return account_api(platform, "ssrf-test")


def bots_of(account: Api) -> int:
    listed = account.request("GET", "/bots/bots_with_metadata?limit=50")
    assert listed.status == 200, listed.body
    return len(listed.body["bots"])


def assert_refused(response, field: str, reason: str, url: str = "") -> None:
    """A 400 naming `field`. Webhook URLs have a documented shape without IPv6 literals, so a
    bracketed host there is refused for its shape, before the guard sees it."""
    assert response.status == 400, response.body
    assert response.body["field"] == field
    assert response.body["message"].startswith(f"{field}: ")
    if field == "webhook_url" and "[" in url:
        assert response.body["code"] == "InvalidWebhookUrl", response.body
        return
    assert response.body["code"] == "UnsafeUrl", response.body
    assert reason in response.body["message"], response.body["message"]


def join(account: Api, webhooks, **fields):
    body = {"meeting_url": MEET, "bot_name": "Guarded", "start_time": FAR_FUTURE,
            "webhook_url": webhooks.url + "/ssrf", "deduplication_key": str(uuid.uuid4()),
            **fields}
    return account.request("POST", "/bots/", body)


@pytest.mark.parametrize(("url", "reason"), UNSAFE_HTTP)
def test_a_bot_webhook_url_that_is_not_public_is_refused_and_no_bot_is_created(
        customer, webhooks, url, reason):
    before = bots_of(customer)
    assert_refused(join(customer, webhooks, webhook_url=url), "webhook_url", reason, url)
    assert bots_of(customer) == before


@pytest.mark.parametrize(("url", "reason"), UNSAFE_HTTP[:6] + [
    ("ftp://images.example.org/bot.png", "the scheme must be http or https"),
])
def test_a_bot_image_that_is_not_public_is_refused_and_no_bot_is_created(
        customer, webhooks, url, reason):
    before = bots_of(customer)
    assert_refused(join(customer, webhooks, bot_image=url), "bot_image", reason)
    assert bots_of(customer) == before


@pytest.mark.parametrize(("field", "streaming", "reason"), [
    ("streaming.output", {"output": "ws://10.0.0.5/audio"}, "private address"),
    ("streaming.output", {"output": "wss://[::ffff:169.254.169.254]/audio"}, "link-local"),
    ("streaming.input", {"input": "ws://localhost:9000/in"}, "local or internal name"),
    ("streaming.input", {"input": "ws://transcriber/in"}, "single-label name"),
    ("streaming.output", {"output": "https://stream.example.org/audio"},
     "the scheme must be ws or wss"),
    ("streaming.output", {"output": "ws://stream.example.org/audio"},
     "ws:// is only for 127.0.0.1 in development; use wss://"),
])
def test_a_streaming_socket_that_is_not_public_is_refused(customer, webhooks, field, streaming,
                                                          reason):
    before = bots_of(customer)
    assert_refused(join(customer, webhooks, streaming=streaming), field, reason)
    assert bots_of(customer) == before


def test_a_zoom_token_url_that_is_not_public_is_refused(customer, webhooks):
    before = bots_of(customer)
    response = join(customer, webhooks, zoom_access_token_url="http://169.254.169.254/token")
    assert_refused(response, "zoom_access_token_url", "link-local")
    assert bots_of(customer) == before


def test_a_refusal_does_not_repeat_the_urls_path_query_or_credentials(customer, webhooks):
    response = join(customer, webhooks,
                    bot_image="http://deploy:hunter2@10.9.8.7/billing/bot.png?token=s3cr3t")
    assert_refused(response, "bot_image", "10.9.8.7")
    response = join(customer, webhooks, webhook_url="http://10.9.8.7/billing/hook?token=s3cr3t")
    assert_refused(response, "webhook_url", "10.9.8.7")
    for shape in ("http://deploy:hunter2@10.9.8.7/billing?token=s3cr3t", "gopher://billing/s3cr3t"):
        response = join(customer, webhooks, webhook_url=shape)
        assert response.status == 400 and response.body["code"] == "InvalidWebhookUrl"
        for secret in ("deploy", "hunter2", "billing", "token", "s3cr3t"):
            assert secret not in response.body["message"]


def test_urls_on_127_0_0_1_are_taken_in_development(customer, webhooks):
    before = bots_of(customer)
    response = join(customer, webhooks, bot_image=webhooks.url + "/bot.png",
                    streaming={"output": webhooks.url.replace("http", "ws", 1) + "/audio"})
    assert response.status == 200, response.body
    assert bots_of(customer) == before + 1
    bot = customer.request("GET", f"/bots/{response.body['bot_id']}").body
    assert bot["bot"]["webhook_url"] == webhooks.url + "/ssrf"
    assert customer.request("DELETE", f"/bots/{response.body['bot_id']}").status == 200


@pytest.mark.parametrize(("url", "reason"), UNSAFE_HTTP[::2])
def test_an_account_webhook_url_that_is_not_public_is_refused_and_not_stored(customer, url,
                                                                             reason):
    before = customer.request("GET", "/accounts/webhook_url").body
    response = customer.request("POST", "/accounts/webhook_url", {"webhook_url": url})
    assert_refused(response, "webhook_url", reason, url)
    assert customer.request("GET", "/accounts/webhook_url").body == before


def test_an_account_webhook_url_of_the_wrong_shape_keeps_its_own_code(customer):
    response = customer.request("POST", "/accounts/webhook_url", {"webhook_url": "ftp://x.org"})
    assert response.status == 400 and response.body["code"] == "InvalidWebhookUrl"


@pytest.mark.parametrize(("url", "reason"), UNSAFE_HTTP[1::2])
def test_retranscribe_refuses_a_webhook_url_that_is_not_public(customer, url, reason):
    response = customer.request("POST", "/bots/retranscribe",
                                {"bot_uuid": str(uuid.uuid4()), "webhook_url": url})
    assert_refused(response, "webhook_url", reason, url)


@pytest.mark.parametrize(("url", "reason"), UNSAFE_HTTP[::3])
def test_retry_webhook_refuses_a_webhook_url_that_is_not_public(customer, url, reason):
    bot = str(uuid.uuid4())
    in_query = customer.request(
        "POST", f"/bots/retry_webhook?bot_uuid={bot}&webhook_url={quote(url, safe='')}")
    assert_refused(in_query, "webhook_url", reason, url)
    in_body = customer.request("POST", "/bots/retry_webhook",
                               {"bot_uuid": bot, "webhook_url": url})
    assert_refused(in_body, "webhook_url", reason, url)

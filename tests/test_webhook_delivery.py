"""Webhooks reach a customer whose endpoint fails, hangs and recovers; every attempt is recorded.

A bot sent to an unknown meeting produces two events: `joining_call`, then `failed`. Deliveries of
one bot go out in order, so the endpoint sees this exact sequence of POSTs.
"""

from __future__ import annotations

import time

import psycopg

SCRIPT = [  # (status the endpoint answers, seconds it takes)
    (503, 0),  # joining_call, attempt 1
    (500, 0),  # joining_call, attempt 2
    (200, 0),  # joining_call, attempt 3
    (500, 0),  # failed, attempt 1
    (200, 5),  # failed, attempt 2: hangs past the 2 s attempt timeout
    (200, 0),  # failed, attempt 3
]


def attempts_of(platform, webhook_id: str) -> list[tuple[int, int | None, str | None]]:
    with psycopg.connect(platform.infra_endpoints.database_dsn("webhooks")) as conn:
        return conn.execute(
            "SELECT a.number, a.status_code, a.error FROM delivery_attempts a "
            "JOIN deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = %s ORDER BY a.number",
            (webhook_id,),
        ).fetchall()


def test_a_failing_then_hanging_endpoint_gets_every_event_in_order(api, webhooks, platform,
                                                                  meeting_code):
    path = "/flaky"
    webhooks.responses[path] = [status for status, _ in SCRIPT]
    webhooks.delays[path] = [delay for _, delay in SCRIPT]
    response = api.join(meeting_url=f"https://meet.google.com/{meeting_code}", bot_name="Notetaker",
                        webhook_url=webhooks.url + path)
    assert response.status == 200
    bot_id = response.body["bot_id"]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(webhooks.for_bot(bot_id)) < len(SCRIPT):
        time.sleep(0.5)
    posts = webhooks.for_bot(bot_id)
    assert [p.body["event"] for p in posts] == ["bot.status_change"] * 3 + ["failed"] * 3
    status_ids = {p.headers["webhook-id"] for p in posts[:3]}
    failed_ids = {p.headers["webhook-id"] for p in posts[3:]}
    assert len(status_ids) == 1 and len(failed_ids) == 1 and status_ids != failed_ids
    assert all(p.headers["x-meeting-baas-api-key"] == platform.endpoints.api_key for p in posts)

    (failed_id,) = failed_ids
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(attempts_of(platform, failed_id)) < 3:
        time.sleep(0.5)
    failed_attempts = attempts_of(platform, failed_id)
    assert [a[1] for a in failed_attempts] == [500, None, 200], failed_attempts
    assert "Timeout" in failed_attempts[1][2]
    (status_id,) = status_ids
    assert [a[1] for a in attempts_of(platform, status_id)] == [503, 500, 200]
    time.sleep(3)
    assert len(webhooks.for_bot(bot_id)) == len(SCRIPT), "a delivered event was sent again"


def test_deliveries_are_signed_per_standard_webhooks(api, webhooks, meeting_code):
    from standardwebhooks.webhooks import Webhook

    secret = api.request("GET", "/accounts/webhook_secret").body["secret"]
    response = api.join(meeting_url=f"https://meet.google.com/{meeting_code}", bot_name="Signed",
                        webhook_url=webhooks.url + "/signed")
    final = webhooks.wait_final(response.body["bot_id"], timeout=120)
    headers = {k.lower(): v for k, v in final.headers.items()}
    assert Webhook(secret).verify(final.raw, headers) == final.body
    tampered = final.raw.replace(b"CannotJoinMeeting", b"BotNotAccepted")
    try:
        Webhook(secret).verify(tampered, headers)
    except Exception as exc:
        assert "signature" in str(exc).lower()
    else:
        raise AssertionError("a tampered body verified")

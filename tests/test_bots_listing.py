"""`GET /bots/bots_with_metadata`: every filter, newest first, and a cursor that stays correct."""

from __future__ import annotations

import json

import psycopg
import pytest

from meeting_simulator.client import new_meet_code
from support import Api, account_api

FUTURE = 4102444800
BOTS = [  # name, extra
    ("Sales Weekly", {"customer": "acme", "priority": "2"}),
    ("Quarterly sales", {"customer": "acme", "priority": "9"}),
    ("Engineering sync", {"customer": "globex", "priority": "5"}),
    ("Design review", {"customer": "acme"}),
    ("Sales kickoff", {"customer": "initech", "priority": "1"}),
]


@pytest.fixture(scope="module")
def account(platform) -> Api:
    return account_api(platform, "listing")


@pytest.fixture(scope="module")
def created(account, platform) -> list[str]:
    ids = []
    for name, extra in BOTS:
        response = account.join(meeting_url=f"https://meet.google.com/{new_meet_code()}",
                                bot_name=name, extra=extra, start_time=FUTURE)
        assert response.status == 200
        ids.append(response.body["bot_id"])
    # Speakers are learned from recordings; give two bots some, as a recording would.
    with psycopg.connect(platform.infra_endpoints.database_dsn("scheduler")) as conn:
        conn.execute("UPDATE bots SET speakers = %s WHERE bot_id = %s",
                     (json.dumps(["John Smith", "Ann"]), ids[0]))
        conn.execute("UPDATE bots SET speakers = %s WHERE bot_id = %s",
                     (json.dumps(["Johnny Doe"]), ids[2]))
    return ids


def listing(account: Api, **params) -> dict:
    from urllib.parse import urlencode

    response = account.request("GET", "/bots/bots_with_metadata?" + urlencode(params))
    assert response.status == 200, response.body
    return response.body


def names(body: dict) -> list[str]:
    return [b["bot_name"] for b in body["bots"]]


def test_newest_first_with_both_keys(account, created):
    body = listing(account)
    assert [b["uuid"] for b in body["bots"]] == list(reversed(created))
    assert body["recent_bots"] == body["bots"]
    assert body["next_cursor"] is None
    first = body["bots"][0]
    # the fields of list-bots-with-metadata.md, the OpenAPI document's `uuid` and `bot_name`, and
    # the calendar event a bot was scheduled for
    assert first.keys() == {"access_count", "content_deleted", "created_at", "duration",
                            "ended_at", "extra", "id", "last_accessed_at", "meeting_url", "name",
                            "session_id", "speakers", "uuid", "bot_name", "event_uuid"}
    assert first["id"] == first["uuid"] == created[-1] and first["name"] == first["bot_name"]
    assert first["content_deleted"] is False and first["event_uuid"] is None


def test_bot_name_and_meeting_url_match_partially_ignoring_case(account, created):
    assert names(listing(account, bot_name="sales")) == ["Sales kickoff", "Quarterly sales",
                                                         "Sales Weekly"]
    assert len(listing(account, meeting_url="MEET.GOOGLE")["bots"]) == len(BOTS)
    assert listing(account, meeting_url="zoom.us")["bots"] == []
    assert listing(account, bot_name="100%")["bots"] == []


def test_created_after_and_before(account, created):
    everything = listing(account)["bots"]
    middle = everything[2]["created_at"]
    assert len(listing(account, created_after=middle)["bots"]) == 3
    assert len(listing(account, created_before=middle)["bots"]) == 3


def test_filter_by_extra_requires_every_condition(account, created):
    assert names(listing(account, filter_by_extra="customer:acme")) == [
        "Design review", "Quarterly sales", "Sales Weekly"]
    assert names(listing(account, filter_by_extra="customer:acme,priority:9")) == [
        "Quarterly sales"]
    assert listing(account, filter_by_extra="customer:ACME")["bots"] == []


def test_sort_by_extra_puts_bots_without_the_field_last(account, created):
    assert names(listing(account, sort_by_extra="priority")) == [
        "Sales kickoff", "Sales Weekly", "Engineering sync", "Quarterly sales", "Design review"]
    assert names(listing(account, sort_by_extra="priority:desc"))[:2] == [
        "Quarterly sales", "Engineering sync"]


def test_speaker_name_matches_partially(account, created):
    assert names(listing(account, speaker_name="john")) == ["Engineering sync", "Sales Weekly"]
    assert names(listing(account, speaker_name="ann")) == ["Sales Weekly"]


@pytest.mark.parametrize("sort", [None, "priority:desc"])
def test_the_cursor_stays_correct_while_bots_are_created(account, created, sort):
    extra_params = {"sort_by_extra": sort} if sort else {}
    expected = [b["uuid"] for b in listing(account, limit=50, **extra_params)["bots"]]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **extra_params, **({"cursor": cursor} if cursor else {})}
        page = listing(account, **params)
        seen += [b["uuid"] for b in page["bots"]]
        account.join(meeting_url=f"https://meet.google.com/{new_meet_code()}", bot_name="Late",
                     start_time=FUTURE, extra={"priority": "3"})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a bot was listed twice"
    assert [bot for bot in seen if bot in expected] == expected, "a bot was skipped or moved"
    if sort is None:
        assert seen == expected, "newest first: bots created meanwhile come before the cursor"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 51}, "limit"), ({"limit": "ten"}, "limit"),
     ({"created_after": "yesterday"}, "created_after"),
     ({"filter_by_extra": "nocolon"}, "filter_by_extra"),
     ({"sort_by_extra": "priority:sideways"}, "sort_by_extra"),
     ({"cursor": "not-a-cursor"}, "cursor")],
)
def test_bad_parameters_are_400s_naming_them(account, params, field):
    from urllib.parse import urlencode

    response = account.request("GET", "/bots/bots_with_metadata?" + urlencode(params))
    assert response.status == 400
    assert response.body["field"] == field


def test_another_accounts_bots_never_show(api, created):
    mine = {b["uuid"] for b in listing(api, limit=50)["bots"]}
    assert not mine & set(created)

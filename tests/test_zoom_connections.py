"""Zoom OAuth connections through the API on the real stack, against the Zoom emulator."""

from __future__ import annotations

import contextlib
import uuid

import pytest

from meeting_simulator.client import new_zoom_meeting_id
from provider_emulators import ZoomApp, ZoomUser
from support import account_api

REDIRECT = "https://app.acme.test/zoom/callback"


@pytest.fixture
def zoom_user(calendar_providers):
    """A Zoom app of its own and a user of it; the emulator and the user's id."""
    zoom = calendar_providers.zoom
    client = f"app-{uuid.uuid4().hex[:8]}"
    zoom.add_app(ZoomApp(client, "app-secret", redirect_uris=(REDIRECT,)))
    user = zoom.add_user(ZoomUser(id=f"zu-{uuid.uuid4().hex[:8]}", email="ada@acme.test",
                                  account_id="zacct-9"))
    return zoom, client, user.id


def body(zoom, client, user_id, **overrides) -> dict:
    return {"authorization_code": zoom.issue_code(client, user_id, REDIRECT),
            "redirect_uri": REDIRECT, "zoom_client_id": client,
            "zoom_client_secret": "app-secret", **overrides}


def test_a_connection_is_created_listed_read_and_deleted(platform, zoom_user):
    api = account_api(platform, "zoom customer")
    zoom, client, user_id = zoom_user
    created = api.request("POST", "/zoom_oauth_connections/",
                          body(zoom, client, user_id, from_a_newer_client=True))
    assert created.status == 201, created.body
    connection = created.body
    assert (connection["zoom_user_id"], connection["zoom_account_id"], connection["state"]) == (
        user_id, "zacct-9", "connected")
    assert not {"access_token", "refresh_token"} & set(connection)
    assert api.request("GET", "/zoom_oauth_connections/").body == [connection]
    assert api.request("GET", f"/zoom_oauth_connections/{connection['uuid']}").body == connection

    stranger = account_api(platform, "zoom stranger")
    assert stranger.request("GET", f"/zoom_oauth_connections/{connection['uuid']}").status == 404
    assert stranger.request("DELETE",
                            f"/zoom_oauth_connections/{connection['uuid']}").status == 404
    assert stranger.request("GET", "/zoom_oauth_connections/").body == []

    deleted = api.request("DELETE", f"/zoom_oauth_connections/{connection['uuid']}")
    assert deleted.status == 204
    assert api.request("GET", f"/zoom_oauth_connections/{connection['uuid']}").status == 404


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"authorization_code": "not-a-code"}, 400, "authorization_code"),
    ({"zoom_client_secret": "wrong"}, 400, "zoom_client_secret"),
    ({"redirect_uri": "https://elsewhere.test/cb"}, 400, "redirect_uri"),
    ({"zoom_client_id": "  "}, 422, "zoom_client_id"),
])
def test_what_zoom_refuses_is_a_400_naming_the_field_and_nothing_is_stored(platform, zoom_user,
                                                                           change, status, field):
    api = account_api(platform, "zoom refused")
    zoom, client, user_id = zoom_user
    response = api.request("POST", "/zoom_oauth_connections/", body(zoom, client, user_id,
                                                                    **change))
    assert (response.status, response.body.get("field")) == (status, field), response.body
    assert api.request("GET", "/zoom_oauth_connections/").body == []


def test_a_body_without_the_code_is_a_422(platform):
    api = account_api(platform, "zoom incomplete")
    response = api.request("POST", "/zoom_oauth_connections/", {"redirect_uri": REDIRECT})
    assert response.status == 422 and response.body["errors"]
    assert api.request("GET", "/zoom_oauth_connections/not-a-uuid").body["field"] == "uuid"


@contextlib.contextmanager
def obf_token_minted_as(zoom, token: str, user_id: str, meeting_id: str):
    """Zoom mints `token` as the user's OBF token for the meeting (so that the simulated meeting
    can be told which token Zoom issued, as the real meeting would know)."""
    zoom.user_token_value = lambda kind, user, meeting: (
        token if (kind, user, meeting) == ("onbehalf", user_id, meeting_id) else None)
    try:
        yield
    finally:
        zoom.user_token_value = None


def test_a_bot_joins_a_sign_in_meeting_with_an_obf_token_of_the_connected_user(
        platform, zoom_user, simulator, webhooks):
    api = account_api(platform, "zoom obf")
    zoom, client, user_id = zoom_user
    assert api.request("POST", "/zoom_oauth_connections/",
                       body(zoom, client, user_id)).status == 201
    code, token = new_zoom_meeting_id(), f"obf-{uuid.uuid4().hex}"
    simulator.create_meeting(code, platform="zoom", participants=[{"name": "Alice"}],
                             admission={"action": "admit", "after": 0.5}, end_after=8.0,
                             require_sign_in=True, accepted_tokens=[token])
    with obf_token_minted_as(zoom, token, user_id, code):
        joined = api.join(meeting_url=f"https://zoom.us/j/{code}", bot_name="OBF Bot",
                          webhook_url=webhooks.url + "/obf", zoom_obf_token_user_id=user_id)
        assert joined.status == 200, joined.body
        final = webhooks.wait_final(joined.body["bot_id"], timeout=240)
    assert final.body["event"] == "complete", final.body
    guest = simulator.meeting(code)["guests"][0]
    assert guest["authenticated"] is True and guest["token_kind"] == "obf", guest
    minted = [t for t in zoom.issued_user_tokens if t.token == token]
    assert [(t.kind, t.user_id, t.meeting_id) for t in minted] == [("onbehalf", user_id, code)]
    assert all(token not in w.raw.decode() for w in webhooks.for_bot(joined.body["bot_id"]))
    for runner in platform.replicas_of("bot-runner"):
        assert token not in runner.log_path.read_text(errors="replace")


def test_a_bot_whose_connection_is_broken_or_missing_fails_with_a_typed_reason(
        platform, zoom_user, simulator, webhooks):
    api = account_api(platform, "zoom broken")
    zoom, client, user_id = zoom_user
    created = api.request("POST", "/zoom_oauth_connections/", body(zoom, client, user_id))
    assert created.status == 201, created.body
    zoom.revoke_grant(user_id)  # the user removed the app: Zoom refuses its tokens
    for who in (user_id, "zu-never-connected"):
        code = new_zoom_meeting_id()
        simulator.create_meeting(code, platform="zoom", participants=[{"name": "Alice"}],
                                 require_sign_in=True)
        joined = api.join(meeting_url=f"https://zoom.us/j/{code}", bot_name="Locked Out",
                          webhook_url=webhooks.url + "/obf", zoom_obf_token_user_id=who)
        assert joined.status == 200, joined.body
        final = webhooks.wait_final(joined.body["bot_id"], timeout=180)
        data = final.body["data"]
        assert final.body["event"] == "failed", final.body
        assert (data["error"], data["reason"]) == ("CannotJoinMeeting", "sign_in_required"), data
        assert "zoom_obf_token_user_id" in data["message"], data
        assert simulator.meeting(code)["guests"] == [], "the bot never asked to join"
    connection = api.request("GET", f"/zoom_oauth_connections/{created.body['uuid']}").body
    assert connection["state"] == "refresh_failed" and connection["connection_failure_data"]

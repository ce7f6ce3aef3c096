"""Zoom OAuth connections through the API on the real stack, against the Zoom emulator."""

from __future__ import annotations

import uuid

import pytest

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

"""Zoom OAuth connections against the Zoom emulator: the code exchanged, the profile read, the
tokens sealed and refreshed (they rotate), a refused refresh recorded, OBF tokens for a user."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import text

from calendar_sync.providers.zoom import ZoomOAuth
from calendar_sync.zoom_connections import ZoomConnections
from mb_shared.contracts.calendar import (
    CreateZoomConnection,
    DeleteZoomConnection,
    GetZoomConnection,
    ListZoomConnections,
)
from mb_shared.contracts.queries import QueryError
from provider_emulators import BackgroundEmulator, ZoomApp, ZoomOAuthEmulator, ZoomUser

from .conftest import KEYS

REDIRECT = "https://app.acme.test/zoom/callback"


@pytest.fixture
def zoom():
    emulator = ZoomOAuthEmulator(
        apps=[ZoomApp("zoom-client", "zoom-secret", redirect_uris=(REDIRECT,))],
        users=[ZoomUser(id="zu-ada", email="ada@acme.test", account_id="zacct-1")])
    with BackgroundEmulator(emulator.app()) as server:
        yield emulator, server


@pytest.fixture
def connections(sessions, http, zoom):
    _, server = zoom
    client = ZoomOAuth(http, oauth_url=server.base_url, api_url=server.base_url + "/v2",
                       timeout_s=10)
    return ZoomConnections(sessions, client, KEYS)


def create(emulator, code=None, secret="zoom-secret", account_id=1) -> CreateZoomConnection:
    code = code or emulator.issue_code("zoom-client", "zu-ada", REDIRECT)
    return CreateZoomConnection(account_id=account_id, client_id="zoom-client",
                                sealed_client_secret=KEYS.seal(secret),
                                sealed_authorization_code=KEYS.seal(code), redirect_uri=REDIRECT)


async def test_a_code_becomes_a_connection_with_sealed_tokens(connections, zoom, sessions):
    emulator, _ = zoom
    view = await connections.create(create(emulator))
    assert not isinstance(view, QueryError), view
    assert (view.zoom_user_id, view.zoom_account_id, view.state) == ("zu-ada", "zacct-1",
                                                                    "connected")
    assert "user:read:token" in view.scopes
    listed = await connections.list(ListZoomConnections(account_id=1))
    assert [c.uuid for c in listed.connections] == [view.uuid]
    assert (await connections.list(ListZoomConnections(account_id=2))).connections == []
    async with sessions() as session:
        row = (await session.execute(text(
            "SELECT sealed_access_token, sealed_refresh_token FROM zoom_connections"))).one()
    assert all(value.startswith("sealed:") for value in row)
    grant = emulator.grant_for("zu-ada")
    assert KEYS.open(row[1]) == grant.refresh_token


async def test_a_used_code_or_a_wrong_secret_is_refused_naming_the_field(connections, zoom):
    emulator, _ = zoom
    code = emulator.issue_code("zoom-client", "zu-ada", REDIRECT)
    assert not isinstance(await connections.create(create(emulator, code)), QueryError)
    again = await connections.create(create(emulator, code))
    assert (again.status, again.field) == (400, "authorization_code")
    wrong = await connections.create(create(emulator, secret="not-it"))
    assert (wrong.status, wrong.field) == (400, "zoom_client_secret")


async def test_tokens_are_refreshed_and_rotate_and_a_refused_refresh_is_recorded(connections,
                                                                               zoom):
    emulator, _ = zoom
    view = await connections.create(create(emulator))
    first = emulator.grant_for("zu-ada").refresh_token
    emulator.expire_access_tokens()
    emulator.advance_clock(3600)
    token = await connections.obf_token(1, "zu-ada", "81234567890")
    assert isinstance(token, str) and token
    assert emulator.grant_for("zu-ada").refresh_token != first  # rotated, and kept

    emulator.revoke_grant("zu-ada")
    emulator.advance_clock(3600)
    broken = await connections.obf_token(1, "zu-ada", "81234567890")
    assert isinstance(broken, QueryError) and broken.field == "zoom_obf_token_user_id"
    shown = await connections.get(GetZoomConnection(account_id=1, connection_uuid=view.uuid))
    assert shown.state == "refresh_failed" and "revoked" in shown.connection_failure_data["error"]

    fresh = await connections.create(create(emulator))  # the user authorizes again
    assert fresh.uuid == view.uuid and fresh.state == "connected"
    assert isinstance(await connections.obf_token(1, "zu-ada", "81234567890"), str)


async def test_unknown_and_other_accounts_connections_are_not_found(connections, zoom):
    emulator, _ = zoom
    view = await connections.create(create(emulator))
    assert (await connections.get(GetZoomConnection(account_id=2,
                                                    connection_uuid=view.uuid))).status == 404
    assert (await connections.delete(DeleteZoomConnection(account_id=2,
                                                          connection_uuid=view.uuid))).status == 404
    assert (await connections.obf_token(2, "zu-ada", "81234567890")).status == 404
    assert (await connections.get(GetZoomConnection(account_id=1,
                                                    connection_uuid=uuid4()))).status == 404
    assert (await connections.delete(DeleteZoomConnection(account_id=1,
                                                          connection_uuid=view.uuid))).ok
    assert (await connections.list(ListZoomConnections(account_id=1))).connections == []


async def test_zoom_down_is_a_503_and_nothing_is_stored(connections, zoom):
    emulator, _ = zoom
    emulator.down = True
    refused = await connections.create(create(emulator))
    emulator.down = False
    assert refused.status == 503
    assert (await connections.list(ListZoomConnections(account_id=1))).connections == []

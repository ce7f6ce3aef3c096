"""The Zoom OAuth emulator over real HTTP: code exchange, refresh rotation, revocation, the user
API, OBF tokens and the presence rule at join, and the fault knobs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from provider_emulators.common import BackgroundEmulator
from provider_emulators.zoom_oauth import ObfCheck, ZoomApp, ZoomOAuthEmulator, ZoomUser

CLIENT_ID, CLIENT_SECRET = "zoomClientId123", "zoom-client-secret"
REDIRECT = "https://app.example.test/zoom/callback"
ALICE = ZoomUser(
    id="aLiCe0000000000000000A",
    email="alice@example.test",
    first_name="Alice",
    last_name="Archer",
    account_id="acctAlice000000000000A",
)
BOB = ZoomUser(id="bOb00000000000000000000B", email="bob@example.test", first_name="Bob")
MEETING = "85746065432"
TOKEN_KEYS = {"access_token", "token_type", "refresh_token", "expires_in", "scope", "api_url"}


@dataclass
class Zoom:
    emulator: ZoomOAuthEmulator
    base_url: str  # the OAuth base (zoom.us)
    http: aiohttp.ClientSession

    @property
    def api(self) -> str:  # the API base (api.zoom.us/v2)
        return f"{self.base_url}/v2"

    async def token(
        self, form: dict[str, str], *, secret: str = CLIENT_SECRET, basic: bool = True
    ) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
        headers = {}
        if basic:
            pair = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        async with self.http.post(
            f"{self.base_url}/oauth/token", data=form, headers=headers
        ) as response:
            return response.status, await response.json(), response

    async def exchange(self, code: str, **extra: str) -> tuple[int, dict[str, Any]]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
        status, body, _ = await self.token(form)
        return status, body

    async def refresh(self, refresh_token: str) -> tuple[int, dict[str, Any]]:
        status, body, _ = await self.token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        return status, body

    async def connect(self, user: ZoomUser = ALICE) -> dict[str, Any]:
        status, body = await self.exchange(self.emulator.issue_code(CLIENT_ID, user.id, REDIRECT))
        assert status == 200, body
        return body

    async def get(self, path: str, bearer: str | None, **params: str) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        async with self.http.get(f"{self.api}{path}", params=params, headers=headers) as response:
            return response.status, await response.json()


@pytest.fixture
def emulator() -> ZoomOAuthEmulator:
    return ZoomOAuthEmulator(
        apps=[ZoomApp(CLIENT_ID, CLIENT_SECRET, redirect_uris=(REDIRECT,))], users=[ALICE, BOB]
    )


@pytest.fixture
def server(emulator: ZoomOAuthEmulator) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(emulator.app()) as running:
        yield running


@pytest.fixture
async def zoom(emulator: ZoomOAuthEmulator, server: BackgroundEmulator) -> AsyncIterator[Zoom]:
    async with aiohttp.ClientSession() as http:
        yield Zoom(emulator, server.base_url, http)


async def test_a_code_is_exchanged_for_tokens_that_read_the_user(zoom):
    status, body, response = await zoom.token(
        {
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": zoom.emulator.issue_code(CLIENT_ID, ALICE.id, REDIRECT),
        }
    )
    assert status == 200, body
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["scope"].split() == ["user:read:user", "user:read:token", "user:read:zak"]
    assert body["api_url"] == zoom.base_url
    assert response.headers["Cache-Control"] == "no-store"

    status, me = await zoom.get("/users/me", body["access_token"])
    assert status == 200, me
    assert (me["id"], me["email"], me["account_id"]) == (ALICE.id, ALICE.email, ALICE.account_id)
    assert (me["first_name"], me["last_name"], me["display_name"]) == (
        "Alice",
        "Archer",
        "Alice Archer",
    )
    assert me["status"] == "active"
    assert (await zoom.get(f"/users/{ALICE.id}", body["access_token"]))[1]["id"] == ALICE.id

    request = zoom.emulator.token_requests[-1]
    assert (request.grant_type, request.client_id, request.status) == (
        "authorization_code",
        CLIENT_ID,
        200,
    )
    assert "client_secret" not in request.params


async def test_a_code_is_single_use_short_lived_and_bound_to_its_redirect(zoom):
    invalid = {"reason": "Invalid authorization code", "error": "invalid_grant"}
    code = zoom.emulator.issue_code(CLIENT_ID, ALICE.id, REDIRECT)
    assert (await zoom.exchange(code))[0] == 200
    assert await zoom.exchange(code) == (400, invalid)
    assert await zoom.exchange("not-a-code") == (400, invalid)

    other = zoom.emulator.issue_code(CLIENT_ID, ALICE.id, REDIRECT)
    status, body = await zoom.exchange(other, redirect_uri="https://elsewhere.test/cb")
    assert (status, body["error"]) == (400, "invalid_grant")
    assert (await zoom.exchange(other))[0] == 200  # a mismatch does not use the code up

    late = zoom.emulator.issue_code(CLIENT_ID, ALICE.id, REDIRECT)
    zoom.emulator.advance_clock(301)
    assert await zoom.exchange(late) == (
        400,
        {"reason": "Code is expired", "error": "invalid_grant"},
    )


async def test_client_authentication(zoom):
    code = zoom.emulator.issue_code(CLIENT_ID, ALICE.id, REDIRECT)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    status, body, _ = await zoom.token(form, secret="wrong")
    assert (status, body) == (
        400,
        {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
    )
    status, body, _ = await zoom.token(form, basic=False)
    assert (status, body["error"]) == (400, "invalid_client")
    # The credentials may also come as parameters instead of the Basic header.
    status, body, _ = await zoom.token(
        {**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, basic=False
    )
    assert status == 200, body

    status, body, _ = await zoom.token({"grant_type": "password"})
    assert (status, body) == (
        400,
        {"reason": "unsupported grant type", "error": "unsupported_grant_type"},
    )
    status, body, _ = await zoom.token({})
    assert (status, body["error"]) == (400, "invalid_request")


async def test_pkce_verifier_must_match_the_challenge(zoom):
    verifier = "a-long-random-code-verifier-0123456789-abcdefghijklmnop"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    code = zoom.emulator.issue_code(
        CLIENT_ID,
        ALICE.id,
        REDIRECT,
        code_challenge=challenge.decode(),
        code_challenge_method="S256",
    )
    status, body = await zoom.exchange(code, code_verifier="something-else")
    assert (status, body["error"]) == (400, "invalid_grant")
    assert (await zoom.exchange(code, code_verifier=verifier))[0] == 200


async def test_refresh_rotates_and_the_old_refresh_token_is_refused(zoom):
    first = await zoom.connect()
    status, second = await zoom.refresh(first["refresh_token"])
    assert status == 200, second
    assert set(second) == TOKEN_KEYS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert await zoom.refresh(first["refresh_token"]) == (
        400,
        {"reason": "Invalid Token!", "error": "invalid_grant"},
    )
    status, third = await zoom.refresh(second["refresh_token"])
    assert status == 200 and (await zoom.get("/users/me", third["access_token"]))[0] == 200
    assert zoom.emulator.grant_for(ALICE.id, CLIENT_ID).refreshes == 2

    status, body = await zoom.refresh(zoom.emulator.grant_for(ALICE.id).refresh_token + "x")
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_a_revoked_grant_stops_refresh_and_api_calls(zoom):
    tokens = await zoom.connect()
    assert zoom.emulator.revoke_grant(ALICE.id) == 1
    assert await zoom.refresh(tokens["refresh_token"]) == (
        400,
        {"reason": "The token has been revoked.", "error": "invalid_grant"},
    )
    assert await zoom.get("/users/me", tokens["access_token"]) == (
        401,
        {"code": 124, "message": "Invalid access token."},
    )

    # Authorizing again starts a new grant, and a third authorization supersedes the second.
    again = await zoom.connect()
    latest = await zoom.connect()
    assert (await zoom.refresh(again["refresh_token"]))[1]["error"] == "invalid_grant"
    assert (await zoom.refresh(latest["refresh_token"]))[0] == 200


async def test_the_revoke_endpoint_ends_the_grant(zoom):
    tokens = await zoom.connect()
    pair = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    async with zoom.http.post(
        f"{zoom.base_url}/oauth/revoke",
        data={"token": tokens["access_token"]},
        headers={"Authorization": f"Basic {pair}"},
    ) as response:
        assert response.status == 200 and await response.json() == {"status": "success"}
    assert (await zoom.refresh(tokens["refresh_token"]))[1]["error"] == "invalid_grant"


async def test_users_me_refuses_bad_expired_and_misplaced_tokens(zoom):
    tokens = await zoom.connect()
    invalid = (401, {"code": 124, "message": "Invalid access token."})
    assert await zoom.get("/users/me", None) == invalid
    assert await zoom.get("/users/me", "garbage") == invalid
    status, body = await zoom.get("/users/me", None, access_token=tokens["access_token"])
    assert (status, body["code"]) == (401, 124) and "query parameter" in body["message"]
    assert await zoom.get(f"/users/{BOB.id}", tokens["access_token"]) == (
        404,
        {"code": 1001, "message": f"User does not exist: {BOB.id}."},
    )

    assert zoom.emulator.expire_access_tokens(ALICE.id) == 1
    assert await zoom.get("/users/me", tokens["access_token"]) == (
        401,
        {"code": 124, "message": "Access token is expired."},
    )
    status, fresh = await zoom.refresh(tokens["refresh_token"])
    assert (await zoom.get("/users/me", fresh["access_token"]))[0] == 200

    zoom.emulator.advance_clock(3601)
    assert (await zoom.get("/users/me", fresh["access_token"]))[1]["message"] == (
        "Access token is expired."
    )


async def test_scopes_are_checked(zoom):
    zoom.emulator.add_app(
        ZoomApp("narrow", "s", redirect_uris=(REDIRECT,), scopes=("user:read:user",))
    )
    code = zoom.emulator.issue_code("narrow", ALICE.id, REDIRECT)
    pair = base64.b64encode(b"narrow:s").decode()
    async with zoom.http.post(
        f"{zoom.base_url}/oauth/token",
        headers={"Authorization": f"Basic {pair}"},
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    ) as response:
        tokens = await response.json()
    assert tokens["scope"] == "user:read:user"
    assert (await zoom.get("/users/me", tokens["access_token"]))[0] == 200
    status, body = await zoom.get(
        "/users/me/token", tokens["access_token"], type="onbehalf", meeting_id=MEETING
    )
    assert (status, body["code"]) == (400, 4711)
    assert body["message"] == (
        "Invalid access token, does not contain scopes:[user:read:token, user:read:token:admin]."
    )


async def test_obf_tokens_are_minted_and_the_join_needs_the_user_in_the_meeting(zoom):
    access = (await zoom.connect())["access_token"]
    emulator = zoom.emulator

    # Minted while Alice is not in the meeting (as Zoom does); the join is what fails.
    status, body = await zoom.get("/users/me/token", access, type="onbehalf", meeting_id=MEETING)
    assert status == 200 and set(body) == {"token"}
    early = body["token"]
    assert emulator.check_obf(early, MEETING) is ObfCheck.USER_NOT_IN_MEETING

    emulator.join_meeting(ALICE.id, MEETING)
    assert emulator.check_obf(early, "99999999999") is ObfCheck.WRONG_MEETING
    assert emulator.check_obf(early, MEETING) is ObfCheck.OK
    assert emulator.check_obf(early, MEETING) is ObfCheck.ALREADY_USED  # single use

    status, body = await zoom.get(
        f"/users/{ALICE.email}/token", access, type="onbehalf", meeting_id=MEETING
    )
    assert status == 200
    issued = emulator.issued_user_tokens[-1]
    assert (issued.kind, issued.user_id, issued.meeting_id) == ("onbehalf", ALICE.id, MEETING)
    emulator.leave_meeting(ALICE.id, MEETING)
    assert emulator.check_obf(body["token"], MEETING) is ObfCheck.USER_NOT_IN_MEETING
    emulator.join_meeting(ALICE.id, MEETING)
    emulator.advance_clock(2 * 3600 + 1)  # OBF tokens last two hours
    assert emulator.check_obf(body["token"], MEETING) is ObfCheck.EXPIRED
    assert emulator.check_obf("never-issued", MEETING) is ObfCheck.UNKNOWN_TOKEN


async def test_obf_for_a_revoked_grant_cannot_join(zoom):
    access = (await zoom.connect())["access_token"]
    zoom.emulator.join_meeting(ALICE.id, MEETING)
    token = (await zoom.get("/users/me/token", access, type="onbehalf", meeting_id=MEETING))[1][
        "token"
    ]
    zoom.emulator.revoke_grant(ALICE.id)
    assert zoom.emulator.check_obf(token, MEETING) is ObfCheck.GRANT_REVOKED


async def test_obf_requires_presence_knob_refuses_at_the_api(zoom):
    access = (await zoom.connect())["access_token"]
    zoom.emulator.obf_requires_presence = True
    assert await zoom.get("/users/me/token", access, type="onbehalf", meeting_id=MEETING) == (
        404,
        {"code": 3001, "message": f"Meeting does not exist: {MEETING}."},
    )
    zoom.emulator.join_meeting(BOB.id, MEETING)  # the meeting runs, without Alice
    status, body = await zoom.get("/users/me/token", access, type="onbehalf", meeting_id=MEETING)
    assert (status, body) == zoom.emulator.obf_absent_error
    zoom.emulator.join_meeting(ALICE.id, MEETING)
    status, body = await zoom.get("/users/me/token", access, type="onbehalf", meeting_id=MEETING)
    assert status == 200 and zoom.emulator.check_obf(body["token"], MEETING) is ObfCheck.OK


async def test_zak_tokens_and_ttl(zoom):
    access = (await zoom.connect())["access_token"]
    status, body = await zoom.get("/users/me/token", access, type="zak")
    assert status == 200 and body["token"]
    issued = zoom.emulator.issued_user_tokens[-1]
    assert issued.kind == "zak" and issued.meeting_id is None
    status, body = await zoom.get("/users/me/token", access, type="zak", ttl="600")
    assert status == 200
    expires = zoom.emulator.issued_user_tokens[-1].expires_at - zoom.emulator.now()
    assert 590 < expires <= 600
    for bad in ("0", "31536001", "soon"):
        status, body = await zoom.get("/users/me/token", access, type="zak", ttl=bad)
        assert (status, body["code"]) == (400, 300)
    status, body = await zoom.get("/users/me/token", access, type="bogus")
    assert (status, body["code"]) == (400, 300)


async def test_the_consent_page_redirects_with_a_code_and_the_state(zoom):
    zoom.emulator.consenting_user = ALICE.id
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "xyz",
    }
    async with zoom.http.get(
        f"{zoom.base_url}/oauth/authorize", params=query, allow_redirects=False
    ) as response:
        assert response.status == 302
        location = urlsplit(response.headers["Location"])
    assert location._replace(query="").geturl() == REDIRECT
    params = parse_qs(location.query)
    assert params["state"] == ["xyz"]
    assert (await zoom.exchange(params["code"][0]))[0] == 200

    async with zoom.http.get(
        f"{zoom.base_url}/oauth/authorize", params={**query, "client_id": "unknown"}
    ) as response:
        assert response.status == 400 and "4,702" in await response.text()


async def test_down_and_fail_next(zoom):
    tokens = await zoom.connect()
    zoom.emulator.down = True
    async with zoom.http.get(f"{zoom.api}/users/me") as response:
        assert response.status == 503
    async with zoom.http.post(f"{zoom.base_url}/oauth/token", data={}) as response:
        assert response.status == 503
    zoom.emulator.down = False

    zoom.emulator.fail_next = 2
    for _ in range(2):
        async with zoom.http.get(
            f"{zoom.api}/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ) as response:
            assert response.status == 500
    assert (await zoom.get("/users/me", tokens["access_token"]))[0] == 200
    assert [r.status for r in zoom.emulator.requests.matching("GET", "/v2/users/me")] == [
        503,
        500,
        500,
        200,
    ]
    assert (
        zoom.emulator.requests.matching("GET", "/v2/users/me")[-1].api_key
        == (tokens["access_token"])
    )

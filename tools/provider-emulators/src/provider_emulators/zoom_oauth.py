"""Local emulator of Zoom's OAuth for user-managed apps and the user APIs a meeting bot needs.

Zoom has two hosts; this emulator serves both on one origin:

* ``https://zoom.us`` (the OAuth base): ``GET /oauth/authorize``, ``POST /oauth/token``
  (``authorization_code`` and ``refresh_token`` grants), ``POST /oauth/revoke``;
* ``https://api.zoom.us/v2`` (the API base, ``<origin>/v2``): ``GET /v2/users/me`` (and
  ``/v2/users/{userId}`` for the token's own user), ``GET /v2/users/{userId}/token`` with
  ``type=onbehalf`` (OBF, optional ``meeting_id``), ``type=zak`` or ``type=token``, and ``ttl``.

Followed from Zoom's developer documentation (developers.zoom.us): *OAuth 2.0* (user
authorization, PKCE, request and refresh an access token; refresh tokens rotate, the latest one
must be used), *OAuth error messages* (4702/4704, 4705, 4706, 4709, 4733, 4734, 4741), *Access
token change FAQ* (tokens only in the ``Authorization`` header, error 124), the Users API *Get a
user's token*, *Join external meetings as a bot (OBF)* and *FAQ - Updates to Meeting SDK
authorization* (``user:read:token`` scope; OBF tokens last 2 hours, ``ttl`` up to a year; the
authorizing user must already be in the meeting for the bot's join to succeed). Where the
documentation names an error but not the JSON, the shapes are those Zoom is seen answering:
``{"reason", "error"}`` from the token endpoint, ``{"code", "message"}`` from the API.

The presence rule is enforced where Zoom documents it, at join: :meth:`ZoomOAuthEmulator.check_obf`
answers what the Meeting SDK would (``MEETING_FAIL_AUTHORIZED_USER_NOT_INMEETING`` when the user
is not in the meeting). The token API itself mints OBF tokens for an absent user, as Zoom's does;
set ``obf_requires_presence`` to have it refuse instead.

Everything else (users, apps, who is in which meeting, the clock) is driven from Python; nothing
here calls out. Only the user-managed app flows are emulated (no ``account_credentials``,
``client_credentials`` or device grants).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from provider_emulators.common import RequestLog, log_middleware

#: What a new app is granted when no scopes are given (Zoom's granular scopes for reading the
#: user's profile, OBF tokens and ZAKs).
DEFAULT_SCOPES = ("user:read:user", "user:read:token", "user:read:zak")

#: Scopes any one of which lets a token read its own user (granular, then classic names).
USER_READ_SCOPES = ("user:read:user", "user:read:user:admin", "user:read", "user:read:admin")
#: Scopes for ``GET /users/{userId}/token``, by ``type``. OBF needs ``user:read:token``.
TOKEN_SCOPES: dict[str, tuple[str, ...]] = {
    "onbehalf": ("user:read:token", "user:read:token:admin"),
    "zak": (
        "user:read:zak",
        "user:read:zak:admin",
        "user:read:token",
        "user:read:token:admin",
        "user_zak:read",
        "user:read",
        "user:read:admin",
    ),
    "token": ("user:read:token", "user:read:token:admin", "user:read", "user:read:admin"),
}

MAX_USER_TOKEN_TTL = 365 * 24 * 3600  # "up to a maximum of one year"
DEFAULT_USER_TOKEN_TTL = {"onbehalf": 2 * 3600, "zak": 2 * 3600, "token": 14 * 24 * 3600}


def _secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def _meeting_key(meeting_id: str | int) -> str:
    return str(meeting_id).replace(" ", "")


# --------------------------------------------------------------------------------------------
# The world: apps, users, grants, tokens
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoomApp:
    """A user-managed OAuth app as registered on the Zoom App Marketplace."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...] = DEFAULT_SCOPES


@dataclass(frozen=True)
class ZoomUser:
    """A Zoom user who can authorize apps. ``profile()`` is what ``GET /users/me`` answers."""

    id: str
    email: str
    first_name: str = "Test"
    last_name: str = "User"
    account_id: str = "emulatedAccount000000A"
    display_name: str | None = None
    type: int = 2  # 1 basic, 2 licensed
    status: str = "active"
    role_name: str = "Member"
    timezone: str = "UTC"
    pmi: int = 0
    created_at: str = "2024-01-01T00:00:00Z"

    def profile(self) -> dict[str, Any]:
        pmi = (
            self.pmi
            or int(hashlib.sha256(self.id.encode()).hexdigest(), 16) % 9_000_000_000 + 1_000_000_000
        )
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "display_name": self.display_name or f"{self.first_name} {self.last_name}".strip(),
            "email": self.email,
            "type": self.type,
            "role_name": self.role_name,
            "pmi": pmi,
            "use_pmi": False,
            "personal_meeting_url": f"https://zoom.us/j/{pmi}",
            "timezone": self.timezone,
            "verified": 1,
            "dept": "",
            "created_at": self.created_at,
            "user_created_at": self.created_at,
            "last_login_time": self.created_at,
            "pic_url": "",
            "language": "en-US",
            "phone_number": "",
            "status": self.status,
            "role_id": "2",
            "account_id": self.account_id,
            "account_number": int(hashlib.sha256(self.account_id.encode()).hexdigest(), 16) % 10**8,
            "cluster": "us01",
            "jid": f"{self.id.lower()}@xmpp.zoom.us",
            "login_types": [100],
        }


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


@dataclass
class Grant:
    """One user's authorization of one app. Re-authorizing replaces it (the old one is revoked)."""

    id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    refresh_token: str
    refresh_expires_at: float
    created_at: float
    revoked: bool = False
    refreshes: int = 0


@dataclass
class AccessToken:
    token: str
    grant_id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class UserToken:
    """A token from ``GET /users/{userId}/token``: an OBF token, a ZAK or a (deprecated) token."""

    token: str
    kind: str  # "onbehalf" | "zak" | "token"
    user_id: str
    client_id: str
    grant_id: str
    meeting_id: str | None
    expires_at: float
    used: bool = False


@dataclass(frozen=True)
class TokenRequest:
    """A call to ``POST /oauth/token`` (test record; the client secret is left out)."""

    grant_type: str | None
    client_id: str | None
    params: dict[str, str]
    status: int
    error: str | None
    at: float


class ObfCheck(StrEnum):
    """What the Meeting SDK's join would say about an OBF token (see :meth:`check_obf`)."""

    OK = "ok"
    UNKNOWN_TOKEN = "unknown_token"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    WRONG_MEETING = "wrong_meeting"
    GRANT_REVOKED = "grant_revoked"
    USER_NOT_IN_MEETING = "authorized_user_not_in_meeting"


class OAuthError(Exception):
    """An error answered by the OAuth endpoints as ``{"reason": ..., "error": ...}``."""

    def __init__(self, error: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.error, self.reason, self.status = error, reason, status


class ApiError(Exception):
    """An error answered by the REST API as ``{"code": ..., "message": ...}``."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _oauth_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class ZoomOAuthEmulator:
    """Zoom OAuth (user-managed apps) and the user token API on one aiohttp application.

    Serve it with ``BackgroundEmulator(emulator.app())``; its state lives on this object and is
    safe to drive from the test's thread. The OAuth base URL is the server's origin, the API
    base URL is ``<origin>/v2``.

    Knobs (plain attributes, changeable while the server runs):

    * ``down``: every request is answered 503;
    * ``fail_next``: the next N requests are answered 500 (counts down);
    * ``code_ttl`` (300 s), ``access_token_ttl`` (3600 s), ``refresh_token_ttl`` (90 days);
    * ``obf_requires_presence``: the token API refuses an OBF token for a user who is not in
      the meeting (404 ``3001`` for a meeting nobody is in, ``obf_absent_error`` otherwise);
    * ``consenting_user``: the user id ``GET /oauth/authorize`` consents as (None: refuse);
    * ``user_token_value``: ``(kind, user_id, meeting_id) -> str | None``, the value of the next
      token ``GET /users/{userId}/token`` mints (None: a random one), so that a test can tell the
      simulated meeting which token Zoom will have issued.

    Records: ``requests`` (a :class:`~provider_emulators.common.RequestLog`; ``api_key`` is the
    client id on ``/oauth`` paths and the bearer token on ``/v2``), ``token_requests``,
    ``issued_user_tokens``, ``grants``.
    """

    def __init__(
        self,
        *,
        apps: Iterable[ZoomApp] = (),
        users: Iterable[ZoomUser] = (),
        code_ttl: float = 300.0,
        access_token_ttl: float = 3600.0,
        refresh_token_ttl: float = 90 * 24 * 3600.0,
        obf_requires_presence: bool = False,
        down: bool = False,
        fail_next: int = 0,
    ) -> None:
        self._lock = threading.RLock()
        self.apps: dict[str, ZoomApp] = {}
        self.users: dict[str, ZoomUser] = {}
        for app in apps:
            self.add_app(app)
        for user in users:
            self.add_user(user)
        self.code_ttl = code_ttl
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.obf_requires_presence = obf_requires_presence
        #: (HTTP status, body) when ``obf_requires_presence`` refuses a user who is not in the
        #: meeting. Zoom documents no REST error for this; this default is the emulator's own.
        self.obf_absent_error: tuple[int, dict[str, Any]] = (
            400,
            {"code": 300, "message": "The user is not in the meeting."},
        )
        self.consenting_user: str | None = None
        self.user_token_value: Callable[[str, str, str | None], str | None] | None = None
        self.down = down
        self.fail_next = fail_next
        self.requests = RequestLog()
        self.grants: dict[str, Grant] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, str] = {}  # current refresh token -> grant id
        self._user_tokens: dict[str, UserToken] = {}
        self._meetings: dict[str, set[str]] = {}  # meeting id -> ids of users in it
        self._token_requests: list[TokenRequest] = []
        self._clock_offset = 0.0

    # -- control API (test-only) ---------------------------------------------------------------

    def add_app(self, app: ZoomApp) -> ZoomApp:
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def add_user(self, user: ZoomUser) -> ZoomUser:
        with self._lock:
            self.users[user.id] = user
        return user

    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward (codes and tokens expire by it)."""
        with self._lock:
            self._clock_offset += seconds

    def issue_code(
        self,
        client_id: str,
        user_id: str,
        redirect_uri: str,
        *,
        scopes: Iterable[str] | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        """The code Zoom's consent page would redirect with after ``user_id`` authorized the app.

        ``scopes`` defaults to the app's; ``code_challenge_method`` defaults to ``plain`` when
        a challenge is given (``S256`` or ``plain``)."""
        with self._lock:
            app = self.apps.get(client_id)
            if app is None:
                raise KeyError(f"no app with client_id {client_id!r}")
            if user_id not in self.users:
                raise KeyError(f"no user {user_id!r}")
            if redirect_uri not in app.redirect_uris:
                raise ValueError(f"{redirect_uri!r} is not one of the app's redirect URLs")
            method = None
            if code_challenge is not None:
                method = code_challenge_method or "plain"
                if method not in ("plain", "S256"):
                    raise ValueError("code_challenge_method is S256 or plain")
            code = AuthorizationCode(
                code=_secret(24),
                client_id=client_id,
                user_id=user_id,
                redirect_uri=redirect_uri,
                scopes=tuple(scopes) if scopes is not None else app.scopes,
                expires_at=self.now() + self.code_ttl,
                code_challenge=code_challenge,
                code_challenge_method=method,
            )
            self._codes[code.code] = code
            return code.code

    def grant_for(self, user_id: str, client_id: str | None = None) -> Grant | None:
        """The user's live grant (for ``client_id``, or for any app), if any."""
        with self._lock:
            for grant in reversed(list(self.grants.values())):
                if (
                    grant.user_id == user_id
                    and not grant.revoked
                    and (client_id is None or grant.client_id == client_id)
                ):
                    return grant
            return None

    def revoke_grant(self, user_id: str, client_id: str | None = None) -> int:
        """The user removes the app(s) from their account: refresh tokens then get
        ``invalid_grant`` and access tokens ``124``. Returns how many grants were revoked."""
        with self._lock:
            revoked = 0
            for grant in self.grants.values():
                if (
                    grant.user_id == user_id
                    and not grant.revoked
                    and (client_id is None or grant.client_id == client_id)
                ):
                    grant.revoked = True
                    revoked += 1
            return revoked

    def expire_access_tokens(self, user_id: str | None = None) -> int:
        """Every access token (of ``user_id``) expires now; refresh tokens are untouched."""
        with self._lock:
            now = self.now()
            expired = 0
            for access in self._access.values():
                if (user_id is None or access.user_id == user_id) and access.expires_at > now:
                    access.expires_at = now
                    expired += 1
            return expired

    def start_meeting(self, meeting_id: str | int) -> None:
        with self._lock:
            self._meetings.setdefault(_meeting_key(meeting_id), set())

    def end_meeting(self, meeting_id: str | int) -> None:
        with self._lock:
            self._meetings.pop(_meeting_key(meeting_id), None)

    def join_meeting(self, user_id: str, meeting_id: str | int) -> None:
        """``user_id`` is now in the meeting (the meeting starts if it had not)."""
        with self._lock:
            if user_id not in self.users:
                raise KeyError(f"no user {user_id!r}")
            self._meetings.setdefault(_meeting_key(meeting_id), set()).add(user_id)

    def leave_meeting(self, user_id: str, meeting_id: str | int) -> None:
        with self._lock:
            self._meetings.get(_meeting_key(meeting_id), set()).discard(user_id)

    def is_in_meeting(self, user_id: str, meeting_id: str | int) -> bool:
        with self._lock:
            return user_id in self._meetings.get(_meeting_key(meeting_id), set())

    def check_obf(self, token: str, meeting_id: str | int, *, consume: bool = True) -> ObfCheck:
        """What a Meeting SDK join to ``meeting_id`` with this OBF token would meet.

        ``OK`` only when the token is one the API issued, unexpired, unused, minted for this
        meeting (or for none), its grant is still live, and its user is in the meeting right
        now. OBF tokens are single-use: an ``OK`` check with ``consume`` uses the token up."""
        with self._lock:
            issued = self._user_tokens.get(token)
            if issued is None or issued.kind != "onbehalf":
                return ObfCheck.UNKNOWN_TOKEN
            if issued.expires_at <= self.now():
                return ObfCheck.EXPIRED
            if issued.used:
                return ObfCheck.ALREADY_USED
            key = _meeting_key(meeting_id)
            if issued.meeting_id is not None and issued.meeting_id != key:
                return ObfCheck.WRONG_MEETING
            grant = self.grants.get(issued.grant_id)
            if grant is None or grant.revoked:
                return ObfCheck.GRANT_REVOKED
            if issued.user_id not in self._meetings.get(key, set()):
                return ObfCheck.USER_NOT_IN_MEETING
            if consume:
                issued.used = True
            return ObfCheck.OK

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._token_requests)

    @property
    def issued_user_tokens(self) -> list[UserToken]:
        """Every OBF token, ZAK and token the API issued, oldest first."""
        with self._lock:
            return list(self._user_tokens.values())

    # -- application ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        """A fresh aiohttp application serving this emulator (its state lives on ``self``)."""
        app = web.Application(
            middlewares=[log_middleware(self.requests, self._key_of), self._faults]
        )
        app.router.add_get("/oauth/authorize", self._authorize)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/oauth/revoke", self._revoke)
        app.router.add_get("/v2/users/{user_id}", self._get_user)
        app.router.add_get("/v2/users/{user_id}/token", self._get_user_token)
        return app

    def _key_of(self, request: web.Request) -> str | None:
        if request.path.startswith("/oauth/"):
            basic = self._basic_credentials(request)
            return basic[0] if basic else None
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None

    @web.middleware
    async def _faults(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        with self._lock:
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
        if failing:
            return web.Response(status=500, text="Internal Server Error")
        try:
            return await handler(request)
        except OAuthError as exc:
            return _oauth_response({"reason": exc.reason, "error": exc.error}, exc.status)
        except ApiError as exc:
            body = {"code": exc.code, "message": exc.message, **exc.extra}
            return web.json_response(body, status=exc.status)

    # -- OAuth: client authentication ----------------------------------------------------------

    @staticmethod
    def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value.strip():
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, colon, client_secret = decoded.partition(":")
        return (client_id, client_secret) if colon else None

    def _client(self, request: web.Request, form: Any) -> ZoomApp:
        """The app the request authenticates as: Basic header, else client_id/client_secret
        parameters (Zoom's 4706 reads "missing either in the header or in the request
        parameter")."""
        credentials = self._basic_credentials(request)
        if credentials is None:
            client_id = form.get("client_id") or request.query.get("client_id")
            client_secret = form.get("client_secret") or request.query.get("client_secret")
            if not client_id or not client_secret:
                raise OAuthError("invalid_client", "Client ID or client secret is missing.")
            credentials = (str(client_id), str(client_secret))
        app = self.apps.get(credentials[0])
        if app is None or not secrets.compare_digest(
            app.client_secret.encode(), credentials[1].encode()
        ):
            raise OAuthError("invalid_client", "Invalid client_id or client_secret")
        return app

    # -- OAuth: the consent page ---------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        """Zoom's consent page, already signed in as ``consenting_user`` who clicks Allow."""
        query = request.query
        app = self.apps.get(query.get("client_id", ""))
        if app is None:
            return web.Response(
                status=400, text=f"Invalid client_id: {query.get('client_id')} (4,702)"
            )
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            return web.Response(status=400, text="Redirect URI mismatch. (4,709)")
        if query.get("response_type") != "code":
            return web.Response(status=400, text="Invalid response_type.")
        if self.consenting_user not in self.users:
            return web.Response(status=403, text="No Zoom user is signed in to give consent.")
        try:
            code = self.issue_code(
                app.client_id,
                self.consenting_user,
                redirect_uri,
                code_challenge=query.get("code_challenge"),
                code_challenge_method=query.get("code_challenge_method"),
            )
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))
        extra = {"code": code}
        if "state" in query:
            extra["state"] = query["state"]
        parts = urlsplit(redirect_uri)
        joined = "&".join(q for q in (parts.query, urlencode(extra)) if q)
        raise web.HTTPFound(urlunsplit(parts._replace(query=joined)))

    # -- OAuth: the token endpoint -------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        grant_type = form.get("grant_type") or request.query.get("grant_type")
        client_id: str | None = None
        params = {k: str(v) for k, v in {**request.query, **form}.items() if k != "client_secret"}
        status, error = 200, None
        try:
            app = self._client(request, form)
            client_id = app.client_id
            with self._lock:
                if not grant_type:
                    raise OAuthError("invalid_request", "Missing grant type.")
                if grant_type == "authorization_code":
                    body = self._exchange_code(request, app, form)
                elif grant_type == "refresh_token":
                    body = self._refresh_grant(request, app, form)
                else:
                    raise OAuthError("unsupported_grant_type", "unsupported grant type")
            return _oauth_response(body)
        except OAuthError as exc:
            status, error = exc.status, exc.error
            raise
        finally:
            if client_id is None:
                basic = self._basic_credentials(request)
                client_id = basic[0] if basic else params.get("client_id")
            record = TokenRequest(
                grant_type=str(grant_type) if grant_type else None,
                client_id=client_id,
                params=params,
                status=status,
                error=error,
                at=self.now(),
            )
            with self._lock:
                self._token_requests.append(record)

    def _exchange_code(self, request: web.Request, app: ZoomApp, form: Any) -> dict[str, Any]:
        code_value = form.get("code") or request.query.get("code")
        if not code_value:
            raise OAuthError("invalid_request", "Missing code.")
        code = self._codes.get(str(code_value))
        if code is None or code.used or code.client_id != app.client_id:
            raise OAuthError("invalid_grant", "Invalid authorization code")
        if code.expires_at <= self.now():
            raise OAuthError("invalid_grant", "Code is expired")
        redirect_uri = form.get("redirect_uri") or request.query.get("redirect_uri")
        if redirect_uri != code.redirect_uri:
            raise OAuthError("invalid_grant", "Redirect URI mismatch.")
        if code.code_challenge is not None:
            verifier = str(form.get("code_verifier") or request.query.get("code_verifier") or "")
            if code.code_challenge_method == "S256":
                digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                expected = verifier
            if not verifier or not secrets.compare_digest(
                expected.encode(), code.code_challenge.encode()
            ):
                raise OAuthError("invalid_grant", "Invalid code verifier.")
        code.used = True
        # "With multiple authorizations, the last token issued is considered valid, and the
        # previous ones are invalidated" (4741).
        for old in self.grants.values():
            if old.client_id == app.client_id and old.user_id == code.user_id:
                old.revoked = True
        now = self.now()
        grant = Grant(
            id=_secret(12),
            client_id=app.client_id,
            user_id=code.user_id,
            scopes=code.scopes,
            refresh_token=_secret(),
            refresh_expires_at=now + self.refresh_token_ttl,
            created_at=now,
        )
        self.grants[grant.id] = grant
        self._refresh[grant.refresh_token] = grant.id
        return self._token_body(request, grant)

    def _refresh_grant(self, request: web.Request, app: ZoomApp, form: Any) -> dict[str, Any]:
        # Refresh tokens are read from the body only: Zoom stopped taking token values in URL
        # query strings in February 2023.
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise OAuthError("invalid_request", "Missing refresh token.")
        grant = self.grants.get(self._refresh.get(str(refresh_token), ""))
        if grant is None or grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", "Invalid Token!")
        if grant.revoked:
            raise OAuthError("invalid_grant", "The token has been revoked.")
        if grant.refresh_expires_at <= self.now():
            raise OAuthError("invalid_grant", "Invalid Token!")
        # Rotation: the refresh token just used is dead; the new one must be used next time.
        del self._refresh[grant.refresh_token]
        grant.refresh_token = _secret()
        grant.refresh_expires_at = self.now() + self.refresh_token_ttl
        grant.refreshes += 1
        self._refresh[grant.refresh_token] = grant.id
        return self._token_body(request, grant)

    def _token_body(self, request: web.Request, grant: Grant) -> dict[str, Any]:
        access = AccessToken(
            token=_secret(),
            grant_id=grant.id,
            client_id=grant.client_id,
            user_id=grant.user_id,
            scopes=grant.scopes,
            expires_at=self.now() + self.access_token_ttl,
        )
        self._access[access.token] = access
        return {
            "access_token": access.token,
            "token_type": "bearer",
            "refresh_token": grant.refresh_token,
            "expires_in": int(self.access_token_ttl),
            "scope": " ".join(grant.scopes),
            "api_url": f"{request.scheme}://{request.host}",
        }

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        """``POST /oauth/revoke`` with ``token`` (an access or refresh token): the grant is gone."""
        form = await request.post()
        app = self._client(request, form)
        token = str(form.get("token") or "")
        with self._lock:
            access = self._access.get(token)
            grant_id = access.grant_id if access else self._refresh.get(token)
            grant = self.grants.get(grant_id or "")
            if grant is not None and grant.client_id == app.client_id:
                grant.revoked = True
        return _oauth_response({"status": "success"})

    # -- the REST API --------------------------------------------------------------------------

    def _bearer(self, request: web.Request, needs: tuple[str, ...]) -> AccessToken:
        if "access_token" in request.query:
            raise ApiError(
                401,
                124,
                "Invalid access token, this access token is not supported as query parameter string.",
            )
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        with self._lock:
            access = self._access.get(token)
            grant = self.grants.get(access.grant_id) if access else None
            if access is None or grant is None or grant.revoked:
                raise ApiError(401, 124, "Invalid access token.")
            if access.expires_at <= self.now():
                raise ApiError(401, 124, "Access token is expired.")
            if not set(needs) & set(access.scopes):
                raise ApiError(
                    400,
                    4711,
                    f"Invalid access token, does not contain scopes:[{', '.join(needs)}].",
                )
            return access

    def _target_user(self, access: AccessToken, user_id: str) -> ZoomUser:
        """A user-managed app's token sees only its own user (``me``, the id or the email)."""
        owner = self.users[access.user_id]
        if user_id == "me" or user_id == owner.id or user_id.lower() == owner.email.lower():
            return owner
        raise ApiError(404, 1001, f"User does not exist: {user_id}.")

    async def _get_user(self, request: web.Request) -> web.StreamResponse:
        access = self._bearer(request, USER_READ_SCOPES)
        user = self._target_user(access, request.match_info["user_id"])
        return web.json_response(user.profile())

    async def _get_user_token(self, request: web.Request) -> web.StreamResponse:
        kind = request.query.get("type", "token")
        if kind not in TOKEN_SCOPES:
            raise ApiError(
                400,
                300,
                "Validation Failed.",
                errors=[{"field": "type", "message": "Invalid field."}],
            )
        access = self._bearer(request, TOKEN_SCOPES[kind])
        user = self._target_user(access, request.match_info["user_id"])
        ttl = DEFAULT_USER_TOKEN_TTL[kind]
        if "ttl" in request.query:
            try:
                ttl = int(request.query["ttl"])
            except ValueError:
                ttl = 0
            if not 0 < ttl <= MAX_USER_TOKEN_TTL:
                raise ApiError(
                    400,
                    300,
                    "Validation Failed.",
                    errors=[{"field": "ttl", "message": "Invalid field."}],
                )
        meeting_id = request.query.get("meeting_id")
        meeting_key = _meeting_key(meeting_id) if meeting_id else None
        with self._lock:
            if kind == "onbehalf" and self.obf_requires_presence:
                if meeting_key is None:
                    raise ApiError(
                        400,
                        300,
                        "Validation Failed.",
                        errors=[{"field": "meeting_id", "message": "Required field."}],
                    )
                if meeting_key not in self._meetings:
                    raise ApiError(404, 3001, f"Meeting does not exist: {meeting_key}.")
                if user.id not in self._meetings[meeting_key]:
                    status, body = self.obf_absent_error
                    return web.json_response(body, status=status)
            chosen = (self.user_token_value(kind, user.id, meeting_key)
                      if self.user_token_value else None)
            issued = UserToken(
                token=chosen or _secret(48),
                kind=kind,
                user_id=user.id,
                client_id=access.client_id,
                grant_id=access.grant_id,
                meeting_id=meeting_key if kind == "onbehalf" else None,
                expires_at=self.now() + ttl,
            )
            self._user_tokens[issued.token] = issued
        return web.json_response({"token": issued.token})

"""Zoom OAuth connections: a Zoom user authorized the customer's Zoom app; the code is exchanged
for tokens, the user's profile read, the tokens kept sealed and refreshed before they expire
(Zoom rotates refresh tokens: the newest replaces the old in the same transaction). A refresh Zoom
refuses marks the connection `refresh_failed`, with Zoom's answer in `connection_failure_data`:
the user must authorize the app again, which replaces the connection's tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from calendar_sync.models import CONNECTED, REFRESH_FAILED, ZoomConnection
from calendar_sync.providers.base import CredentialsRefused, ProviderError, ProviderUnavailable
from calendar_sync.providers.zoom import AccessTokenRefused, ZoomOAuth, ZoomTokens
from mb_shared.contracts.calendar import (
    CreateZoomConnection,
    DeleteZoomConnection,
    GetZoomConnection,
    GetZoomObfToken,
    ListZoomConnections,
    SealedObfToken,
    ZoomConnectionList,
    ZoomConnectionView,
)
from mb_shared.contracts.queries import OkReply, QueryError
from mb_shared.database import session_scope
from mb_shared.secrets import KeyRing, SecretError, seal_for

REFRESH_MARGIN = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


def _not_found(connection_uuid: UUID) -> QueryError:
    return QueryError(status=404, code="ConnectionNotFound",
                      message=f"uuid: no Zoom OAuth connection {connection_uuid}", field="uuid")


def _view(connection: ZoomConnection) -> ZoomConnectionView:
    return ZoomConnectionView(
        uuid=connection.uuid, zoom_user_id=connection.zoom_user_id,
        zoom_account_id=connection.zoom_account_id, scopes=connection.scopes,
        state=connection.state, connection_failure_data=connection.connection_failure_data,
        created_at=connection.created_at, updated_at=connection.updated_at)


class ZoomConnections:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], zoom: ZoomOAuth,
                 key_ring: KeyRing, *, clock: Callable[[], datetime] = _now) -> None:
        self._sessions = sessions
        self._zoom = zoom
        self._keys = key_ring
        self._clock = clock

    def _seal_tokens(self, connection: ZoomConnection, tokens: ZoomTokens) -> None:
        connection.sealed_access_token = self._keys.seal(tokens.access_token)
        connection.sealed_refresh_token = self._keys.seal(tokens.refresh_token)
        connection.access_expires_at = tokens.expires_at
        connection.scopes = tokens.scopes or connection.scopes

    async def create(self, query: CreateZoomConnection) -> ZoomConnectionView | QueryError:
        secret = self._keys.open(query.sealed_client_secret)
        try:
            tokens = await self._zoom.exchange_code(
                query.client_id, secret, self._keys.open(query.sealed_authorization_code),
                query.redirect_uri)
            profile = await self._zoom.me(tokens.access_token)
        except CredentialsRefused as exc:
            return QueryError(status=400, code="InvalidZoomAuthorization",
                              message=f"{exc.field}: {exc}", field=exc.field)
        except ProviderError as exc:
            status = 503 if isinstance(exc, ProviderUnavailable) else 502
            return QueryError(status=status, code="ZoomUnavailable", message=str(exc))
        now = self._clock()
        async with session_scope(self._sessions) as session:
            connection = (await session.exec(select(ZoomConnection).where(
                ZoomConnection.account_id == query.account_id,
                ZoomConnection.zoom_user_id == str(profile["id"])).with_for_update())).first()
            if connection is None:
                connection = ZoomConnection(
                    uuid=uuid.uuid4(), account_id=query.account_id,
                    zoom_user_id=str(profile["id"]), client_id=query.client_id,
                    sealed_client_secret=query.sealed_client_secret, sealed_access_token="",
                    sealed_refresh_token="", access_expires_at=now, created_at=now,
                    updated_at=now)
                session.add(connection)
            connection.zoom_account_id = profile.get("account_id")
            connection.client_id = query.client_id
            connection.sealed_client_secret = query.sealed_client_secret
            connection.state, connection.connection_failure_data = CONNECTED, None
            connection.updated_at = now
            self._seal_tokens(connection, tokens)
            return _view(connection)

    async def get(self, query: GetZoomConnection) -> ZoomConnectionView | QueryError:
        async with self._sessions() as session:
            connection = await session.get(ZoomConnection, query.connection_uuid)
        if connection is None or connection.account_id != query.account_id:
            return _not_found(query.connection_uuid)
        return _view(connection)

    async def list(self, query: ListZoomConnections) -> ZoomConnectionList:
        async with self._sessions() as session:
            rows = (await session.exec(select(ZoomConnection).where(
                ZoomConnection.account_id == query.account_id).order_by(
                    ZoomConnection.created_at))).all()
        return ZoomConnectionList(connections=[_view(c) for c in rows])

    async def delete(self, query: DeleteZoomConnection) -> OkReply | QueryError:
        async with session_scope(self._sessions) as session:
            connection = await session.get(ZoomConnection, query.connection_uuid)
            if connection is None or connection.account_id != query.account_id:
                return _not_found(query.connection_uuid)
            await session.delete(connection)
        return OkReply()

    async def access_token(self, account_id: int, zoom_user_id: str, *,
                           refresh: bool = False) -> str | QueryError:
        """A valid access token of the account's connection for the user, refreshed first when
        it is about to expire or `refresh` says Zoom refused it (one refresh at a time: the row
        is locked meanwhile)."""
        async with session_scope(self._sessions) as session:
            connection = (await session.exec(select(ZoomConnection).where(
                ZoomConnection.account_id == account_id,
                ZoomConnection.zoom_user_id == zoom_user_id).with_for_update())).first()
            if connection is None:
                return QueryError(status=404, code="ZoomConnectionNotFound",
                                  message=f"zoom_obf_token_user_id: no Zoom OAuth connection "
                                          f"for user {zoom_user_id}",
                                  field="zoom_obf_token_user_id")
            if connection.state != CONNECTED:
                return QueryError(status=409, code="ZoomConnectionBroken",
                                  message="zoom_obf_token_user_id: the user's Zoom connection "
                                          "failed to refresh; the user must authorize the app "
                                          "again", field="zoom_obf_token_user_id")
            now = self._clock()
            if not refresh and connection.access_expires_at > now + REFRESH_MARGIN:
                return self._keys.open(connection.sealed_access_token)
            try:
                tokens = await self._zoom.refresh(
                    connection.client_id, self._keys.open(connection.sealed_client_secret),
                    self._keys.open(connection.sealed_refresh_token))
            except ProviderUnavailable as exc:
                return QueryError(status=503, code="ZoomUnavailable", message=str(exc))
            except CredentialsRefused as exc:
                connection.state = REFRESH_FAILED
                connection.connection_failure_data = {"error": str(exc),
                                                      "failed_at": now.isoformat()}
                connection.updated_at = now
                return QueryError(status=409, code="ZoomConnectionBroken",
                                  message=f"zoom_obf_token_user_id: Zoom refused to refresh the "
                                          f"user's tokens ({exc})",
                                  field="zoom_obf_token_user_id")
            self._seal_tokens(connection, tokens)
            connection.updated_at = now
            return tokens.access_token

    async def obf_token(self, account_id: int, zoom_user_id: str,
                        meeting_id: str) -> str | QueryError:
        """An On-Behalf-Of token for the user and meeting; a token Zoom refuses before its time
        is refreshed once and the request made again."""
        for refresh in (False, True):
            token = await self.access_token(account_id, zoom_user_id, refresh=refresh)
            if isinstance(token, QueryError):
                return token
            try:
                return await self._zoom.obf_token(token, zoom_user_id, meeting_id)
            except AccessTokenRefused:
                continue
            except ProviderError as exc:
                return QueryError(status=503, code="ZoomUnavailable", message=str(exc))
        return QueryError(status=503, code="ZoomUnavailable",
                          message="Zoom refused a freshly refreshed access token")

    async def sealed_obf_token(self, query: GetZoomObfToken) -> SealedObfToken | QueryError:
        """`obf_token` for the bot-runner, sealed to the one-time key it asked with."""
        token = await self.obf_token(query.account_id, query.zoom_user_id, query.meeting_id)
        if isinstance(token, QueryError):
            return token
        try:
            return SealedObfToken(sealed_token=seal_for(query.recipient_key, token))
        except SecretError as exc:
            return QueryError(status=400, code="BadRecipientKey", message=str(exc),
                              field="recipient_key")

"""`mb-calendar-sync rotate-secrets`: every stored OAuth client secret, refresh token and Zoom
token sealed again with the newest key of MB_SECRET_KEYS (the older keys may then be retired)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from calendar_sync.models import Calendar, ZoomConnection
from mb_shared.database import session_scope
from mb_shared.secrets import KeyRing


async def reseal_secrets(sessions: async_sessionmaker[AsyncSession], key_ring: KeyRing) -> int:
    count = 0
    async with session_scope(sessions) as session:
        for calendar in (await session.exec(select(Calendar).with_for_update())).all():
            calendar.sealed_client_secret = key_ring.reseal(calendar.sealed_client_secret)
            calendar.sealed_refresh_token = key_ring.reseal(calendar.sealed_refresh_token)
            session.add(calendar)
            count += 2
        for connection in (await session.exec(select(ZoomConnection).with_for_update())).all():
            connection.sealed_client_secret = key_ring.reseal(connection.sealed_client_secret)
            connection.sealed_access_token = key_ring.reseal(connection.sealed_access_token)
            connection.sealed_refresh_token = key_ring.reseal(connection.sealed_refresh_token)
            session.add(connection)
            count += 3
    return count

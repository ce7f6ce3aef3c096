"""`mb-calendar-sync rotate-secrets`: every stored OAuth client secret, refresh token, Zoom token
and secret inside an event's bot parameters (provider key, Zoom secrets) sealed again with the
newest key of MB_SECRET_KEYS (the older keys may then be retired)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from calendar_sync.models import Calendar, CalendarEvent, SeriesBot, ZoomConnection
from mb_shared.database import session_scope
from mb_shared.secrets import KeyRing, count_sealed


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
        holders = [*(await session.exec(select(CalendarEvent).where(
            col(CalendarEvent.bot_param).is_not(None)).with_for_update())).all(),
            *(await session.exec(select(SeriesBot).with_for_update())).all()]
        for holder in holders:
            if not holder.bot_param:
                continue
            sealed = count_sealed(holder.bot_param)
            if sealed:
                holder.bot_param = key_ring.reseal_within(holder.bot_param)
                session.add(holder)
                count += sealed
    return count


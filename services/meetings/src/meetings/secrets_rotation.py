"""`mb-meetings rotate-secrets`: every imported file's stored URL sealed again with the newest key
of MB_SECRET_KEYS (the older keys may then be retired)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.database import session_scope
from mb_shared.secrets import KeyRing
from meetings.models import Meeting


async def reseal_secrets(sessions: async_sessionmaker[AsyncSession], key_ring: KeyRing) -> int:
    count = 0
    async with session_scope(sessions) as session:
        for meeting in (await session.exec(select(Meeting).where(
                col(Meeting.file_url).is_not(None)).with_for_update())).all():
            meeting.file_url = key_ring.reseal(meeting.file_url)
            session.add(meeting)
            count += 1
    return count

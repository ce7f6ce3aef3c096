"""Accounts and API keys: creation, and authentication of a presented key."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.models import Account, ApiKey
from mb_shared.database import session_scope

KEY_PREFIX = "mb_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    account_id: int
    api_key: str
    webhook_url: str | None


class AccountStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create_account(self, name: str, webhook_url: str | None = None) -> tuple[Account, str]:
        """Create an account with one API key; the key is returned once and stored hashed."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with session_scope(self._sessions) as session:
            account = Account(name=name, webhook_url=webhook_url, created_at=now)
            session.add(account)
            await session.flush()
            session.add(
                ApiKey(account_id=account.id, prefix=key[:10], key_hash=hash_key(key), created_at=now)
            )
        return account, key

    async def authenticate(self, key: str) -> Caller | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ApiKey, Account)
                    .join(Account, col(Account.id) == col(ApiKey.account_id))
                    .where(ApiKey.key_hash == hash_key(key), col(ApiKey.revoked_at).is_(None))
                )
            ).first()
        if row is None:
            return None
        _, account = row
        return Caller(account_id=account.id, api_key=key, webhook_url=account.webhook_url)

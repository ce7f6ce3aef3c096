"""Accounts, their API keys (shown once, stored as SHA-256 hashes) and webhook signing secrets."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.models import Account, ApiKey
from mb_shared.database import session_scope

KEY_PREFIX = "mb_"
PREFIX_LENGTH = 12


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class Caller:
    account_id: int
    api_key: str
    webhook_url: str | None
    webhook_secret: str


class LastKeyError(Exception):
    """Revoking this key would leave the account without any active key."""


class AccountStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create_account(self, name: str, webhook_url: str | None = None) -> tuple[Account, str]:
        """Create an account with one API key; the key is returned once and stored hashed."""
        now = datetime.now(UTC)
        async with session_scope(self._sessions) as session:
            account = Account(name=name, webhook_url=webhook_url, created_at=now,
                              webhook_secret=new_webhook_secret())
            session.add(account)
            await session.flush()
            key = self._add_key(session, account.id, now)
        return account, key

    @staticmethod
    def _add_key(session: AsyncSession, account_id: int, now: datetime) -> str:
        key = new_api_key()
        session.add(ApiKey(account_id=account_id, prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key),
                           created_at=now))
        return key

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
        return Caller(account_id=account.id, api_key=key, webhook_url=account.webhook_url,
                      webhook_secret=account.webhook_secret)

    async def set_webhook_url(self, account_id: int, url: str | None) -> None:
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Account).where(col(Account.id) == account_id).values(webhook_url=url)
            )

    async def rotate_webhook_secret(self, account_id: int) -> str:
        secret = new_webhook_secret()
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Account).where(col(Account.id) == account_id).values(webhook_secret=secret)
            )
        return secret

    async def create_key(self, account_id: int) -> tuple[str, ApiKey]:
        now = datetime.now(UTC)
        async with session_scope(self._sessions) as session:
            key = self._add_key(session, account_id, now)
        return key, (await self.keys(account_id))[-1]

    async def keys(self, account_id: int) -> list[ApiKey]:
        async with self._sessions() as session:
            return list(
                await session.exec(
                    select(ApiKey).where(ApiKey.account_id == account_id).order_by(col(ApiKey.id))
                )
            )

    async def revoke_key(self, account_id: int, prefix: str) -> bool:
        """False if no active key has this prefix; LastKeyError if it is the last active one."""
        async with session_scope(self._sessions) as session:
            active = (
                await session.exec(
                    select(func.count()).select_from(ApiKey).where(
                        ApiKey.account_id == account_id, col(ApiKey.revoked_at).is_(None))
                )
            ).one()
            key = (
                await session.exec(
                    select(ApiKey).where(ApiKey.account_id == account_id, ApiKey.prefix == prefix,
                                         col(ApiKey.revoked_at).is_(None))
                    .with_for_update()
                )
            ).first()
            if key is None:
                return False
            if active <= 1:
                raise LastKeyError
            key.revoked_at = datetime.now(UTC)
            session.add(key)
        return True

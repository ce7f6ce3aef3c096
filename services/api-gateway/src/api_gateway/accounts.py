"""Accounts, their API keys (shown once, authenticated by SHA-256 hash) and webhook signing
secrets. The signing secret, and each active key for the documented webhook header, are kept
sealed with the platform's key ring; a revoked key's sealed copy is forgotten."""

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
from mb_shared.contracts.queries import DeliveryProfile
from mb_shared.database import session_scope
from mb_shared.secrets import KeyRing

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
    api_key_id: int
    api_key_prefix: str
    webhook_url: str | None


class LastKeyError(Exception):
    """Revoking this key would leave the account without any active key."""


class AccountStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], key_ring: KeyRing) -> None:
        self._sessions = sessions
        self._ring = key_ring

    async def create_account(self, name: str, webhook_url: str | None = None) -> tuple[Account, str]:
        """Create an account with one API key; the key is returned once."""
        now = datetime.now(UTC)
        async with session_scope(self._sessions) as session:
            account = Account(name=name, webhook_url=webhook_url, created_at=now,
                              webhook_secret=self._ring.seal(new_webhook_secret()))
            session.add(account)
            await session.flush()
            key = self._add_key(session, account.id, now)
        return account, key

    def _add_key(self, session: AsyncSession, account_id: int, now: datetime) -> str:
        key = new_api_key()
        session.add(ApiKey(account_id=account_id, prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key),
                           key_sealed=self._ring.seal(key), created_at=now))
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
        api_key, account = row
        return Caller(account_id=account.id, api_key_id=api_key.id,
                      api_key_prefix=api_key.prefix, webhook_url=account.webhook_url)

    async def webhook_secret(self, account_id: int) -> str:
        async with self._sessions() as session:
            account = await session.get(Account, account_id)
        return self._ring.open(account.webhook_secret)

    async def delivery_profile(self, account_id: int, api_key_prefix: str | None
                               ) -> DeliveryProfile | None:
        """How the account's webhooks are delivered, secrets still sealed: the key the bot was
        created with while it is active, else the account's newest active key."""
        async with self._sessions() as session:
            account = await session.get(Account, account_id)
            if account is None:
                return None
            keys = (await session.exec(
                select(ApiKey).where(ApiKey.account_id == account_id,
                                     col(ApiKey.revoked_at).is_(None),
                                     col(ApiKey.key_sealed).is_not(None))
                .order_by(col(ApiKey.id).desc())
            )).all()
        chosen = next((k for k in keys if k.prefix == api_key_prefix), keys[0] if keys else None)
        return DeliveryProfile(webhook_url=account.webhook_url,
                               sealed_api_key=chosen.key_sealed if chosen else None,
                               sealed_signing_secret=account.webhook_secret)

    async def set_webhook_url(self, account_id: int, url: str | None) -> None:
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Account).where(col(Account.id) == account_id).values(webhook_url=url)
            )

    async def rotate_webhook_secret(self, account_id: int) -> str:
        secret = new_webhook_secret()
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Account).where(col(Account.id) == account_id)
                .values(webhook_secret=self._ring.seal(secret))
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
            key.key_sealed = None
            session.add(key)
        return True

    async def reseal_all(self) -> int:
        """Seal every stored secret again with the ring's newest key (`rotate-secrets`)."""
        count = 0
        async with session_scope(self._sessions) as session:
            for account in (await session.exec(select(Account).with_for_update())).all():
                account.webhook_secret = self._ring.reseal(account.webhook_secret)
                session.add(account)
                count += 1
            keys = await session.exec(
                select(ApiKey).where(col(ApiKey.key_sealed).is_not(None)).with_for_update())
            for key in keys.all():
                key.key_sealed = self._ring.reseal(key.key_sealed)
                session.add(key)
                count += 1
        return count

"""The gateway's tables: accounts, their API keys, and the request counts its rate limits share
between replicas. Keys authenticate by hash; secrets are stored sealed (`mb_shared.secrets`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class GatewayModel(SQLModel, registry=registry()):
    pass


class Account(GatewayModel, table=True):
    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    webhook_url: str | None = None
    webhook_secret: str
    """The Standard Webhooks `whsec_` secret, sealed."""
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ApiKey(GatewayModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    prefix: str = Field(index=True)
    key_hash: str = Field(unique=True, index=True)
    key_sealed: str | None = None
    """The key itself, sealed, for the documented webhook header; forgotten when revoked."""
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class RateLimitHit(GatewayModel, table=True):
    """One request counted by a rate limit, shared by every replica of the gateway."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    key: str
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

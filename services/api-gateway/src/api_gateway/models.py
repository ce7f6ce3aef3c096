"""The gateway's tables: accounts and their API keys (stored only as hashes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
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
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ApiKey(GatewayModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    prefix: str = Field(index=True)
    key_hash: str = Field(unique=True, index=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )

"""`mb-api-gateway rotate-secrets` on a real PostgreSQL: with a new key put first in
MB_SECRET_KEYS, every stored secret is sealed again so that the old key can then be removed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from api_gateway.accounts import AccountStore
from mb_shared.database import make_engine, session_factory
from mb_shared.migrations import migrate
from mb_shared.secrets import KeyRing, new_key


def gateway(command: list[str], dsn: str, keys: list[str]) -> str:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mb-api-gateway"), *command],
        env={**os.environ, "DATABASE_URL": dsn, "MB_SECRET_KEYS": ",".join(keys)},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def read_back(dsn: str, ring: KeyRing, account_id: int):
    engine = make_engine(dsn, pool_size=1)
    try:
        accounts = AccountStore(session_factory(engine), ring)
        profile = await accounts.delivery_profile(account_id, None)
        return (await accounts.webhook_secret(account_id),
                ring.open(profile.sealed_signing_secret), ring.open(profile.sealed_api_key))
    finally:
        await engine.dispose()


def test_rotation_reseals_every_secret_with_the_new_key(fresh_database):
    old, new = new_key(), new_key()
    os.environ["MB_SECRET_KEYS"] = old
    try:
        migrate("api_gateway", fresh_database)
    finally:
        os.environ.pop("MB_SECRET_KEYS")
    created = json.loads(gateway(["create-account", "rotating"], fresh_database, [old]))
    secret, _, api_key = asyncio.run(read_back(fresh_database, KeyRing([old]),
                                               created["account_id"]))
    assert api_key == created["api_key"] and secret.startswith("whsec_")

    printed = gateway(["rotate-secrets"], fresh_database, [new, old])
    assert "2 secret(s) sealed again" in printed

    assert asyncio.run(read_back(fresh_database, KeyRing([new]), created["account_id"])) == (
        secret, secret, api_key)

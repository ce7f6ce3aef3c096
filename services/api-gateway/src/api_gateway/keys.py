"""Typed keys of the aiohttp application and request."""

from aiohttp import web
from faststream.nats import NatsBroker

from api_gateway.accounts import AccountStore, Caller
from api_gateway.settings import GatewaySettings
from mb_shared.secrets import KeyRing
from mb_shared.storage import ObjectStore

SETTINGS = web.AppKey("settings", GatewaySettings)
BROKER = web.AppKey("broker", NatsBroker)
ACCOUNTS = web.AppKey("accounts", AccountStore)
STORE = web.AppKey("store", ObjectStore)
KEY_RING = web.AppKey("key_ring", KeyRing)
CALLER = "caller"

__all__ = ["ACCOUNTS", "BROKER", "CALLER", "KEY_RING", "SETTINGS", "STORE", "Caller"]

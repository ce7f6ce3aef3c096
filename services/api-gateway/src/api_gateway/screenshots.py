"""Screenshots of a bot's session (being written)."""

from aiohttp import web

routes = web.RouteTableDef()

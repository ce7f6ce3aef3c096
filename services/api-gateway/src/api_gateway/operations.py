"""`POST /bots/retranscribe` and `POST /bots/retry_webhook` (being written)."""

from aiohttp import web

routes = web.RouteTableDef()

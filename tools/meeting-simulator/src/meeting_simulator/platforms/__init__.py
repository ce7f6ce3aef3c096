"""Owns the host dispatch: which simulated platform answers for which Host header.

Each platform module exposes `HOSTS` (hostnames, wildcards allowed) and
`create_app(store, synthesizer) -> web.Application` (built with `page_api.platform_app`). A new
platform is one new module here.
"""

from __future__ import annotations

from types import ModuleType

from . import meet, teams, zoom

PLATFORMS: tuple[ModuleType, ...] = (meet, teams, zoom)

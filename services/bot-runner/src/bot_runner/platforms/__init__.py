"""One adapter per meeting platform, all observing and acting on the page the same way."""

from __future__ import annotations

from bot_runner.platforms.base import PlatformAdapter
from bot_runner.platforms.meet import GoogleMeetAdapter
from bot_runner.platforms.teams import TeamsAdapter
from bot_runner.platforms.zoom import ZoomAdapter
from mb_shared.contracts.bot import Platform

ADAPTERS: dict[Platform, type[PlatformAdapter]] = {
    Platform.GOOGLE_MEET: GoogleMeetAdapter,
    Platform.MICROSOFT_TEAMS: TeamsAdapter,
    Platform.ZOOM: ZoomAdapter,
}


def adapter_for(platform: Platform) -> type[PlatformAdapter]:
    try:
        return ADAPTERS[platform]
    except KeyError:
        raise NotImplementedError(f"{platform} meetings are not supported yet") from None

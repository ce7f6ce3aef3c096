"""The groups of operations a client offers: `meetings`, `bots`, `calendars`."""

from meetingbots.resources.bots import Bots
from meetingbots.resources.calendars import Calendars
from meetingbots.resources.meetings import Meetings

__all__ = ["Bots", "Calendars", "Meetings"]

"""Meeting simulator (test tooling): a local stand-in for the meeting platforms' guest pages."""

from .background import SimulatorThread
from .client import (
    SimulatorClient,
    SimulatorError,
    new_meet_code,
    new_teams_meeting_id,
    new_teams_numeric_id,
    new_zoom_meeting_id,
)
from .server import MeetingSimulator

__all__ = [
    "MeetingSimulator",
    "SimulatorClient",
    "SimulatorError",
    "SimulatorThread",
    "new_meet_code",
    "new_teams_meeting_id",
    "new_teams_numeric_id",
    "new_zoom_meeting_id",
]

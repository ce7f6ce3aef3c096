"""Gateway settings (prefix GATEWAY_)."""

from pydantic import Field

from mb_shared.settings import BaseServiceSettings


class GatewaySettings(BaseServiceSettings):
    SEALS_SECRETS = True
    host: str = Field(default="127.0.0.1", alias="GATEWAY_HOST")
    port: int = Field(default=8080, alias="GATEWAY_PORT")
    request_timeout_s: float = Field(default=10.0, alias="GATEWAY_REQUEST_TIMEOUT_S")
    calendar_timeout_s: float = Field(default=60.0, alias="GATEWAY_CALENDAR_TIMEOUT_S")
    """For the calendar requests that call the provider and sync (create, update, resync)."""
    min_waiting_room_timeout_s: int = Field(default=120, alias="GATEWAY_MIN_WAITING_ROOM_TIMEOUT_S")
    min_silence_timeout_s: int = Field(default=300, alias="GATEWAY_MIN_SILENCE_TIMEOUT_S")
    max_automatic_leave_s: int = Field(default=1800, alias="GATEWAY_MAX_AUTOMATIC_LEAVE_S")
    meeting_bot_name: str = Field(default="Meeting notes", alias="GATEWAY_MEETING_BOT_NAME")
    """The name of the bot a meeting created with `bot_meeting_url` sends, unless it names one."""

"""calendar-sync settings (prefix CALENDAR_): where the providers are, the sync window and pace,
and the public URL providers push to."""

from pydantic import Field

from mb_shared.settings import BaseServiceSettings


class CalendarSyncSettings(BaseServiceSettings):
    SEALS_SECRETS = True
    google_token_url: str = Field(default="https://oauth2.googleapis.com/token",
                                  alias="CALENDAR_GOOGLE_TOKEN_URL")
    google_api_url: str = Field(default="https://www.googleapis.com/calendar/v3",
                                alias="CALENDAR_GOOGLE_API_URL")
    microsoft_login_url: str = Field(default="https://login.microsoftonline.com",
                                     alias="CALENDAR_MICROSOFT_LOGIN_URL")
    microsoft_tenant: str = Field(default="common", alias="CALENDAR_MICROSOFT_TENANT")
    graph_url: str = Field(default="https://graph.microsoft.com/v1.0", alias="CALENDAR_GRAPH_URL")
    zoom_oauth_url: str = Field(default="https://zoom.us", alias="CALENDAR_ZOOM_OAUTH_URL")
    zoom_api_url: str = Field(default="https://api.zoom.us/v2", alias="CALENDAR_ZOOM_API_URL")
    push_url: str | None = Field(default=None, alias="CALENDAR_PUSH_URL")
    """The gateway's public base URL, where providers send push notifications (`/calendar_push/
    google`, `/calendar_push/microsoft`); without it calendars are only synced periodically."""
    window_days: int = Field(default=30, ge=1, le=365, alias="CALENDAR_WINDOW_DAYS")
    periodic_sync_s: float = Field(default=900.0, alias="CALENDAR_PERIODIC_SYNC_S")
    """A safety net behind the pushes: every calendar is synced at least this often."""
    channel_ttl_s: float = Field(default=7 * 86_400.0, alias="CALENDAR_CHANNEL_TTL_S")
    """How long a push channel is asked for (providers may grant less); renewed before its end."""
    channel_renew_margin_s: float = Field(default=86_400.0, alias="CALENDAR_CHANNEL_RENEW_MARGIN_S")
    provider_timeout_s: float = Field(default=20.0, alias="CALENDAR_PROVIDER_TIMEOUT_S")
    tick_s: float = Field(default=1.0, alias="CALENDAR_TICK_S")
    bot_lead_s: float = Field(default=120.0, alias="CALENDAR_BOT_LEAD_S")
    """How long before an event's start its bot is handed to the scheduler (before that, moves
    and cancellations concern calendar-sync only)."""
    join_ahead_s: float = Field(default=10.0, alias="CALENDAR_JOIN_AHEAD_S")
    """How long before the event's start its bot sets off, to be in the meeting at the start."""
    scheduler_timeout_s: float = Field(default=10.0, alias="CALENDAR_SCHEDULER_TIMEOUT_S")

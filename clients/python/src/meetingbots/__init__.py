"""Python client of the self-hosted meeting-bot platform: meetings, bots and calendars, sync
(`Client`) and async (`AsyncClient`)."""

from meetingbots._version import __version__
from meetingbots.client import AsyncClient, Client
from meetingbots.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    MeetingBotsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)
from meetingbots.models import *  # noqa: F403
from meetingbots.models import __all__ as _models

__all__ = [
    "ApiConnectionError", "ApiError", "ApiTimeoutError", "AsyncClient", "AuthenticationError",
    "BadRequestError", "Client", "ConflictError", "MeetingBotsError", "NotFoundError",
    "PermissionDeniedError", "RateLimitError", "ServerError", "UnexpectedResponseError",
    "__version__", *_models,
]

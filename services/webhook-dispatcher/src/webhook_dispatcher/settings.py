"""Dispatcher settings (prefix WEBHOOK_)."""

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from mb_shared.settings import BaseServiceSettings


class DispatcherSettings(BaseServiceSettings):
    SEALS_SECRETS = True
    attempt_timeout_s: float = Field(default=10.0, alias="WEBHOOK_ATTEMPT_TIMEOUT_S")
    retry_schedule_s: Annotated[list[float], NoDecode] = Field(
        default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000], alias="WEBHOOK_RETRY_SCHEDULE_S"
    )
    retry_after_max_s: float = Field(default=3600.0, alias="WEBHOOK_RETRY_AFTER_MAX_S")
    jitter: float = Field(default=0.2, alias="WEBHOOK_JITTER")
    poll_s: float = Field(default=1.0, alias="WEBHOOK_POLL_S")

    @field_validator("retry_schedule_s", mode="before")
    @classmethod
    def _comma_list(cls, value):
        if isinstance(value, str) and not value.strip().startswith("["):
            return [float(v) for v in value.split(",") if v.strip()]
        return value

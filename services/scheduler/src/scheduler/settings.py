"""Scheduler settings (prefix SCHEDULER_)."""

from pydantic import Field

from mb_shared.settings import BaseServiceSettings


class SchedulerSettings(BaseServiceSettings):
    SEALS_SECRETS = True
    heartbeat_timeout_s: float = Field(default=30.0, alias="SCHEDULER_HEARTBEAT_TIMEOUT_S")
    pickup_timeout_s: float = Field(default=300.0, alias="SCHEDULER_PICKUP_TIMEOUT_S")
    abandoned_timeout_s: float = Field(default=600.0, alias="SCHEDULER_ABANDONED_TIMEOUT_S")
    dedup_window_s: float = Field(default=300.0, alias="SCHEDULER_DEDUP_WINDOW_S")
    tick_s: float = Field(default=0.5, alias="SCHEDULER_TICK_S")

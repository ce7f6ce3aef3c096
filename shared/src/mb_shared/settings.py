"""Settings every service shares: NATS, database, object store, telemetry, outbound-URL policy (read
from the environment)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mb_shared.url_guard import OutboundPolicy

_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "minioadmin", ""}


class BaseServiceSettings(BaseSettings):
    """Read once by a service's `__main__`; never at import time."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    environment: str = Field(default="development", alias="MB_ENVIRONMENT")
    nats_url: str = Field(default="nats://127.0.0.1:4222", alias="NATS_URL")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    s3_endpoint: str = Field(default="127.0.0.1:8333", alias="S3_ENDPOINT")
    s3_public_endpoint: str | None = Field(default=None, alias="S3_PUBLIC_ENDPOINT")
    s3_access_key: str = Field(default="", alias="S3_ACCESS_KEY")
    s3_secret_key: str = Field(default="", alias="S3_SECRET_KEY")
    s3_bucket: str = Field(default="meeting-bots", alias="S3_BUCKET")
    s3_secure: bool = Field(default=False, alias="S3_SECURE")
    s3_region: str = Field(default="us-east-1", alias="S3_REGION")
    otel_endpoint: str | None = Field(default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    outbound_allow_loopback: bool = Field(default=False, alias="MB_OUTBOUND_ALLOW_LOOPBACK")
    """Customer URLs may reach 127.0.0.1 (development and tests only; see `mb_shared.url_guard`)."""

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> BaseServiceSettings:
        if self.environment != "development" and self.s3_secret_key.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("S3_SECRET_KEY is a placeholder; set a real secret outside development")
        return self

    @model_validator(mode="after")
    def _loopback_only_in_development(self) -> BaseServiceSettings:
        if self.environment != "development" and self.outbound_allow_loopback:
            raise ValueError("MB_OUTBOUND_ALLOW_LOOPBACK lets customer URLs reach this machine; "
                             "it is refused outside MB_ENVIRONMENT=development")
        return self

    @property
    def outbound_policy(self) -> OutboundPolicy:
        """What customer-controlled outbound URLs may reach (`mb_shared.url_guard`)."""
        return OutboundPolicy(allow_loopback=self.outbound_allow_loopback)

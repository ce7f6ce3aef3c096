"""Settings every service shares: NATS, database, object store, telemetry, outbound-URL policy (read
from the environment)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mb_shared.url_guard import OutboundPolicy

_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "minioadmin", ""}


class BaseServiceSettings(BaseSettings):
    """Read once by a service's `__main__`; never at import time.

    A service that seals or opens secrets sets `SEALS_SECRETS`: outside development it then
    refuses to start without `MB_SECRET_KEYS`; the others never need the key ring."""

    SEALS_SECRETS: ClassVar[bool] = False

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
    retry_delays_s: Annotated[list[float], NoDecode] = Field(
        default=[1.0, 5.0, 15.0, 60.0, 300.0, 900.0], alias="MB_RETRY_DELAYS_S"
    )
    """Waits between the attempts of a failing consumer; after the last, a dead letter."""
    stream_replicas: int = Field(default=1, ge=1, le=5, alias="MB_STREAM_REPLICAS")
    """Copies of each JetStream stream (3 on a NATS cluster of three)."""
    secret_keys: Annotated[list[str], NoDecode] = Field(default=[], alias="MB_SECRET_KEYS",
                                                        repr=False)
    """The key ring that seals secrets at rest (see `mb_shared.secrets`), newest key first."""

    @field_validator("retry_delays_s", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _comma_separated_keys(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def key_ring(self):
        from mb_shared.secrets import KeyRing

        return KeyRing(self.secret_keys)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> BaseServiceSettings:
        if self.environment != "development" and self.s3_secret_key.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("S3_SECRET_KEY is a placeholder; set a real secret outside development")
        if self.SEALS_SECRETS and self.environment != "development" and not self.secret_keys:
            raise ValueError("MB_SECRET_KEYS must be set outside development")
        if self.secret_keys:
            self.key_ring()  # a malformed key is refused at start, not at the first secret
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

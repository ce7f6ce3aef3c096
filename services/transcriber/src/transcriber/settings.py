"""Transcriber settings (prefix TRANSCRIBER_)."""

from pathlib import Path

from pydantic import Field

from mb_shared.settings import BaseServiceSettings


class TranscriberSettings(BaseServiceSettings):
    SEALS_SECRETS = True
    model_cache_dir: Path = Field(default=Path("var/models"), alias="TRANSCRIBER_MODEL_CACHE_DIR")
    cpu_threads: int = Field(default=2, alias="TRANSCRIBER_CPU_THREADS")
    niceness: int = Field(default=10, ge=0, le=19, alias="TRANSCRIBER_NICENESS")
    """CPU priority of the transcriber (Unix nice): on a machine shared with bots, their calls
    (browsers, live audio) come before the speech model."""
    language: str | None = Field(default="en", alias="TRANSCRIBER_LANGUAGE")
    work_dir: Path = Field(default=Path("var/transcriber"), alias="TRANSCRIBER_WORK_DIR")
    gladia_url: str = Field(default="https://api.gladia.io", alias="TRANSCRIBER_GLADIA_URL")
    gladia_api_key: str | None = Field(default=None, alias="TRANSCRIBER_GLADIA_API_KEY")
    runpod_api_key: str | None = Field(default=None, alias="TRANSCRIBER_RUNPOD_API_KEY")
    runpod_url: str = Field(default="https://api.runpod.ai", alias="TRANSCRIBER_RUNPOD_URL")
    runpod_endpoint_id: str = Field(default="faster-whisper",
                                    alias="TRANSCRIBER_RUNPOD_ENDPOINT_ID")
    runpod_model: str = Field(default="base", alias="TRANSCRIBER_RUNPOD_MODEL")
    provider_timeout_s: float = Field(default=1800.0, alias="TRANSCRIBER_PROVIDER_TIMEOUT_S")
    provider_poll_s: float = Field(default=2.0, alias="TRANSCRIBER_PROVIDER_POLL_S")

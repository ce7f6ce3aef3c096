"""Transcriber settings (prefix TRANSCRIBER_)."""

from pathlib import Path

from pydantic import Field

from mb_shared.settings import BaseServiceSettings


class TranscriberSettings(BaseServiceSettings):
    model_cache_dir: Path = Field(default=Path("var/models"), alias="TRANSCRIBER_MODEL_CACHE_DIR")
    cpu_threads: int = Field(default=2, alias="TRANSCRIBER_CPU_THREADS")
    language: str | None = Field(default="en", alias="TRANSCRIBER_LANGUAGE")
    work_dir: Path = Field(default=Path("var/transcriber"), alias="TRANSCRIBER_WORK_DIR")

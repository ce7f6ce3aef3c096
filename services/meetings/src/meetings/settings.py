"""Meetings settings (prefix MEETINGS_)."""

from pathlib import Path

from pydantic import Field

from mb_shared.settings import BaseServiceSettings


class MeetingsSettings(BaseServiceSettings):
    SEALS_SECRETS = True

    summary_api_url: str | None = Field(default=None, alias="MEETINGS_SUMMARY_API_URL")
    """An OpenAI-compatible chat-completions API (e.g. `https://api.openai.com/v1`); summaries,
    notes and keywords are made on this machine when unset."""
    summary_api_key: str | None = Field(default=None, alias="MEETINGS_SUMMARY_API_KEY",
                                        repr=False)
    summary_model: str = Field(default="gpt-4o-mini", alias="MEETINGS_SUMMARY_MODEL")
    summary_timeout_s: float = Field(default=120.0, gt=0, alias="MEETINGS_SUMMARY_TIMEOUT_S")
    import_max_mb: float = Field(default=2048.0, gt=0, alias="MEETINGS_IMPORT_MAX_MB")
    """The largest file `POST /meetings/` imports (megabytes)."""
    import_timeout_s: float = Field(default=900.0, gt=0, alias="MEETINGS_IMPORT_TIMEOUT_S")
    """How long fetching one file may take."""
    work_dir: Path = Field(default=Path("var/meetings"), alias="MEETINGS_WORK_DIR")

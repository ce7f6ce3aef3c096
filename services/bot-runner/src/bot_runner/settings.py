"""Bot-runner settings (prefix RUNNER_)."""

import os
import socket
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from mb_shared.settings import BaseServiceSettings


class RunnerSettings(BaseServiceSettings):
    runner_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", alias="RUNNER_ID"
    )
    max_concurrent_bots: int = Field(default=2, alias="RUNNER_MAX_CONCURRENT_BOTS")
    chromium_path: str = Field(default="/usr/bin/chromium", alias="RUNNER_CHROMIUM_PATH")
    chromedriver_path: str = Field(default="/usr/bin/chromedriver", alias="RUNNER_CHROMEDRIVER_PATH")
    extra_chromium_args: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="RUNNER_EXTRA_CHROMIUM_ARGS"
    )
    work_dir: Path = Field(default=Path("var/bot-runner"), alias="RUNNER_WORK_DIR")
    heartbeat_interval_s: float = Field(default=5.0, alias="RUNNER_HEARTBEAT_INTERVAL_S")
    screenshot_interval_s: float = Field(default=30.0, alias="RUNNER_SCREENSHOT_INTERVAL_S")
    everyone_left_grace_s: float = Field(default=15.0, alias="RUNNER_EVERYONE_LEFT_GRACE_S")
    separate_video: bool = Field(default=True, alias="RUNNER_SEPARATE_VIDEO")
    bot_image_max_bytes: int = Field(default=5 * 1024 * 1024, alias="RUNNER_BOT_IMAGE_MAX_BYTES")
    bot_image_timeout_s: float = Field(default=10.0, alias="RUNNER_BOT_IMAGE_TIMEOUT_S")

    @field_validator("extra_chromium_args", mode="before")
    @classmethod
    def _split(cls, value):
        """Several flags in one variable, separated by newlines or ` --`."""
        if isinstance(value, str):
            import json

            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [f"--{part.strip()}" if i else part.strip()
                    for i, part in enumerate(text.split(" --")) if part.strip()]
        return value

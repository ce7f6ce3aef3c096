"""What every model of an API answer shares: fields named exactly as the JSON, unknown fields
kept (a newer server's answers still read), timestamps read as `datetime` and written back as
the API writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow")


Timestamp = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str,
                                                when_used="json")]
"""An ISO 8601 date-time; `model_dump(mode="json")` writes it as the API does
(`datetime.isoformat()`)."""

Extra = dict[str, Any]
"""A free-form JSON object (a bot's `extra`, a provider's raw event)."""

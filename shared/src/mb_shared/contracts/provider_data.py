"""The raw answers of the speech-to-text providers a transcript was made from, as the "Transcript
Provider Data" download schema describes them (`bots/<id>/transcript_provider_data.json`):
written by the transcriber, downloaded by users.

Each part is one answer: an HTTP response of Gladia or Runpod (`http_response`: `url` without
its query string, `status_code`, `body`), or one window of the local model's output
(`local_model`, an addition to the schema's types: the platform's own model answers no HTTP
request). `source_audio.offset` is where the audio it was given starts in the recording.
Presigned URLs in answers lose their query string, so that no part grants access to anything.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from mb_shared.contracts.timeline import TimelineParticipant

PartType = Literal["webhook", "http_response", "websocket_message", "local_model"]
_SIGNED_URL = re.compile(r"(https?://[^\s\"'?]+)\?[^\s\"']*")


class _ProviderModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SourceAudio(_ProviderModel):
    type: Literal["mixed", "separate"] = "mixed"
    offset: float
    participant: TimelineParticipant | None = None


class ProviderPart(_ProviderModel):
    id: str = Field(default_factory=lambda: str(uuid4()))
    created_at: str
    source_audio: SourceAudio
    type: PartType
    data: dict[str, Any]


class ProviderData(_ProviderModel):
    parts: list[ProviderPart]


def cleaned(value: Any) -> Any:
    """`value` (decoded JSON) with the query string cut from every URL in it, and numbers JSON
    cannot hold (NaN, infinities) as null."""
    if isinstance(value, str):
        return _SIGNED_URL.sub(r"\1", value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [cleaned(item) for item in value]
    if isinstance(value, dict):
        return {str(key): cleaned(item) for key, item in value.items()}
    return value


def answer(kind: PartType, data: dict[str, Any]) -> dict[str, Any]:
    """A raw answer as a recognizer notes it (offset within the audio it was given: 0)."""
    return {"created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "type": kind,
            "offset": 0.0, "data": cleaned(data)}


def dump_provider_data(answers: list[dict[str, Any]]) -> bytes:
    """The download file of `answers` (each `{created_at, type, offset, data}`, offset in
    seconds of the recording)."""
    parts = [ProviderPart(created_at=a["created_at"], type=a["type"], data=a["data"],
                          source_audio=SourceAudio(offset=round(float(a["offset"]), 3)))
             for a in answers]
    return json.dumps(ProviderData(parts=parts).model_dump(mode="json"),
                      ensure_ascii=False).encode()

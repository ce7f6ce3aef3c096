"""Request bodies of the REST surface, as in the reference OpenAPI document (Meeting BaaS API v1)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AnyUrl, BaseModel, ConfigDict, Field

from mb_shared.contracts.bot import RecordingMode, SpeechToTextProvider


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutomaticLeaveRequest(_Strict):
    waiting_room_timeout: Annotated[int, Field(ge=0)] | None = None
    noone_joined_timeout: Annotated[int, Field(ge=0)] | None = None
    silence_timeout: Annotated[int, Field(ge=0)] | None = None


class SpeechToTextApiParameter(_Strict):
    provider: SpeechToTextProvider
    api_key: str | None = None


class StreamingApiParameter(_Strict):
    input: str | None = None
    output: str | None = None
    audio_frequency: str | None = None


class JoinRequest(_Strict):
    meeting_url: str
    bot_name: str
    automatic_leave: AutomaticLeaveRequest | None = None
    bot_image: AnyUrl | None = None
    deduplication_key: str | None = None
    entry_message: str | None = None
    extra: dict[str, Any] | None = None
    recording_mode: RecordingMode | None = None
    reserved: bool = False
    speech_to_text: SpeechToTextApiParameter | SpeechToTextProvider | None = None
    start_time: Annotated[int, Field(ge=0)] | None = None
    streaming: StreamingApiParameter | None = None
    transcription_custom_parameters: Any = None
    webhook_url: str | None = None
    zoom_access_token_url: str | None = None
    zoom_obf_token: str | None = None
    zoom_obf_token_url: str | None = None
    zoom_obf_token_user_id: str | None = None
    zoom_sdk_id: str | None = None
    zoom_sdk_pwd: str | None = None

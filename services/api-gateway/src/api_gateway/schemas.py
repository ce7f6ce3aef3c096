"""Request bodies of the REST surface, as in the reference OpenAPI document (Meeting BaaS API v1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AnyUrl, BaseModel, BeforeValidator, ConfigDict, Field

from mb_shared.contracts.bot import RecordingMode, SpeechToTextProvider


class _Open(BaseModel):
    """A reference schema without `additionalProperties: false`: unknown fields are ignored, so a
    client built for a newer version of the API is not refused."""

    model_config = ConfigDict(extra="ignore")


BLANKS = " \t\n\r\f\v"
r"""What counts as white space where the API trims or wants something not blank. Patterns spell
it out (`[ \t\n\r\f\v]`) rather than `\s`, which differs between Python and ECMAScript."""
_WS = r"[ \t\n\r\f\v]"
_TEXT = r"[^ \t\n\r\f\v]"
_MEET_CODE = r"[A-Za-z]{3}-[A-Za-z]{4}-[A-Za-z]{3}"
_SCHEME = r"[hH][tT][tT][pP][sS]?://"
_Q = r'(%22|")'
_TEAMS_THREAD = r"19(%3[aA]|:)[A-Za-z0-9_=+.-]+(%40|@)thread\.[A-Za-z0-9]+"
_TEAMS_CONTEXT = (
    rf"(%7[bB]|\{{){_Q}Tid{_Q}(%3[aA]|:){_Q}[0-9A-Fa-f-]+{_Q}"
    rf"((%2[cC]|,){_Q}Oid{_Q}(%3[aA]|:){_Q}[0-9A-Fa-f-]+{_Q})?(%7[dD]|\}})"
)


def _meeting_urls(scheme: str, excluded: str) -> list[str]:
    """The meeting URL forms after `scheme`, the rest without the `excluded` characters."""
    text = f"[^{excluded}]"
    tail = rf"/?(\?[^#{excluded}]*)?(#{text}*)?"
    return [
        rf"{scheme}meet\.google\.com/{_MEET_CODE}{tail}",
        rf"{scheme}([A-Za-z0-9-]+\.)*zoom\.us/([jsw]/[0-9]{{9,11}}(/join)?|wc/[0-9]{{9,11}}(/join)?"
        rf"|wc/join/[0-9]{{9,11}}){tail}",
        rf"{scheme}events\.zoom\.us/[A-Za-z0-9_.~%-]+(/[^?#{excluded}]*)?{tail}",
        rf"{scheme}teams\.(microsoft|live)\.com/meet/[0-9]{{10,15}}{tail}",
        rf"{scheme}teams\.(microsoft|live)\.com/(_#/|v2/?\?meetingjoin=true#/)?l/meetup-join/"
        rf"{_TEAMS_THREAD}/[0-9]+/?\?context={_TEAMS_CONTEXT}(&[^#{excluded}]*)?(#{text}*)?",
    ]


_MEETING_URLS = (
    *_meeting_urls(_SCHEME, r" \t\n\r\f\v"),
    *_meeting_urls("", r" \t\n\r\f\v"),
    _SCHEME + r"(www\.)?google\.com/url\?q=[hH][tT][tT][pP][sS]?(://|%3[aA]%2[fF]%2[fF])"
    r"meet\.google\.com(/|%2[fF])" + _MEET_CODE + r"(&[^# \t\n\r\f\v]*)?(#" + _TEXT + "*)?",
)
MEETING_URL_PATTERN = "^" + _WS + "*(" + "|".join(_MEETING_URLS) + ")" + _WS + "*$"
"""The usual meeting URLs of Google Meet, Microsoft Teams and Zoom, as the OpenAPI document gives
them. Every URL matching it is one `mb_shared.meeting_urls.parse_meeting_url` takes (tested); the
parser, which decides (a 400 `InvalidMeetingUrl` naming `meeting_url`), also takes the rarer forms
the pattern leaves out: Teams launcher and light-meetings links, redirect wrappers."""

WEBHOOK_URL_PATTERN = (
    r"^[hH][tT][tT][pP][sS]?://[A-Za-z0-9._~-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
)
"""Webhook URLs as the OpenAPI document gives them: absolute http(s) URLs. `POST
/accounts/webhook_url` takes exactly these (else a 400 `InvalidWebhookUrl`); the `webhook_url` of
`POST /bots/retranscribe` and `POST /bots/retry_webhook` takes these and a few more spellings."""

NOT_BLANK_PATTERN = _TEXT
"""At least one character that is not white space (checked by the handler: a 400)."""

LATEST_START_TIME = 253402300799
"""9999-12-31T23:59:59Z, the last second a date can express."""


def _integral(value: Any) -> Any:
    """JSON's integers include 1.0; a bool or a string is not one."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON integers: no `true` for 1, no "5"
Seconds = Annotated[int, Field(strict=True, ge=0), BeforeValidator(_integral)]
UnixTime = Annotated[int, Field(strict=True, ge=0, le=LATEST_START_TIME),
                     BeforeValidator(_integral)]


class AutomaticLeaveRequest(_Open):
    waiting_room_timeout: Seconds | None = None
    noone_joined_timeout: Seconds | None = None
    silence_timeout: Seconds | None = None


class SpeechToTextApiParameter(_Open):
    provider: SpeechToTextProvider
    api_key: str | None = None
    live_transcript: bool | None = Field(
        default=None, description="Also send what is said during the call, as it is "
        "transcribed by the chosen provider: `bot.live_transcript` webhooks")


class StreamingApiParameter(_Open):
    """Live audio over WebSockets the bot opens to your server once it records. Each connection
    starts with one JSON text frame: `{"type": "audio_start", "bot_id", "sample_rate",
    "channels": 1, "encoding": "pcm_s16le", "frame_ms", "offset_ms"}` (`offset_ms`: where the next
    audio starts, from the start of the recording). On `output`, binary frames of 16-bit
    little-endian mono PCM follow as the meeting plays (40 ms each), with who starts and stops
    speaking (`{"type": "speaker", "name", "speaking", "offset_ms"}`); audio your server could not
    take in time is skipped and announced by `{"type": "audio_gap", "offset_ms", "duration_ms"}`.
    Binary frames your server sends on `input` (same format) are the bot's microphone; one URL
    for both is one socket used both ways. A socket that fails is reopened with a growing delay,
    each interruption noted in the bot's status history. `wss://` only (`ws://` to 127.0.0.1 in
    development)."""

    input: str | None = Field(default=None, description="WebSocket whose audio the bot speaks")
    output: str | None = Field(default=None,
                               description="WebSocket that receives the meeting's audio")
    audio_frequency: Literal["16khz", "24khz"] | None = Field(
        default=None, description="Sample rate of both sockets' audio (default 16khz)")


class JoinRequest(BaseModel):
    """The reference's `JoinRequest`, which alone sets `additionalProperties: false`: an unknown
    field is a 400 naming it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "meeting_url": "https://meet.google.com/abc-defg-hij", "bot_name": "Notetaker",
        "speech_to_text": {"provider": "Default"}, "webhook_url": "https://example.org/hook",
    }]})

    meeting_url: Annotated[str, Field(json_schema_extra={"pattern": MEETING_URL_PATTERN})]
    bot_name: Annotated[str, Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})]
    automatic_leave: AutomaticLeaveRequest | None = None
    bot_image: AnyUrl | None = None
    deduplication_key: str | None = None
    entry_message: str | None = None
    extra: dict[str, Any] | None = None
    recording_mode: RecordingMode | None = None
    reserved: Annotated[bool, Field(strict=True)] = False
    speech_to_text: SpeechToTextApiParameter | SpeechToTextProvider | None = None
    start_time: UnixTime | None = None
    streaming: StreamingApiParameter | None = None
    transcription_custom_parameters: Any = None
    webhook_url: str | None = None
    zoom_access_token_url: str | None = None
    zoom_obf_token: str | None = None
    zoom_obf_token_url: str | None = None
    zoom_obf_token_user_id: str | None = None
    zoom_sdk_id: str | None = None
    zoom_sdk_pwd: str | None = None

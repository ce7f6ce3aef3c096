"""`client.bots`: the Meeting BaaS v1 `/bots` operations (send a bot, follow it, read what it
recorded, list, delete, transcribe again, send its webhook again, screenshots)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from meetingbots.models.bots import (
    BotDetails,
    DeleteResponse,
    JoinResponse,
    ListRecentBotsResponse,
    Metadata,
    OkResponse,
    Screenshot,
)
from meetingbots.resources._base import Resource
from meetingbots.transport import ExtraHeaders, Request, path, without_none

BOT = "/bots/{uuid}"


def _conditions(filter_by_extra: str | Mapping[str, str] | None) -> str | None:
    """`filter_by_extra` as the API takes it: `field:value[,field:value...]`."""
    if filter_by_extra is None or isinstance(filter_by_extra, str):
        return filter_by_extra
    return ",".join(f"{name}:{value}" for name, value in filter_by_extra.items())


class Bots(Resource):
    def join(self, meeting_url: str, bot_name: str, *, extra_headers: ExtraHeaders | None = None,
             **fields: Any) -> JoinResponse:
        """Send a bot to `meeting_url`, now or at `start_time` (Unix seconds). `fields` are the
        other fields of `POST /bots/` (`speech_to_text`, `webhook_url`, `automatic_leave`,
        `recording_mode`, `extra`, `deduplication_key`, ...); those given as None are left
        out."""
        body = without_none({"meeting_url": meeting_url, "bot_name": bot_name, **fields})
        return self._send(Request("POST", "/bots/", JoinResponse, body=body,
                                  extra_headers=extra_headers))

    def get(self, bot_id: UUID | str, extra_headers: ExtraHeaders | None = None) -> BotDetails:
        """The bot, its parameters (without secrets), its status and status history."""
        return self._send(Request("GET", path(BOT, uuid=bot_id), BotDetails,
                                  extra_headers=extra_headers))

    def leave(self, bot_id: UUID | str, extra_headers: ExtraHeaders | None = None) -> OkResponse:
        """The bot leaves its meeting (or, still queued, is cancelled)."""
        return self._send(Request("DELETE", path(BOT, uuid=bot_id), OkResponse,
                                  extra_headers=extra_headers))

    def meeting_data(self, bot_id: UUID | str, include_transcripts: bool = True,
                     extra_headers: ExtraHeaders | None = None) -> Metadata:
        """The recording, its files (presigned URLs), the bot and its transcript."""
        return self._send(Request("GET", "/bots/meeting_data", Metadata, query={
            "bot_id": bot_id, "include_transcripts": include_transcripts,
        }, extra_headers=extra_headers))

    def list_bots_with_metadata(
        self,
        *,
        bot_name: str | None = None,
        created_after: str | datetime | None = None,
        created_before: str | datetime | None = None,
        cursor: str | None = None,
        ended_after: str | datetime | None = None,
        filter_by_extra: str | Mapping[str, str] | None = None,
        limit: int | None = None,
        meeting_url: str | None = None,
        sort_by_extra: str | None = None,
        speaker_name: str | None = None,
        extra_headers: ExtraHeaders | None = None,
    ) -> ListRecentBotsResponse:
        """The account's bots, newest first, `limit` (1 to 50) a page; the answer's
        `next_cursor`, given as `cursor`, is the next page."""
        return self._send(Request("GET", "/bots/bots_with_metadata", ListRecentBotsResponse,
                                  query={
            "bot_name": bot_name, "created_after": created_after,
            "created_before": created_before, "cursor": cursor, "ended_after": ended_after,
            "filter_by_extra": _conditions(filter_by_extra), "limit": limit,
            "meeting_url": meeting_url, "sort_by_extra": sort_by_extra,
            "speaker_name": speaker_name,
        }, extra_headers=extra_headers))

    def delete_data(self, bot_id: UUID | str,
                    extra_headers: ExtraHeaders | None = None) -> DeleteResponse:
        """Delete the bot's recording, audio, transcripts, screenshots and logs (5 a minute
        per API key: a `RateLimitError` beyond)."""
        return self._send(Request("POST", path(BOT + "/delete_data", uuid=bot_id),
                                  DeleteResponse, extra_headers=extra_headers))

    def retranscribe(self, bot_uuid: UUID | str,
                     speech_to_text: str | Mapping[str, Any] | None = None,
                     webhook_url: str | None = None,
                     extra_headers: ExtraHeaders | None = None) -> None:
        """Transcribe a completed bot's audio again; a `transcription_complete` webhook
        follows. `speech_to_text`: a provider name or `{"provider", "api_key"}`."""
        body = without_none({"bot_uuid": bot_uuid, "speech_to_text": speech_to_text,
                             "webhook_url": webhook_url})
        return self._send(Request("POST", "/bots/retranscribe", None, body=body,
                                  extra_headers=extra_headers))

    def retry_webhook(self, bot_uuid: UUID | str, webhook_url: str | None = None,
                      extra_headers: ExtraHeaders | None = None) -> OkResponse:
        """Send the bot's final webhook event again, to `webhook_url` if given."""
        return self._send(Request("POST", "/bots/retry_webhook", OkResponse, query={
            "bot_uuid": bot_uuid, "webhook_url": webhook_url,
        }, extra_headers=extra_headers))

    def screenshots(self, bot_id: UUID | str,
                    extra_headers: ExtraHeaders | None = None) -> list[Screenshot]:
        """The screenshots the bot took, oldest first (presigned URLs)."""
        return self._send(Request("GET", path(BOT + "/screenshots", uuid=bot_id),
                                  list[Screenshot], extra_headers=extra_headers))

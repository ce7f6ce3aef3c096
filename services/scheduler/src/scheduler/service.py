"""The bot lifecycle: creation, dispatch when due, status transitions, transcription requests,
completion, lost runners. Every change and the events it causes commit together (the outbox)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from opentelemetry import propagate

from mb_shared.contracts import Event
from mb_shared.contracts.bot import (
    BotCompleted,
    BotDispatched,
    BotError,
    BotFailed,
    BotLeaveRequested,
    BotNoted,
    BotParams,
    BotRequested,
    BotStatus,
    BotStatusChanged,
    EndReason,
    StatusRecord,
    is_legal_transition,
)
from mb_shared.contracts.meetings import MeetingBotRequested
from mb_shared.contracts.queries import (
    BotList,
    BotSummary,
    BotTarget,
    BotView,
    CreateBot,
    ListBots,
    QueryError,
    Retranscribe,
    UpsertEventBot,
)
from mb_shared.contracts.recording import RecordingArtifacts, RecordingUploaded, data_files
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptionRequested
from scheduler.models import Bot, TranscriptionRequest
from scheduler.ports import BotRepository, LockedBot

log = logging.getLogger(__name__)

_DISPATCH_NAMESPACE = uuid.UUID("9f0c1b9e-59a2-4b8e-8d61-3c1f3e0d2a77")


def _now() -> datetime:
    return datetime.now(UTC)


def _held_by_runner(bot: Bot) -> bool:
    """In the call or on its way, or claimed by a runner and not yet joining."""
    status = BotStatus(bot.status)
    return status.is_with_runner or (status == BotStatus.QUEUED and bot.runner_id is not None)


class BotScheduler:
    def __init__(
        self,
        repository: BotRepository,
        *,
        heartbeat_timeout: timedelta,
        pickup_timeout: timedelta,
        dedup_window: timedelta = timedelta(minutes=5),
        abandoned_timeout: timedelta = timedelta(minutes=10),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bots = repository
        self._heartbeat_timeout = heartbeat_timeout
        self._abandoned_timeout = abandoned_timeout
        self._monotonic = monotonic
        self._hearing_since: float | None = monotonic()
        """Since when this replica has recorded every heartbeat sent to it (None while it cannot):
        only after a whole timeout of that is a runner's silence its own."""
        self._pickup_timeout = pickup_timeout
        self._dedup_window = dedup_window

    async def create(self, command: CreateBot, trace_context: dict[str, str]) -> Bot | QueryError:
        """A start_time in the past (or none) means: join now. A second bot of the account to the
        same meeting within the deduplication window is refused unless its key differs."""
        now = _now()
        due = now
        params = command.params
        if params.start_time is not None:
            due = max(now, datetime.fromtimestamp(params.start_time, UTC))
        bot = Bot(
            bot_id=uuid.uuid4(),
            account_id=command.account_id,
            params=params.without_secrets().model_dump(mode="json"),
            status=BotStatus.QUEUED,
            created_at=now,
            due_at=due,
            trace_context=trace_context,
            api_key_prefix=command.api_key_prefix,
            speech_api_key=params.speech_to_text.api_key if params.speech_to_text else None,
            join_secrets=params.join_secrets() or None,
        )
        requested = BotRequested(bot_id=bot.bot_id, account_id=bot.account_id,
                                 params=params.without_secrets())
        duplicate = await self._bots.add(bot, now, self._dedup_window, [requested])
        if duplicate is not None:
            minutes = self._dedup_window.total_seconds() / 60
            return QueryError(
                status=409,
                code="DuplicateBot",
                field="deduplication_key",
                message=(
                    f"Bot {duplicate.bot_id} of this account was sent to this meeting less than "
                    f"{minutes:g} minutes ago. To send another bot anyway, give it a different "
                    "deduplication_key."
                ),
            )
        return bot

    async def upsert_for_event(self, command: UpsertEventBot,
                               trace_context: dict[str, str]) -> QueryError | None:
        """calendar-sync's bot for a calendar event, at the event's revision: created, moved or
        changed while it has not left for the meeting, or cancelled (`params` None; one that
        already left is asked to leave). A revision older than the one applied is ignored."""
        async with self._bots.locked(command.bot_id) as unit:
            if unit is not None:
                bot = unit.bot
                if bot.account_id != command.account_id:
                    return QueryError(status=409, code="BotIdTaken",
                                      message=f"bot {command.bot_id} is another account's")
                if command.revision <= bot.event_revision:
                    return None
                bot.event_revision = command.revision
                status = BotStatus(bot.status)
                waiting = status == BotStatus.QUEUED and bot.dispatched_at is None
                if command.params is None:
                    if waiting:
                        unit.emit(self._fail(unit, BotError.CANNOT_JOIN_MEETING,
                                             EndReason.CANCELLED,
                                             "The calendar event was cancelled or deleted, or "
                                             "its bot unscheduled, before the bot joined."))
                    elif not status.is_terminal:
                        bot.leave_requested_at = bot.leave_requested_at or _now()
                        unit.emit(BotLeaveRequested(bot_id=bot.bot_id))
                elif waiting:
                    params = command.params
                    bot.params = params.without_secrets().model_dump(mode="json")
                    bot.speech_api_key = (params.speech_to_text.api_key
                                          if params.speech_to_text else None)
                    bot.join_secrets = params.join_secrets() or None
                    bot.due_at = max(_now(), command.join_at)
                    bot.api_key_prefix = command.api_key_prefix
                return None
        if command.params is None:
            return None  # cancelled before it was ever created
        # one bot per event, by its id: no deduplication by meeting URL (a recurring event's
        # instances, and several calendars, share links)
        await self._add_with_id(command.bot_id, command.account_id, command.params,
                                command.join_at, trace_context, command.api_key_prefix,
                                command.revision)
        return None

    async def on_meeting_bot_requested(self, event: MeetingBotRequested) -> None:
        """The bot of a meeting created with a meeting URL, with the id the meeting gave it:
        created once, however often the request is delivered."""
        if await self._bots.get(event.bot_id) is not None:
            return
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        await self._add_with_id(event.bot_id, event.account_id, event.params, event.join_at,
                                carrier)

    async def _add_with_id(self, bot_id: UUID, account_id: int, params: BotParams,
                           join_at: datetime, trace_context: dict[str, str],
                           api_key_prefix: str | None = None, revision: int = 0) -> None:
        """A bot whose id its requester chose, due at `join_at` (now if past); never refused as
        a duplicate (the id is what keeps it one)."""
        now = _now()
        bot = Bot(
            bot_id=bot_id,
            account_id=account_id,
            params=params.without_secrets().model_dump(mode="json"),
            status=BotStatus.QUEUED,
            created_at=now,
            due_at=max(now, join_at),
            trace_context=trace_context,
            api_key_prefix=api_key_prefix,
            speech_api_key=params.speech_to_text.api_key if params.speech_to_text else None,
            join_secrets=params.join_secrets() or None,
            event_revision=revision,
        )
        requested = BotRequested(bot_id=bot.bot_id, account_id=bot.account_id,
                                 params=params.without_secrets())
        await self._bots.add(bot, now, timedelta(0), [requested])

    async def view(self, account_id: int, bot_id: UUID) -> BotView | QueryError:
        bot = await self._bots.get(bot_id)
        if bot is None or bot.account_id != account_id:
            return QueryError(status=404, code="BotNotFound", message=f"No bot {bot_id}")
        history = await self._bots.history(bot)
        return BotView(
            id=bot.id,
            bot_id=bot.bot_id,
            account_id=bot.account_id,
            params=BotParams.model_validate(bot.params),
            status=BotStatus(bot.status),
            error=bot.error,
            reason=bot.reason,
            message=bot.message,
            created_at=bot.created_at,
            joined_at=bot.joined_at,
            exited_at=bot.exited_at,
            ended_at=bot.ended_at,
            artifacts=RecordingArtifacts.model_validate(bot.artifacts),
            duration_s=bot.duration_s,
            speakers=bot.speakers,
            history=[
                StatusRecord(status=s, at=at.isoformat(), error=e, reason=r, message=m)
                for s, at, e, r, m in history
            ],
            extra=bot.params.get("extra"),
            transcription_error=bot.transcription_error,
            api_key_prefix=bot.api_key_prefix,
        )

    async def target(self, bot_id: UUID) -> BotTarget | QueryError:
        bot = await self._bots.get(bot_id)
        if bot is None:
            return QueryError(status=404, code="BotNotFound", message=f"No bot {bot_id}")
        return BotTarget(bot_id=bot.bot_id, account_id=bot.account_id,
                         webhook_url=bot.params.get("webhook_url"),
                         api_key_prefix=bot.api_key_prefix, extra=bot.params.get("extra"))

    async def list(self, query: ListBots) -> BotList:
        bots, next_after = await self._bots.list(query)
        return BotList(
            bots=[
                BotSummary(
                    id=b.id, bot_id=b.bot_id, bot_name=b.params["bot_name"],
                    meeting_url=b.params["meeting_url"], created_at=b.created_at,
                    ended_at=b.ended_at, duration_s=b.duration_s, speakers=b.speakers,
                    extra=b.params.get("extra"), status=b.status,
                    content_deleted=b.data_deleted_at is not None,
                    event_uuid=b.params.get("event_uuid"),
                )
                for b in bots
            ],
            next_after=next_after,
        )

    async def leave(self, account_id: int, bot_id: UUID) -> QueryError | None:
        async with self._bots.locked(bot_id) as unit:
            if unit is None or unit.bot.account_id != account_id:
                return QueryError(status=404, code="BotNotFound", message=f"No bot {bot_id}")
            bot = unit.bot
            status = BotStatus(bot.status)
            if status == BotStatus.QUEUED and bot.dispatched_at is None:
                unit.emit(self._fail(unit, BotError.CANNOT_JOIN_MEETING, EndReason.CANCELLED,
                                     "The bot was removed before it joined the meeting."))
            elif not status.is_terminal:
                bot.leave_requested_at = bot.leave_requested_at or _now()
                unit.emit(BotLeaveRequested(bot_id=bot_id))
        return None

    async def dispatch_due(self, limit: int = 20) -> int:
        """Hand due bots to the runners' work queue; claimed rows are locked so replicas agree."""

        def dispatched(bot: Bot) -> BotDispatched:
            return BotDispatched(
                event_id=uuid.uuid5(_DISPATCH_NAMESPACE, str(bot.bot_id)),
                bot_id=bot.bot_id,
                account_id=bot.account_id,
                params=BotParams.model_validate(bot.params),
            )

        return len(await self._bots.claim_due(_now(), limit, dispatched))

    async def claim(self, bot_id: UUID, runner_id: str) -> bool:
        """Give a dispatched bot to the runner that asks first (or asks again); refuse every
        other, and any once the bot has left the queue otherwise (cancelled, failed)."""
        async with self._bots.locked(bot_id) as unit:
            if unit is None:
                return False
            bot = unit.bot
            if BotStatus(bot.status) != BotStatus.QUEUED or bot.dispatched_at is None:
                return bot.runner_id == runner_id and BotStatus(bot.status).is_with_runner
            if bot.runner_id not in (None, runner_id):
                return False
            bot.runner_id = runner_id
            bot.last_seen_at = _now()
            return True

    async def join_secrets(self, bot_id: UUID, runner_id: str) -> dict[str, str] | QueryError:
        """The bot's Zoom secrets, sealed, for the runner that holds the bot and no other."""
        async with self._bots.locked(bot_id) as unit:
            if unit is None or unit.bot.runner_id != runner_id:
                return QueryError(status=404, code="BotNotFound",
                                  message=f"no bot {bot_id} held by runner {runner_id}")
            return dict(unit.bot.join_secrets or {})

    async def retranscribe(self, command: Retranscribe) -> QueryError | None:
        """Transcribe a completed bot's recording again (`POST /bots/retranscribe`)."""
        async with self._bots.locked(command.bot_id) as unit:
            if unit is None or unit.bot.account_id != command.account_id:
                return QueryError(status=404, code="BotNotFound",
                                  message=f"bot_uuid: no bot {command.bot_id}", field="bot_uuid")
            bot = unit.bot
            if bot.status != BotStatus.COMPLETED:
                return QueryError(
                    status=409, code="BotNotCompleted", field="bot_uuid",
                    message=f"bot_uuid: the bot is {bot.status}; only a completed bot's "
                            "recording can be transcribed again")
            if not RecordingArtifacts.model_validate(bot.artifacts).audio:
                return QueryError(
                    status=409, code="NoAudio", field="bot_uuid",
                    message="bot_uuid: the bot's recording has no audio (none was recorded, or "
                            "its data was deleted), so there is nothing to transcribe")
            self._request_transcription(unit, command.speech_to_text.provider,
                                        command.speech_to_text.api_key, rerun=True,
                                        webhook_url=command.webhook_url)
        return None

    def _request_transcription(self, unit: LockedBot, provider: str, sealed_api_key: str | None,
                               *, rerun: bool, webhook_url: str | None = None) -> None:
        bot = unit.bot
        event = TranscriptionRequested(
            bot_id=bot.bot_id,
            account_id=bot.account_id,
            artifacts=RecordingArtifacts.model_validate(bot.artifacts),
            provider=provider,
            has_key=sealed_api_key is not None,
            speakers=bot.speakers,
            rerun=rerun,
            webhook_url=webhook_url,
            language=bot.params.get("language"),
        )
        unit.request_transcription(TranscriptionRequest(
            id=event.event_id, bot_pk=bot.id, provider=provider, sealed_api_key=sealed_api_key,
            rerun=rerun, webhook_url=webhook_url, created_at=event.occurred_at))
        unit.emit(event)

    async def transcription_key(self, request_id: UUID) -> str | None:
        return await self._bots.transcription_key(request_id)

    async def live_transcription_key(self, bot_id: UUID) -> str | None:
        return await self._bots.live_transcription_key(bot_id)

    async def on_status_change(self, event: BotStatusChanged) -> None:
        async with self._bots.locked(event.bot_id) as unit:
            if unit is None:
                log.warning("status change for an unknown bot", extra={"bot_id": event.bot_id})
                return
            bot = unit.bot
            current = BotStatus(bot.status)
            if current == event.status:
                return
            if not is_legal_transition(current, event.status):
                log.warning("refused illegal transition %s -> %s", current, event.status,
                            extra={"bot_id": event.bot_id})
                return
            if event.status == BotStatus.FAILED:
                unit.emit(self._fail(unit, event.error or BotError.INTERNAL_ERROR,
                                     event.reason or EndReason.INTERNAL_ERROR,
                                     event.message or "The bot failed."))
            else:
                at = event.occurred_at
                bot.status = event.status
                bot.last_seen_at = _now()
                bot.runner_id = event.runner_id or bot.runner_id
                if event.status in (BotStatus.IN_CALL_NOT_RECORDING, BotStatus.IN_CALL_RECORDING):
                    bot.joined_at = bot.joined_at or at
                if event.status == BotStatus.CALL_ENDED:
                    bot.exited_at = at
                    bot.reason = event.reason
                unit.record_status(at)
                unit.emit(*self._complete_if_ready(unit))

    async def on_note(self, event: BotNoted) -> None:
        """What a runner noted of its bot goes into the bot's status history."""
        async with self._bots.locked(event.bot_id) as unit:
            if unit is None:
                log.warning("note for an unknown bot", extra={"bot_id": event.bot_id})
                return
            await unit.record_note(event.occurred_at, event.message)

    async def on_recording_uploaded(self, event: RecordingUploaded) -> None:
        """The recording is stored: the first transcript is asked for (if the bot wants one),
        and the bot completes once its call has ended and the transcript is there."""
        async with self._bots.locked(event.bot_id) as unit:
            if unit is None or unit.bot.recording_uploaded:
                return
            bot = unit.bot
            bot.artifacts = event.artifacts.model_dump(mode="json")
            bot.duration_s = event.duration_s
            bot.speakers = event.speakers
            bot.reason = bot.reason or event.end_reason
            bot.recording_uploaded = True
            stt = BotParams.model_validate(bot.params).speech_to_text
            if stt is not None and BotStatus(bot.status) != BotStatus.FAILED:
                self._request_transcription(unit, stt.provider, bot.speech_api_key, rerun=False)
            unit.emit(*self._complete_if_ready(unit))

    async def on_transcription_done(self, event: TranscriptionDone) -> None:
        """The first transcript completes the bot (if its call ended); a rerun changes nothing
        of the bot (the webhook-dispatcher delivers it). Either way the request's key is
        forgotten."""
        async with self._bots.locked(event.bot_id) as unit:
            if unit is None:
                return
            if event.request_id is not None:
                await unit.close_transcription_request(event.request_id, _now())
            bot = unit.bot
            if event.files:
                bot.artifacts = {**bot.artifacts, **event.files}
            if event.rerun or bot.transcription_finished:
                return
            if event.speakers:
                bot.speakers = event.speakers
            if event.error:
                log.error("transcription failed: %s", event.error, extra={"bot_id": bot.bot_id})
            bot.transcription_finished = True
            bot.has_transcript = event.error is None
            bot.transcription_error = event.error
            bot.speech_api_key = None
            unit.emit(*self._complete_if_ready(unit))

    async def on_heartbeat(self, runner_id: str, bot_ids: list[UUID]) -> list[UUID]:
        """Note that the runner is alive; the bots it must make leave."""
        try:
            leave = await self._bots.touch(bot_ids, runner_id, _now())
        except Exception:
            self._hearing_since = None
            raise
        if self._hearing_since is None:
            self._hearing_since = self._monotonic()
        return leave

    def _hears_runners(self) -> bool:
        """A scheduler that was down, or could not write heartbeats (its database was), has not
        heard runners meanwhile: their silence is judged only a whole timeout later."""
        return (self._hearing_since is not None and self._monotonic() - self._hearing_since
                >= self._heartbeat_timeout.total_seconds())

    async def sweep(self) -> None:
        """End bots whose runner went silent, bots a runner dropped without their last events
        ever arriving, and dispatched bots no runner took."""
        now = _now()
        silent = f"no heartbeat for {self._heartbeat_timeout.total_seconds():.0f} s"
        lost = await self._bots.silent_since(now - self._heartbeat_timeout) \
            if self._hears_runners() else []
        for bot_id in lost:
            await self._fail_if(
                bot_id, _held_by_runner,
                BotError.INTERNAL_ERROR, EndReason.RUNNER_LOST,
                f"The bot-runner hosting this bot stopped responding ({silent}). "
                "Files uploaded before were kept.",
            )
        abandoned = await self._bots.unlisted_since(now - self._abandoned_timeout) \
            if self._hears_runners() else []
        for bot_id in abandoned:
            await self._fail_if(
                bot_id, _held_by_runner, BotError.INTERNAL_ERROR, EndReason.INTERNAL_ERROR,
                f"The bot-runner stopped holding this bot over "
                f"{self._abandoned_timeout.total_seconds():.0f} s ago, and its last events "
                "never arrived.",
            )
        for bot_id in await self._bots.unclaimed_since(now - self._pickup_timeout):
            await self._fail_if(
                bot_id, lambda bot: BotStatus(bot.status) == BotStatus.QUEUED
                and bot.runner_id is None,
                BotError.INTERNAL_ERROR, EndReason.INTERNAL_ERROR,
                f"No bot-runner took the bot within {self._pickup_timeout.total_seconds():.0f} s.",
            )

    async def _fail_if(self, bot_id: UUID, still, error: BotError, reason: EndReason,
                       message: str) -> None:
        async with self._bots.locked(bot_id) as unit:
            if unit is not None and still(unit.bot):
                unit.emit(self._fail(unit, error, reason, message))

    @staticmethod
    def _wants_transcript(bot: Bot) -> bool:
        return bot.params.get("speech_to_text") is not None

    def _complete_if_ready(self, unit: LockedBot) -> list[Event]:
        """Complete once the call ended, the files are stored and the transcript (if asked) is."""
        bot = unit.bot
        if not (
            BotStatus(bot.status) == BotStatus.CALL_ENDED
            and bot.recording_uploaded
            and (bot.transcription_finished or not self._wants_transcript(bot))
        ):
            return []
        now = _now()
        bot.status = BotStatus.COMPLETED
        bot.ended_at = now
        bot.join_secrets = None
        unit.record_status(now)
        artifacts = RecordingArtifacts.model_validate(bot.artifacts)
        return [
            BotCompleted(
                bot_id=bot.bot_id,
                account_id=bot.account_id,
                mp4_key=artifacts.recording,
                audio_key=artifacts.audio,
                speakers=bot.speakers,
                has_transcript=bot.has_transcript,
                transcription_error=bot.transcription_error,
                duration_s=bot.duration_s,
                reason=bot.reason,
                extra=bot.params.get("extra"),
                event_uuid=bot.params.get("event_uuid"),
                data_files=data_files(artifacts),
                separate_audio_parts=artifacts.separate_audio,
                separate_video_parts=artifacts.separate_video,
            )
        ]

    @staticmethod
    def _fail(unit: LockedBot, error: BotError, reason: EndReason, message: str) -> BotFailed:
        bot = unit.bot
        now = _now()
        bot.status = BotStatus.FAILED
        bot.error, bot.reason, bot.message = error, reason, message
        bot.ended_at = now
        bot.exited_at = bot.exited_at or now
        bot.speech_api_key = None
        bot.join_secrets = None
        unit.record_status(now)
        return BotFailed(
            bot_id=bot.bot_id,
            account_id=bot.account_id,
            error=error,
            reason=reason,
            message=message,
            extra=bot.params.get("extra"),
            event_uuid=bot.params.get("event_uuid"),
        )

"""Bots for calendar events.

`POST /calendar_events/{uuid}/bot` stores the bot's parameters on the event (and, with
`all_occurrences`, on every instance of its series and for the instances later syncs bring).
Nothing reaches the scheduler before the event is close: `lead` before its start the bot is
handed over (`scheduler.bot.upsert_for_event`, with a bot id chosen here), due `join_ahead` before
the start. From then on every change the bot must follow (the event moved, its link changed, new
parameters, the event cancelled or deleted, the bot unscheduled) bumps the event's `bot_revision`,
and the handover loop sends that revision until the scheduler acknowledges it: a scheduler that
does not answer is asked again with a growing delay, and redeliveries are harmless (the scheduler
ignores revisions it has applied). The handover runs under row locks (`SKIP LOCKED`), so replicas
share the work and never hand over one event twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from calendar_sync.models import ACTIVE, Calendar, CalendarEvent, SeriesBot
from mb_shared.contracts.bot import BotParams
from mb_shared.contracts.calendar import ScheduleEventBot, UnscheduleEventBot
from mb_shared.contracts.queries import QueryError, UpsertEventBot
from mb_shared.database import session_scope
from mb_shared.meeting_urls import InvalidMeetingUrl, parse_meeting_url

log = logging.getLogger(__name__)

MEETING_FIELDS = ("meeting_url", "platform", "event_uuid", "start_time", "meeting_title")
"""What a stored bot parameter set leaves out: the event gives them."""
MAX_BACKOFF_S = 60.0

Upsert = Callable[[UpsertEventBot], Awaitable[None]]
"""Ask the scheduler to apply a revision of an event's bot; raises when it did not."""


def _now() -> datetime:
    return datetime.now(UTC)


def stored_params(params: BotParams, previous: dict[str, Any] | None,
                  keep_secrets: bool) -> dict[str, Any]:
    """The parameters as an event keeps them; with `keep_secrets`, a provider named again
    without its key keeps the key stored before."""
    stored = params.model_dump(mode="json", exclude=set(MEETING_FIELDS))
    stt, before = stored.get("speech_to_text"), (previous or {}).get("speech_to_text")
    if (keep_secrets and stt and before and stt.get("api_key") is None
            and stt.get("provider") == before.get("provider")):
        stt["api_key"] = before.get("api_key")
    return stored


def shown_params(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parameters as the API shows them: no key, sealed or not."""
    if stored is None:
        return None
    shown = dict(stored)
    if shown.get("speech_to_text"):
        shown["speech_to_text"] = {**shown["speech_to_text"], "api_key": None}
    return shown


def follow(event: CalendarEvent) -> None:
    """The event changed in a way its handed-over bot must follow."""
    if event.bot_id is not None and not event.bot_cancelled:
        event.bot_revision += 1


def ask_again(event: CalendarEvent) -> None:
    """A bot is wanted again for an event whose bot was cancelled: a new one is made."""
    if event.bot_cancelled:
        event.bot_id, event.bot_cancelled = None, False
        event.bot_revision = event.bot_synced_revision = 0


class EventBots:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], upsert: Upsert, *,
                 lead: timedelta = timedelta(minutes=2),
                 join_ahead: timedelta = timedelta(seconds=10),
                 clock: Callable[[], datetime] = _now) -> None:
        self._sessions = sessions
        self._upsert = upsert
        self._lead = lead
        self._join_ahead = join_ahead
        self._clock = clock

    async def _targets(self, session: AsyncSession, account_id: int, event_uuid: uuid.UUID,
                       all_occurrences: bool) -> list[CalendarEvent] | QueryError:
        event = (await session.exec(select(CalendarEvent).where(
            CalendarEvent.uuid == event_uuid).with_for_update())).first()
        if event is None or event.account_id != account_id:
            return QueryError(status=404, code="EventNotFound",
                              message=f"uuid: no calendar event {event_uuid}", field="uuid")
        if not all_occurrences or event.recurring_event_id is None:
            return [event]
        series = (await session.exec(select(CalendarEvent).where(
            CalendarEvent.calendar_uuid == event.calendar_uuid,
            CalendarEvent.recurring_event_id == event.recurring_event_id,
            CalendarEvent.end_time > self._clock()).order_by(
                col(CalendarEvent.start_time)).with_for_update())).all()
        return list(series) or [event]

    async def schedule(self, query: ScheduleEventBot) -> list[CalendarEvent] | QueryError:
        async with session_scope(self._sessions) as session:
            targets = await self._targets(session, query.account_id, query.event_uuid,
                                          query.all_occurrences)
            if isinstance(targets, QueryError):
                return targets
            chosen = next(e for e in targets if e.uuid == query.event_uuid) \
                if any(e.uuid == query.event_uuid for e in targets) else targets[0]
            if chosen.deleted:
                return QueryError(status=409, code="EventDeleted",
                                  message="uuid: the event was cancelled or deleted",
                                  field="uuid")
            if not chosen.meeting_url:
                return QueryError(
                    status=400, code="EventWithoutMeetingUrl",
                    message="uuid: the event has no Google Meet, Microsoft Teams or Zoom link "
                            "for a bot to join", field="uuid")
            for event in targets:
                ask_again(event)
                event.bot_param = stored_params(query.params, event.bot_param,
                                                query.keep_secrets)
                event.bot_api_key_prefix = query.api_key_prefix
                follow(event)
            if query.all_occurrences and chosen.recurring_event_id is not None:
                rule = await session.get(SeriesBot, (chosen.calendar_uuid,
                                                     chosen.recurring_event_id))
                params = stored_params(query.params, rule.bot_param if rule else None,
                                       query.keep_secrets)
                if rule is None:
                    session.add(SeriesBot(calendar_uuid=chosen.calendar_uuid,
                                          recurring_event_id=chosen.recurring_event_id,
                                          bot_param=params, api_key_prefix=query.api_key_prefix))
                else:
                    rule.bot_param, rule.api_key_prefix = params, query.api_key_prefix
            return targets

    async def unschedule(self, query: UnscheduleEventBot) -> list[CalendarEvent] | QueryError:
        async with session_scope(self._sessions) as session:
            targets = await self._targets(session, query.account_id, query.event_uuid,
                                          query.all_occurrences)
            if isinstance(targets, QueryError):
                return targets
            for event in targets:
                if event.bot_param is not None:
                    event.bot_param = None
                    follow(event)
            chosen = targets[0]
            if query.all_occurrences and chosen.recurring_event_id is not None:
                rule = await session.get(SeriesBot, (chosen.calendar_uuid,
                                                     chosen.recurring_event_id))
                if rule is not None:
                    await session.delete(rule)
            return targets

    async def hand_over_due(self, limit: int = 20) -> int:
        """Hand over the bots of events about to start, and send the changes not yet
        acknowledged; the number the scheduler acknowledged."""
        now = self._clock()
        done = 0
        async with session_scope(self._sessions) as session:
            events = (await session.exec(
                select(CalendarEvent)
                .join(Calendar, col(Calendar.uuid) == col(CalendarEvent.calendar_uuid))
                .where(
                    or_(
                        (col(CalendarEvent.bot_param).is_not(None))
                        & col(CalendarEvent.bot_id).is_(None)
                        & ~col(CalendarEvent.deleted)
                        & (col(CalendarEvent.meeting_url) != "")
                        & (col(CalendarEvent.start_time) <= now + self._lead)
                        & (col(CalendarEvent.end_time) > now)
                        & (col(Calendar.status) == ACTIVE),
                        col(CalendarEvent.bot_id).is_not(None)
                        & (col(CalendarEvent.bot_revision)
                           > col(CalendarEvent.bot_synced_revision)),
                    ),
                    or_(col(CalendarEvent.bot_retry_at).is_(None),
                        col(CalendarEvent.bot_retry_at) <= now),
                )
                .order_by(col(CalendarEvent.start_time))
                .limit(limit)
                .with_for_update(of=CalendarEvent, skip_locked=True))).all()
            for event in events:
                if event.bot_id is None:
                    event.bot_id, event.bot_revision = uuid.uuid4(), 1
                    event.bot_synced_revision = 0
                command = self._command(event)
                try:
                    await self._upsert(command)
                except Exception as exc:
                    event.bot_attempts += 1
                    delay = min(MAX_BACKOFF_S, 2.0 ** event.bot_attempts)
                    event.bot_retry_at = now + timedelta(seconds=delay)
                    event.bot_error = f"{type(exc).__name__}: {exc}"[:500]
                    log.warning("event %s: bot revision %d not applied (%s); again in %.0f s",
                                event.uuid, command.revision, event.bot_error, delay)
                    continue
                event.bot_synced_revision = command.revision
                event.bot_cancelled = command.params is None
                event.bot_attempts, event.bot_retry_at, event.bot_error = 0, None, None
                done += 1
        return done

    def _command(self, event: CalendarEvent) -> UpsertEventBot:
        params = None
        if event.bot_param is not None and not event.deleted and event.meeting_url:
            try:
                meeting = parse_meeting_url(event.meeting_url)
            except InvalidMeetingUrl:
                meeting = None
            if meeting is not None:
                params = BotParams.model_validate({
                    **event.bot_param, "meeting_url": meeting.url, "platform": meeting.platform,
                    "event_uuid": event.uuid, "meeting_title": event.name or None})
        assert event.bot_id is not None
        return UpsertEventBot(bot_id=event.bot_id, account_id=event.account_id,
                              event_uuid=event.uuid, revision=event.bot_revision,
                              join_at=event.start_time - self._join_ahead, params=params,
                              api_key_prefix=event.bot_api_key_prefix)


async def series_rules(session: AsyncSession, calendar_uuid: uuid.UUID) -> dict[str, SeriesBot]:
    rules = (await session.exec(select(SeriesBot).where(
        SeriesBot.calendar_uuid == calendar_uuid))).all()
    return {rule.recurring_event_id: rule for rule in rules}

"""Thin handlers: validate the query, call the service, reply. (No postponed annotations here:
each handler's parameter annotation is the query class itself, which FastStream reads to parse.)

Answers calendars.raw/create/update/get/delete/list/resync_all/push and
calendar_events.get/list, calendar_events.bot.schedule/unschedule and
zoom_connections.create/get/list/delete/obf_token (request/reply). Asks
scheduler.bot.upsert_for_event. Publishes (through the outbox): calendar.synced.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsRouter

from calendar_sync.service import CalendarService
from calendar_sync.zoom_connections import ZoomConnections
from mb_shared.contracts.base import Message
from mb_shared.contracts.calendar import (
    CalendarPush,
    CreateCalendar,
    CreateZoomConnection,
    DeleteCalendar,
    DeleteZoomConnection,
    GetCalendar,
    GetCalendarEvent,
    GetZoomConnection,
    GetZoomObfToken,
    ListCalendarEvents,
    ListCalendars,
    ListRawCalendars,
    ListZoomConnections,
    ResyncCalendars,
    ScheduleEventBot,
    UnscheduleEventBot,
    UpdateCalendar,
)
from mb_shared.contracts.queries import Query
from mb_shared.messaging import answers_errors

SERVICE = "calendar-sync"


def build_router(service: CalendarService, zoom: ZoomConnections) -> NatsRouter:
    router = NatsRouter()

    def answer(query_type: type[Query], method: Callable[[Any], Awaitable[Message]]) -> None:
        async def handle(query: query_type) -> dict:  # evaluated now: FastStream reads it
            return (await method(query)).model_dump(mode="json")

        handle.__name__ = handle.__qualname__ = f"on_{query_type.SUBJECT.replace('.', '_')}"
        router.subscriber(query_type.SUBJECT, queue=SERVICE)(answers_errors(handle))

    answer(ListRawCalendars, service.raw_calendars)
    answer(CreateCalendar, service.create)
    answer(UpdateCalendar, service.update)
    answer(GetCalendar, service.get)
    answer(DeleteCalendar, service.delete)
    answer(ListCalendars, service.list)
    answer(ResyncCalendars, service.resync_all)
    answer(CalendarPush, service.push)
    answer(GetCalendarEvent, service.get_event)
    answer(ListCalendarEvents, service.list_events)
    answer(ScheduleEventBot, service.schedule_bot)
    answer(UnscheduleEventBot, service.unschedule_bot)
    answer(CreateZoomConnection, zoom.create)
    answer(GetZoomConnection, zoom.get)
    answer(ListZoomConnections, zoom.list)
    answer(DeleteZoomConnection, zoom.delete)
    answer(GetZoomObfToken, zoom.sealed_obf_token)
    return router

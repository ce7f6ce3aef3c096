"""Thin handlers. Consumes bot.requested, bot.status_change, bot.completed, bot.failed,
transcription.done and meeting.import_requested (durable); answers meetings.create/get/list/
transcript/topics/data.purge (request/reply); publishes meeting.bot_requested,
meeting.import_requested and transcription.requested through the outbox."""

from __future__ import annotations

from faststream.nats import NatsRouter

from mb_shared.contracts.bot import BotCompleted, BotFailed, BotRequested, BotStatusChanged
from mb_shared.contracts.meetings import (
    CreateMeeting,
    GetMeeting,
    GetMeetingTranscript,
    ListMeetings,
    ListTopics,
    MeetingImportRequested,
    PurgeMeetingData,
    TopicList,
)
from mb_shared.contracts.queries import PurgeReply
from mb_shared.contracts.transcription import TranscriptionDone
from mb_shared.messaging import answers_errors
from mb_shared.service_kit import ServiceKit
from meetings import topics
from meetings.book import MeetingBook

SERVICE = "meetings"
SUMMARY_ACK_WAIT_S = 300.0
"""A consumer that may summarise keeps its message this long (a remote model can be slow)."""
IMPORT_ACK_WAIT_S = 120.0
"""The import consumer's message is kept in progress while it fetches (see consumers.py)."""


def consume(kit: ServiceKit, book: MeetingBook) -> None:
    kit.consume(BotRequested, book.on_bot_requested)
    kit.consume(BotStatusChanged, book.on_status_change)
    kit.consume(BotFailed, book.on_bot_failed)
    kit.consume(BotCompleted, book.on_bot_completed, ack_wait_s=SUMMARY_ACK_WAIT_S)
    kit.consume(TranscriptionDone, book.on_transcription_done, ack_wait_s=SUMMARY_ACK_WAIT_S)
    kit.consume(MeetingImportRequested, book.on_import_requested, ack_wait_s=IMPORT_ACK_WAIT_S)


def build_router(book: MeetingBook) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(CreateMeeting.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_create(command: CreateMeeting) -> dict:
        return (await book.create(command)).model_dump(mode="json")

    @router.subscriber(GetMeeting.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_get(query: GetMeeting) -> dict:
        return (await book.get(query.account_id, query.meeting_id)).model_dump(mode="json")

    @router.subscriber(GetMeetingTranscript.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_transcript(query: GetMeetingTranscript) -> dict:
        return (await book.transcript(query.account_id, query.meeting_id)).model_dump(mode="json")

    @router.subscriber(ListMeetings.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_list(query: ListMeetings) -> dict:
        return (await book.list(query)).model_dump(mode="json")

    @router.subscriber(PurgeMeetingData.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_purge(query: PurgeMeetingData) -> dict:
        return PurgeReply(removed=await book.purge(query.bot_id)).model_dump(mode="json")

    @router.subscriber(ListTopics.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_topics(query: ListTopics) -> dict:
        return TopicList(topics=topics.TOPICS).model_dump(mode="json")

    return router

"""The meeting book: meetings created on request or for every bot, kept up to date from the bot's
events, given their transcript and then their summary, notes and keywords; and the queries the
gateway asks.

Every bot is a meeting: `bot.requested` makes one (a meeting created with a meeting URL already
has its bot's id, so its own bot's request finds it). Events of one bot can arrive in any order
across subjects; each handler creates the meeting it needs and only moves it forward, so any
order, and any redelivery, ends in the same meeting.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from uuid import UUID

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from yarl import URL

from mb_shared.contracts.bot import (
    BotCompleted,
    BotFailed,
    BotParams,
    BotRequested,
    BotStatus,
    BotStatusChanged,
    Platform,
    SpeechToTextProvider,
)
from mb_shared.contracts.meetings import (
    CalendarEventSnapshot,
    CreateMeeting,
    ListMeetings,
    MeetingBotRequested,
    MeetingImportRequested,
    MeetingKind,
    MeetingPage,
    MeetingStatus,
    MeetingTranscript,
    MeetingTranscriptLine,
    MeetingView,
)
from mb_shared.contracts.meetings import MeetingParticipant as ParticipantView
from mb_shared.contracts.queries import QueryError
from mb_shared.contracts.recording import RecordingArtifacts
from mb_shared.contracts.transcription import (
    TranscriptionDone,
    TranscriptionRequested,
    TranscriptSegment,
)
from mb_shared.database import session_scope
from mb_shared.outbox import Outbox
from mb_shared.secrets import KeyRing
from meetings import topics
from meetings.imports import ImportRefused, ImportUnavailable
from meetings.models import Meeting, MeetingParticipant, Person, TranscriptLine
from meetings.ports import Importer
from meetings.summaries import MeetingSummary, Summariser, Utterance

log = logging.getLogger(__name__)

Transcripts = Callable[[UUID], Awaitable[list[TranscriptSegment] | None]]
"""A bot's current transcript (the transcriber's), None when it has none."""

PLATFORM_NAMES = {Platform.GOOGLE_MEET: "Google Meet", Platform.MICROSOFT_TEAMS: "Microsoft Teams",
                  Platform.ZOOM: "Zoom"}
_RANK = {MeetingStatus.SCHEDULED: 0, MeetingStatus.IN_PROGRESS: 1, MeetingStatus.PROCESSING: 2,
         MeetingStatus.COMPLETED: 3, MeetingStatus.FAILED: 3}
_BOT_STATUS = {
    BotStatus.JOINING_CALL: MeetingStatus.IN_PROGRESS,
    BotStatus.IN_WAITING_ROOM: MeetingStatus.IN_PROGRESS,
    BotStatus.IN_CALL_NOT_RECORDING: MeetingStatus.IN_PROGRESS,
    BotStatus.IN_CALL_RECORDING: MeetingStatus.IN_PROGRESS,
    BotStatus.CALL_ENDED: MeetingStatus.PROCESSING,
}
DATA_DELETED = "The meeting's data was deleted (POST /bots/{uuid}/delete_data)."
_TRANSCRIPTION_NAMESPACE = uuid.UUID("4e0f6c2a-9b1d-4f3e-8a7c-5d2b1e0f9a63")
NOTHING_SAID = "Nothing was said in this meeting, so there is nothing to summarise."


def _now() -> datetime:
    return datetime.now(UTC)


def _not_found(meeting_id: int) -> QueryError:
    return QueryError(status=404, code="MeetingNotFound", message=f"No meeting {meeting_id}",
                      field="meeting_id")


def bot_meeting_title(params: BotParams) -> str:
    return params.meeting_title or f"{PLATFORM_NAMES[params.platform]} meeting"


def _identity(email: str | None, name: str | None) -> str:
    return f"email:{email.strip().lower()}" if email else f"name:{(name or '').strip()}"


def shown_url(url: str) -> str:
    """A file's URL as a meeting's `location` shows it: without what may grant access to the
    file (user and password, query, fragment)."""
    return str(URL(url).with_user(None).with_query(None).with_fragment(None))


def lines_of(segments: Sequence[TranscriptSegment]) -> list[MeetingTranscriptLine]:
    """The transcriber's segments as lines: one per segment, its words joined."""
    lines = []
    for segment in segments:
        text = re.sub(r"\s+", " ", " ".join(w.word.strip() for w in segment.words)).strip()
        if text:
            lines.append(MeetingTranscriptLine(speaker=segment.speaker, text=text,
                                               start_time=segment.start_time,
                                               end_time=segment.end_time))
    return lines


class MeetingBook:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox,
                 summariser: Summariser, transcripts: Transcripts, importer: Importer,
                 import_attempts: int, key_ring: KeyRing) -> None:
        self._sessions = sessions
        self._ring = key_ring
        self._outbox = outbox
        self._summariser = summariser
        self._transcripts = transcripts
        self._importer = importer
        self._import_attempts = import_attempts
        """How many times a fetch that may pass later is tried before the import fails."""

    # -- requests -------------------------------------------------------------------------

    async def create(self, command: CreateMeeting) -> MeetingView | QueryError:
        topic = None
        if command.topic_id is not None:
            topic = topics.BY_ID.get(command.topic_id)
            if topic is None:
                return QueryError(status=400, code="InvalidTopic", field="topic_id",
                                  message=f"topic_id: no topic {command.topic_id}; "
                                  "GET /topics/ lists them")
        kind = (MeetingKind.BOT if command.bot else
                MeetingKind.IMPORT if command.file_url else MeetingKind.STANDARD)
        file_url = self._ring.open(command.file_url) if command.file_url else None
        event = command.calendar_event
        now = _now()
        meeting = Meeting(
            account_id=command.account_id, kind=kind, title=command.title.strip(),
            status=MeetingStatus.SCHEDULED, created_at=now,
            start_time=command.start_time or command.bot_join_at
            or (event.start_time if event else None),
            end_time=event.end_time if event and kind == MeetingKind.STANDARD else None,
            location=(command.bot.meeting_url if command.bot else
                      shown_url(file_url) if file_url else
                      event.meeting_link if event else None),
            language=topic.language if topic else None,
            topic_id=command.topic_id, from_calendar=event is not None,
            calendar_event=event.model_dump(mode="json") if event else None,
            file_url=self._ring.seal(file_url) if file_url else None,
            speaker_count=command.speaker_count,
            bot_id=uuid.uuid4() if command.bot else None,
            import_id=uuid.uuid4() if kind == MeetingKind.IMPORT else None,
        )
        async with session_scope(self._sessions) as session:
            session.add(meeting)
            await session.flush()
            assert meeting.id is not None
            people = [(email, None) for email in command.participants]
            if event is not None:
                people += [(a.get("email"), a.get("display_name") or a.get("name"))
                           for a in event.attendees if a.get("email") or a.get("display_name")]
                if event.organizer_email:
                    host = await self._people(session, meeting.account_id,
                                              [(event.organizer_email, None)])
                    meeting.host_id = host[0]
                    people.append((event.organizer_email, None))
            await self._join(session, meeting, people)
            if command.bot is not None:
                assert meeting.bot_id is not None
                await self._outbox.put(session, [MeetingBotRequested(
                    meeting_id=meeting.id, bot_id=meeting.bot_id, account_id=meeting.account_id,
                    join_at=command.bot_join_at or now,
                    params=command.bot.without_secrets().model_copy(
                        update={"language": meeting.language or command.bot.language}))])
            if meeting.import_id is not None:
                await self._outbox.put(session, [MeetingImportRequested(
                    meeting_id=meeting.id, import_id=meeting.import_id)])
            return await self._view(session, meeting)

    async def get(self, account_id: int, meeting_id: int) -> MeetingView | QueryError:
        async with self._sessions() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None or meeting.account_id != account_id:
                return _not_found(meeting_id)
            return await self._view(session, meeting)

    async def transcript(self, account_id: int, meeting_id: int
                         ) -> MeetingTranscript | QueryError:
        async with self._sessions() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None or meeting.account_id != account_id:
                return _not_found(meeting_id)
            rows = (await session.exec(
                select(TranscriptLine).where(col(TranscriptLine.meeting_id) == meeting_id)
                .order_by(col(TranscriptLine.position)))).scalars().all()
        return MeetingTranscript(meeting_id=meeting_id, title=meeting.title, lines=[
            MeetingTranscriptLine(speaker=r.speaker, text=r.text, start_time=r.start_time,
                                  end_time=r.end_time) for r in rows])

    async def list(self, query: ListMeetings) -> MeetingPage:
        conditions = [col(Meeting.account_id) == query.account_id]
        if query.title:
            escaped = re.sub(r"([\\%_])", r"\\\1", query.title)
            conditions.append(col(Meeting.title).ilike(f"%{escaped}%", escape="\\"))
        if query.participant_ids:
            conditions.append(exists().where(
                col(MeetingParticipant.meeting_id) == col(Meeting.id),
                col(MeetingParticipant.person_id).in_(query.participant_ids)))
        if query.created_after is not None:
            conditions.append(col(Meeting.created_at) >= datetime.combine(
                query.created_after, time.min, UTC))
        if query.created_before is not None:
            conditions.append(col(Meeting.created_at) < datetime.combine(
                query.created_before + timedelta(days=1), time.min, UTC))
        if query.summary_complete is not None:
            conditions.append(col(Meeting.summary_complete) == query.summary_complete)
        if query.from_calendar is not None:
            conditions.append(col(Meeting.from_calendar) == query.from_calendar)
        async with self._sessions() as session:
            count = (await session.exec(
                select(func.count()).select_from(Meeting).where(*conditions))).scalar_one()
            start = func.coalesce(col(Meeting.start_time), col(Meeting.created_at))
            rows = (await session.exec(
                select(Meeting).where(*conditions)
                .order_by(start.desc(), col(Meeting.id).desc())
                .offset(query.offset).limit(query.limit))).scalars().all()
            views = await self._views(session, rows)
        return MeetingPage(count=count, meetings=views)

    # -- bot events -------------------------------------------------------------------------

    async def on_bot_requested(self, event: BotRequested) -> None:
        async with session_scope(self._sessions) as session:
            await self._bot_meeting(session, event.bot_id, event.account_id, event.params,
                                    event.occurred_at)

    async def on_status_change(self, event: BotStatusChanged) -> None:
        target = _BOT_STATUS.get(event.status)
        async with session_scope(self._sessions) as session:
            meeting = await self._by_bot(session, event.bot_id)
            if meeting is None or target is None:
                return  # its bot.requested (or completion) makes it; statuses only move it on
            self._advance(meeting, target)
            if event.status == BotStatus.IN_CALL_RECORDING and meeting.start_time is None:
                meeting.start_time = event.occurred_at

    async def on_bot_failed(self, event: BotFailed) -> None:
        async with session_scope(self._sessions) as session:
            meeting = await self._bot_meeting(session, event.bot_id, event.account_id, None,
                                              event.occurred_at)
            if meeting.status != MeetingStatus.COMPLETED:
                meeting.status = MeetingStatus.FAILED
                meeting.error = f"{event.error}: {event.message}"
                meeting.end_time = meeting.end_time or event.occurred_at

    async def on_bot_completed(self, event: BotCompleted) -> None:
        async with session_scope(self._sessions) as session:
            meeting = await self._bot_meeting(session, event.bot_id, event.account_id, None,
                                              event.occurred_at)
            meeting.recording_key = event.mp4_key or event.audio_key
            meeting.recording_format = (meeting.recording_key.rsplit(".", 1)[-1]
                                        if meeting.recording_key else None)
            meeting.duration_s = event.duration_s
            meeting.end_time = meeting.end_time or event.occurred_at
            if meeting.start_time is None:
                meeting.start_time = event.occurred_at - timedelta(seconds=event.duration_s)
            await self._join(session, meeting, [(None, name) for name in event.speakers])
            if not event.has_transcript:
                meeting.status = MeetingStatus.COMPLETED
                meeting.error = (f"no transcript: {event.transcription_error}"
                                 if event.transcription_error else meeting.error)
                return
            summarised = meeting.summary_complete
            meeting_id = meeting.id
        if not summarised:
            await self._summarise_bot(event.bot_id)
        async with session_scope(self._sessions) as session:
            meeting = await session.get(Meeting, meeting_id)
            assert meeting is not None
            meeting.status = MeetingStatus.COMPLETED

    async def on_transcription_done(self, event: TranscriptionDone) -> None:
        """A recording's transcript: a bot's (first or rerun), whose meeting's lines and summary
        follow it (the first usually comes before the bot's completion, which then finds it
        summarised); or an imported file's, which completes its meeting."""
        async with self._sessions() as session:
            meeting = await self._by_bot(session, event.bot_id)
        if meeting is None:
            return  # a bot whose completion summarises it
        if meeting.import_id != event.bot_id:
            if event.error is None and event.transcript_id is not None:
                await self._summarise_bot(event.bot_id)
            return
        if event.error is not None:
            await self._fail_import(event.bot_id, f"the file could not be transcribed: "
                                    f"{event.error}")
            return
        await self._summarise_bot(event.bot_id)
        async with session_scope(self._sessions) as session:
            meeting = await self._by_import(session, event.bot_id)
            assert meeting is not None
            meeting.status = MeetingStatus.COMPLETED

    # -- imports --------------------------------------------------------------------------

    async def on_import_requested(self, event: MeetingImportRequested) -> None:
        """Fetch, check and store the file, then ask for its transcript, speakers found. A
        refusal fails the meeting at once; a fetch that may pass later is tried again (the
        consumer's backoff) until the last attempt, which fails it."""
        async with session_scope(self._sessions) as session:
            meeting = await self._by_import(session, event.import_id)
            if meeting is None or meeting.status not in (MeetingStatus.SCHEDULED,
                                                          MeetingStatus.IN_PROGRESS):
                return
            meeting.status = MeetingStatus.IN_PROGRESS
            meeting.import_attempts += 1
            attempt, sealed_url = meeting.import_attempts, meeting.file_url
            meeting_id = meeting.id
        assert sealed_url is not None and meeting_id is not None
        url = self._ring.open(sealed_url)
        prefix = f"meetings/{meeting_id}/"
        try:
            stored = await self._importer.store(url, prefix)
        except ImportRefused as exc:
            await self._importer.forget(prefix)
            await self._fail_import(event.import_id, str(exc))
            return
        except ImportUnavailable as exc:
            await self._importer.forget(prefix)
            if attempt >= self._import_attempts:
                await self._fail_import(event.import_id, f"{exc} (tried {attempt} times)")
                return
            raise
        async with session_scope(self._sessions) as session:
            meeting = await self._by_import(session, event.import_id)
            assert meeting is not None
            meeting.status = MeetingStatus.PROCESSING
            meeting.recording_key, meeting.recording_format = stored.recording, stored.format
            meeting.duration_s = stored.duration_s
            meeting.start_time = meeting.start_time or meeting.created_at
            meeting.end_time = meeting.start_time + timedelta(seconds=stored.duration_s)
            await self._outbox.put(session, [TranscriptionRequested(
                event_id=uuid.uuid5(_TRANSCRIPTION_NAMESPACE, str(event.import_id)),
                bot_id=event.import_id, account_id=meeting.account_id,
                artifacts=RecordingArtifacts(audio=stored.audio),
                provider=SpeechToTextProvider.DEFAULT, language=meeting.language,
                find_speakers=True, speaker_count=meeting.speaker_count)])

    async def _fail_import(self, import_id: UUID, why: str) -> None:
        async with session_scope(self._sessions) as session:
            meeting = await self._by_import(session, import_id)
            if meeting is None:
                return
            meeting.status = MeetingStatus.FAILED
            meeting.error = why
            meeting.recording_key = meeting.recording_format = None
            meeting.duration_s = None
        if meeting.id is not None:
            await self._importer.forget(f"meetings/{meeting.id}/")

    async def purge(self, bot_id: UUID) -> int:
        """The bot's data deleted: its meeting keeps what it was (title, times, invited
        people) and loses its transcript, summary, notes, keywords, recording and the names
        heard speaking. How many of those it still had."""
        async with session_scope(self._sessions) as session:
            meeting = await self._by_bot(session, bot_id)
            if meeting is None:
                return 0
            lines = (await session.exec(delete(TranscriptLine).where(
                col(TranscriptLine.meeting_id) == meeting.id))).rowcount
            heard = (await session.exec(delete(MeetingParticipant).where(
                col(MeetingParticipant.meeting_id) == meeting.id,
                col(MeetingParticipant.person_id).in_(
                    select(Person.id).where(col(Person.email).is_(None)))))).rowcount
            removed = lines + heard + sum(1 for value in (meeting.summary, meeting.notes,
                                                          meeting.recording_key) if value)
            meeting.summary = meeting.notes = None
            meeting.keywords = []
            meeting.recording_key = meeting.recording_format = None
            meeting.summary_complete = False
            meeting.num_cluster = None
            meeting.error = DATA_DELETED
            return removed

    # -- summaries ------------------------------------------------------------------------

    async def _summarise_bot(self, bot_id: UUID) -> None:
        segments = await self._transcripts(bot_id)
        await self._summarise(bot_id, lines_of(segments or []))

    async def _summarise(self, bot_id: UUID, lines: list[MeetingTranscriptLine]) -> None:
        async with self._sessions() as session:
            meeting = await self._by_bot(session, bot_id)
            if meeting is None:
                raise LookupError(f"no meeting of bot {bot_id}")
            title, language = meeting.title, meeting.language
            topic = topics.BY_ID.get(meeting.topic_id) if meeting.topic_id else None
        summary = await self._summary(title, language, topic.context if topic else None, lines)
        async with session_scope(self._sessions) as session:
            meeting = await self._by_bot(session, bot_id)
            assert meeting is not None and meeting.id is not None
            await self._store(session, meeting, lines, summary)

    async def _summary(self, title: str, language: str | None, context: str | None,
                       lines: list[MeetingTranscriptLine]) -> MeetingSummary | None:
        if not lines:
            return None
        return await self._summariser.summarise(
            title=title, language=language or topics.DEFAULT_LANGUAGE, context=context,
            utterances=[Utterance(speaker=line.speaker, text=line.text, start=line.start_time,
                                  end=line.end_time) for line in lines])

    async def _store(self, session: AsyncSession, meeting: Meeting,
                     lines: list[MeetingTranscriptLine], summary: MeetingSummary | None) -> None:
        """The meeting's transcript and summary, replacing what it had, in one transaction."""
        await session.exec(delete(TranscriptLine).where(
            col(TranscriptLine.meeting_id) == meeting.id))
        session.add_all(TranscriptLine(meeting_id=meeting.id, position=n, speaker=line.speaker,
                                       text=line.text, start_time=line.start_time,
                                       end_time=line.end_time)
                        for n, line in enumerate(lines))
        speakers = sorted({line.speaker for line in lines})
        meeting.num_cluster = len(speakers)
        await self._join(session, meeting, [(None, name) for name in speakers])
        meeting.summary = summary.summary if summary else None
        meeting.notes = summary.notes if summary else None
        meeting.keywords = summary.keywords if summary else []
        meeting.error = None if summary else NOTHING_SAID
        meeting.language = meeting.language or topics.DEFAULT_LANGUAGE
        meeting.summary_complete = True

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _advance(meeting: Meeting, status: MeetingStatus) -> None:
        if _RANK[status] > _RANK[MeetingStatus(meeting.status)]:
            meeting.status = status

    @staticmethod
    async def _by_bot(session: AsyncSession, bot_id: UUID) -> Meeting | None:
        """The meeting whose transcript is the transcriber's under `bot_id`: a bot's, or an
        imported file's."""
        return (await session.exec(
            select(Meeting).where(or_(col(Meeting.bot_id) == bot_id,
                                      col(Meeting.import_id) == bot_id))
            .with_for_update())).scalars().first()

    @staticmethod
    async def _by_import(session: AsyncSession, import_id: UUID) -> Meeting | None:
        return (await session.exec(select(Meeting).where(col(Meeting.import_id) == import_id)
                                   .with_for_update())).scalars().first()

    async def _bot_meeting(self, session: AsyncSession, bot_id: UUID, account_id: int,
                           params: BotParams | None, at: datetime) -> Meeting:
        """The bot's meeting, made now if it has none yet (from `params` when known)."""
        values = dict(account_id=account_id, kind=MeetingKind.BOT, status=MeetingStatus.SCHEDULED,
                      created_at=at, bot_id=bot_id, keywords=[], summary_complete=False,
                      from_calendar=False,
                      title=bot_meeting_title(params) if params else "Meeting")
        if params is not None:
            values |= dict(location=params.meeting_url, from_calendar=params.event_uuid is not None,
                           start_time=(datetime.fromtimestamp(params.start_time, UTC)
                                       if params.start_time else None))
        await session.exec(insert(Meeting).values(**values)
                           .on_conflict_do_nothing(index_elements=["bot_id"]))
        meeting = await self._by_bot(session, bot_id)
        assert meeting is not None
        if params is not None and meeting.location is None:
            meeting.title = bot_meeting_title(params)
            meeting.location = params.meeting_url
            meeting.from_calendar = meeting.from_calendar or params.event_uuid is not None
        return meeting

    async def _people(self, session: AsyncSession, account_id: int,
                      people: Iterable[tuple[str | None, str | None]]) -> list[int]:
        ids = []
        for email, name in people:
            if not (email or name):
                continue
            identity = _identity(email, name)
            await session.exec(insert(Person).values(
                account_id=account_id, identity=identity, email=email.strip() if email else None,
                name=name).on_conflict_do_nothing(index_elements=["account_id", "identity"]))
            person = (await session.exec(select(Person).where(
                col(Person.account_id) == account_id, col(Person.identity) == identity))
            ).scalars().one()
            if name and not person.name:
                person.name = name
            ids.append(person.id)
        return ids

    async def _join(self, session: AsyncSession, meeting: Meeting,
                    people: Iterable[tuple[str | None, str | None]]) -> None:
        for person_id in await self._people(session, meeting.account_id, people):
            await session.exec(insert(MeetingParticipant).values(
                meeting_id=meeting.id, person_id=person_id).on_conflict_do_nothing())

    @classmethod
    async def _view(cls, session: AsyncSession, meeting: Meeting) -> MeetingView:
        (view,) = await cls._views(session, [meeting])
        return view

    @staticmethod
    async def _views(session: AsyncSession, meetings: Sequence[Meeting]) -> list[MeetingView]:
        """The meetings as shown, their participants read in one query."""
        if not meetings:
            return []
        rows = (await session.exec(
            select(MeetingParticipant.meeting_id, Person)
            .join(Person, col(MeetingParticipant.person_id) == Person.id)
            .where(col(MeetingParticipant.meeting_id).in_([m.id for m in meetings]))
            .order_by(col(Person.id)))).all()
        participants_of: dict[int, list[ParticipantView]] = {}
        for meeting_id, person in rows:
            participants_of.setdefault(meeting_id, []).append(
                ParticipantView(id=person.id, name=person.name, email=person.email))
        return [_view_of(meeting, participants_of.get(meeting.id, [])) for meeting in meetings]


def _view_of(meeting: Meeting, participants: list[ParticipantView]) -> MeetingView:
    host = next((p for p in participants if p.id == meeting.host_id), None)
    return MeetingView(
        id=meeting.id, organization_id=meeting.account_id, kind=MeetingKind(meeting.kind),
        title=meeting.title, status=MeetingStatus(meeting.status), error=meeting.error,
        start_time=meeting.start_time, end_time=meeting.end_time,
        created_at=meeting.created_at, location=meeting.location, language=meeting.language,
        topic_id=meeting.topic_id, bot_id=meeting.bot_id, from_calendar=meeting.from_calendar,
        calendar_event=(CalendarEventSnapshot.model_validate(meeting.calendar_event)
                        if meeting.calendar_event else None),
        host=host, participants=participants, duration_s=meeting.duration_s,
        num_cluster=meeting.num_cluster, summary_complete=meeting.summary_complete,
        summary=meeting.summary, notes=meeting.notes, keywords=list(meeting.keywords or []),
        recording_key=meeting.recording_key, recording_format=meeting.recording_format)


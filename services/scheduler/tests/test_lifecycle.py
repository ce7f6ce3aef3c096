"""The bot lifecycle with an in-memory repository: transitions, completion in any order, failures."""

from __future__ import annotations

import itertools
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from mb_shared.contracts.bot import (
    BotCompleted,
    BotError,
    BotFailed,
    BotParams,
    BotRequested,
    BotStatus,
    BotStatusChanged,
    EndReason,
    Platform,
    SpeechToText,
)
from mb_shared.contracts.queries import CreateBot, Retranscribe
from mb_shared.contracts.recording import RecordingArtifacts, RecordingUploaded
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptionRequested
from scheduler.service import BotScheduler

_ids = itertools.count(1)


@dataclass
class _Locked:
    bot: object
    history: list
    events: list
    requests: dict

    def record_status(self, at):
        self.history.append((self.bot.status, at))

    def emit(self, *events):
        self.events.extend(events)

    def request_transcription(self, request):
        self.requests[request.id] = request

    async def close_transcription_request(self, request_id, at):
        self.requests[request_id].sealed_api_key = None
        self.requests[request_id].done_at = at


class FakeBots:
    """The repository in memory; what is staged in the outbox lands in `published` on commit."""

    def __init__(self, published):
        self.bots = {}
        self.history = []
        self.published = published
        self.requests = {}
        self.runners = {}

    async def add(self, bot, at, dedup_window, events):
        for other in self.bots.values():
            if (other.account_id == bot.account_id
                    and other.params["meeting_url"] == bot.params["meeting_url"]
                    and other.params.get("deduplication_key") == bot.params.get("deduplication_key")
                    and other.created_at > at - dedup_window
                    and other.status != BotStatus.FAILED):
                return other
        bot.id = next(_ids)
        self.bots[bot.bot_id] = bot
        self.history.append((bot.status, at))
        self.published.extend(events)
        return None

    async def get(self, bot_id):
        return self.bots.get(bot_id)

    @asynccontextmanager
    async def locked(self, bot_id):
        bot = self.bots.get(bot_id)
        if bot is None:
            yield None
            return
        unit = _Locked(bot, self.history, [], self.requests)
        yield unit
        self.published.extend(unit.events)

    async def history(self, bot):
        return []

    async def claim_due(self, now, limit, dispatch):
        due = [b for b in self.bots.values()
               if b.status == BotStatus.QUEUED and b.dispatched_at is None and b.due_at <= now]
        for b in due:
            b.dispatched_at = now
            self.published.append(dispatch(b))
        return due

    async def touch(self, bot_ids, runner_id, at):
        self.runners[runner_id] = at
        for bot_id in bot_ids:
            self.bots[bot_id].last_seen_at = at
            self.bots[bot_id].runner_id = runner_id
        return [b for b in bot_ids if self.bots[b].leave_requested_at
                or BotStatus(self.bots[b].status).is_terminal]

    async def transcription_key(self, request_id):
        request = self.requests.get(request_id)
        return request.sealed_api_key if request else None

    def _held(self, bot):
        return BotStatus(bot.status).is_with_runner or (
            bot.status == BotStatus.QUEUED and bot.runner_id)

    async def silent_since(self, before):
        return [b.bot_id for b in self.bots.values() if self._held(b)
                and (self.runners.get(b.runner_id) or b.last_seen_at or before) < before]

    async def unlisted_since(self, before):
        return [b.bot_id for b in self.bots.values() if self._held(b)
                and b.last_seen_at and b.last_seen_at < before
                and b.runner_id in self.runners and self.runners[b.runner_id] >= before]

    async def unclaimed_since(self, before):
        return [b.bot_id for b in self.bots.values() if b.status == BotStatus.QUEUED
                and b.dispatched_at and b.dispatched_at < before and b.runner_id is None]


@pytest.fixture
def published():
    return []


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic():
    return Monotonic()


@pytest.fixture
def scheduler(published, monotonic):
    return BotScheduler(FakeBots(published), heartbeat_timeout=timedelta(seconds=30),
                        pickup_timeout=timedelta(seconds=300), monotonic=monotonic)


def params(**extra):
    return BotParams(meeting_url="https://meet.google.com/abc-defg-hij",
                     platform=Platform.GOOGLE_MEET, bot_name="Bot", **extra)


async def create(scheduler, **extra):
    extra.setdefault("deduplication_key", str(next(_ids)))
    return await scheduler.create(CreateBot(account_id=1, params=params(**extra)), {})


async def walk(scheduler, bot, *statuses):
    for status in statuses:
        await scheduler.on_status_change(BotStatusChanged(bot_id=bot.bot_id, status=status))


def uploaded(bot):
    return RecordingUploaded(bot_id=bot.bot_id, artifacts=RecordingArtifacts(mp4="m", audio="a"),
                             started_at=None, duration_s=10, end_reason=EndReason.MEETING_ENDED,
                             speakers=["Alice"])


def requested(published) -> list[TranscriptionRequested]:
    return [e for e in published if isinstance(e, TranscriptionRequested)]


def done(request, **fields):
    fields.setdefault("speakers", ["Alice"])
    return TranscriptionDone(bot_id=request.bot_id, request_id=request.event_id,
                             transcript_id=fields.pop("transcript_id", 1), provider="Default",
                             word_count=3, rerun=request.rerun, **fields)


IN_CALL = (BotStatus.JOINING_CALL, BotStatus.IN_CALL_NOT_RECORDING, BotStatus.IN_CALL_RECORDING)


async def test_creation_announces_the_bot(scheduler, published):
    bot = await create(scheduler)
    assert isinstance(published[0], BotRequested) and published[0].bot_id == bot.bot_id
    assert bot.status == BotStatus.QUEUED


async def test_an_illegal_transition_is_refused(scheduler):
    bot = await create(scheduler)
    await walk(scheduler, bot, BotStatus.IN_CALL_RECORDING)
    assert bot.status == BotStatus.QUEUED
    await walk(scheduler, bot, *IN_CALL, BotStatus.CALL_ENDED, BotStatus.IN_CALL_RECORDING)
    assert bot.status == BotStatus.CALL_ENDED


@pytest.mark.parametrize("upload_first", [True, False])
async def test_without_transcription_the_bot_completes_when_ended_and_uploaded(
    scheduler, published, upload_first
):
    bot = await create(scheduler)
    await walk(scheduler, bot, *IN_CALL)
    if upload_first:
        await scheduler.on_recording_uploaded(uploaded(bot))
        await walk(scheduler, bot, BotStatus.CALL_ENDED)
    else:
        await walk(scheduler, bot, BotStatus.CALL_ENDED)
        await scheduler.on_recording_uploaded(uploaded(bot))
    completed = [e for e in published if isinstance(e, BotCompleted)]
    assert len(completed) == 1 and not completed[0].has_transcript
    assert bot.status == BotStatus.COMPLETED


async def test_with_transcription_the_bot_asks_for_it_and_waits(scheduler, published):
    bot = await create(scheduler, speech_to_text=SpeechToText(provider="Gladia",
                                                              api_key="sealed:key"))
    assert bot.speech_api_key == "sealed:key"
    assert all(e.params.speech_to_text.api_key is None for e in published
               if isinstance(e, BotRequested))
    await walk(scheduler, bot, *IN_CALL, BotStatus.CALL_ENDED)
    await scheduler.on_recording_uploaded(uploaded(bot))
    (request,) = requested(published)
    assert request.provider == "Gladia" and request.has_key and not request.rerun
    assert request.artifacts.audio == "a" and request.speakers == ["Alice"]
    assert "sealed:key" not in request.model_dump_json()
    assert await scheduler.transcription_key(request.event_id) == "sealed:key"
    assert not [e for e in published if isinstance(e, BotCompleted)]
    await scheduler.on_transcription_done(done(request, speakers=["Alice", "Bob"]))
    (completed,) = [e for e in published if isinstance(e, BotCompleted)]
    assert completed.has_transcript and completed.speakers == ["Alice", "Bob"]
    assert await scheduler.transcription_key(request.event_id) is None, "the key is forgotten"
    assert bot.speech_api_key is None


async def test_an_upload_seen_twice_asks_for_one_transcript(scheduler, published):
    bot = await create(scheduler, speech_to_text=SpeechToText())
    await walk(scheduler, bot, *IN_CALL, BotStatus.CALL_ENDED)
    await scheduler.on_recording_uploaded(uploaded(bot))
    await scheduler.on_recording_uploaded(uploaded(bot))
    assert len(requested(published)) == 1


@pytest.mark.parametrize("stt", [SpeechToText(), None])
async def test_a_rerun_transcription_changes_nothing(scheduler, published, stt):
    """`POST /bots/retranscribe` of a completed bot, with or without a first transcript."""
    bot = await create(scheduler, speech_to_text=stt)
    await walk(scheduler, bot, *IN_CALL, BotStatus.CALL_ENDED)
    await scheduler.on_recording_uploaded(uploaded(bot))
    if stt is not None:
        await scheduler.on_transcription_done(done(requested(published)[0]))
    assert bot.status == BotStatus.COMPLETED
    refused = await scheduler.retranscribe(Retranscribe(
        account_id=2, bot_id=bot.bot_id, speech_to_text=SpeechToText()))
    assert refused.status == 404
    assert await scheduler.retranscribe(Retranscribe(
        account_id=1, bot_id=bot.bot_id, speech_to_text=SpeechToText(api_key="sealed:other"),
        webhook_url="https://customer.test/rerun")) is None
    rerun = requested(published)[-1]
    assert rerun.rerun and rerun.webhook_url == "https://customer.test/rerun"
    assert await scheduler.transcription_key(rerun.event_id) == "sealed:other"
    before = (bot.status, list(bot.speakers), bot.has_transcript, bot.transcription_finished,
              len(published))
    await scheduler.on_transcription_done(done(rerun, transcript_id=2, speakers=["Zed"],
                                               webhook_url=rerun.webhook_url))
    assert bot.status == BotStatus.COMPLETED
    assert (bot.status, list(bot.speakers), bot.has_transcript, bot.transcription_finished,
            len(published)) == before
    assert await scheduler.transcription_key(rerun.event_id) is None


async def test_only_a_completed_bot_with_audio_is_transcribed_again(scheduler):
    bot = await create(scheduler)
    refused = await scheduler.retranscribe(Retranscribe(
        account_id=1, bot_id=bot.bot_id, speech_to_text=SpeechToText()))
    assert refused.status == 409 and refused.code == "BotNotCompleted"
    await walk(scheduler, bot, *IN_CALL, BotStatus.CALL_ENDED)
    await scheduler.on_recording_uploaded(RecordingUploaded(
        bot_id=bot.bot_id, artifacts=RecordingArtifacts(), started_at=None, duration_s=0,
        end_reason=EndReason.MEETING_ENDED, speakers=[]))
    refused = await scheduler.retranscribe(Retranscribe(
        account_id=1, bot_id=bot.bot_id, speech_to_text=SpeechToText()))
    assert refused.status == 409 and refused.code == "NoAudio"


async def test_a_runner_is_told_to_make_a_bot_leave_in_its_heartbeat(scheduler):
    bot, other = await create(scheduler), await create(scheduler)
    await walk(scheduler, bot, BotStatus.JOINING_CALL)
    await walk(scheduler, other, BotStatus.JOINING_CALL)
    assert await scheduler.on_heartbeat("runner-1", [bot.bot_id, other.bot_id]) == []
    assert await scheduler.leave(1, bot.bot_id) is None
    assert await scheduler.on_heartbeat("runner-1", [bot.bot_id, other.bot_id]) == [bot.bot_id]


async def test_a_silent_runner_fails_the_bot_with_a_reason(scheduler, published, monotonic):
    bot = await create(scheduler)
    await walk(scheduler, bot, *IN_CALL)
    monotonic.now += 30  # the scheduler has listened a whole timeout
    bot.last_seen_at = datetime.now(UTC) - timedelta(seconds=31)
    await scheduler.sweep()
    (failed,) = [e for e in published if isinstance(e, BotFailed)]
    assert failed.error == BotError.INTERNAL_ERROR and failed.reason == EndReason.RUNNER_LOST
    assert "bot-runner" in failed.message
    await walk(scheduler, bot, BotStatus.CALL_ENDED)
    assert bot.status == BotStatus.FAILED


async def test_a_scheduler_that_could_not_hear_runners_does_not_judge_them(
        scheduler, published, monotonic):
    """Just started (it was down), or its database refused the heartbeats (it was down): the
    runners' silence is its own, not theirs, until it has heard them for a whole timeout."""
    bot = await create(scheduler)
    await walk(scheduler, bot, *IN_CALL)
    bot.last_seen_at = datetime.now(UTC) - timedelta(seconds=60)
    await scheduler.sweep()
    assert bot.status == BotStatus.IN_CALL_RECORDING, "a scheduler that just started waits"

    monotonic.now += 30
    bots = scheduler._bots
    touch = bots.touch

    async def refused(*args):
        raise ConnectionError("the database is down")

    bots.touch = refused
    with pytest.raises(ConnectionError):
        await scheduler.on_heartbeat("runner-1", [bot.bot_id])
    monotonic.now += 40
    await scheduler.sweep()
    assert bot.status == BotStatus.IN_CALL_RECORDING, "heartbeats could not be written"
    bots.touch = touch
    await scheduler.on_heartbeat("runner-1", [])
    bot.last_seen_at = datetime.now(UTC) - timedelta(seconds=60)
    monotonic.now += 29
    await scheduler.sweep()
    assert bot.status == BotStatus.IN_CALL_RECORDING
    monotonic.now += 1
    await scheduler.sweep()
    assert bot.status == BotStatus.FAILED
    assert [e.reason for e in published if isinstance(e, BotFailed)] == [EndReason.RUNNER_LOST]


async def test_a_dispatched_bot_is_given_to_one_runner_only(scheduler, published, monotonic):
    bot = await create(scheduler)
    assert await scheduler.claim(bot.bot_id, "runner-a") is False, "not dispatched yet"
    await scheduler.dispatch_due()
    assert await scheduler.claim(bot.bot_id, "runner-a") is True
    assert await scheduler.claim(bot.bot_id, "runner-b") is False, "the dispatch came twice"
    assert await scheduler.claim(bot.bot_id, "runner-a") is True, "asking again is no harm"
    await walk(scheduler, bot, BotStatus.JOINING_CALL)
    assert await scheduler.claim(bot.bot_id, "runner-b") is False

    cancelled = await create(scheduler)
    await scheduler.dispatch_due()
    bot_row = scheduler._bots.bots[cancelled.bot_id]
    bot_row.status = BotStatus.FAILED
    assert await scheduler.claim(cancelled.bot_id, "runner-a") is False


async def test_a_claimed_bot_whose_runner_goes_silent_before_joining_fails(
        scheduler, published, monotonic):
    bot = await create(scheduler)
    await scheduler.dispatch_due()
    assert await scheduler.claim(bot.bot_id, "runner-a") is True
    monotonic.now += 30
    bot.last_seen_at = datetime.now(UTC) - timedelta(seconds=31)
    await scheduler.sweep()
    (failed,) = [e for e in published if isinstance(e, BotFailed)]
    assert failed.reason == EndReason.RUNNER_LOST


async def test_a_bot_its_living_runner_let_go_waits_for_its_last_events(
        scheduler, published, monotonic):
    """The runner ended the visit and stopped listing the bot, but its last events are still on
    their way (a consumer waiting out the database, say): that is not a lost runner."""
    bot = await create(scheduler)
    await walk(scheduler, bot, *IN_CALL)
    await scheduler.on_heartbeat("runner-1", [bot.bot_id])
    monotonic.now += 30
    bot.last_seen_at = datetime.now(UTC) - timedelta(seconds=60)
    await scheduler.on_heartbeat("runner-1", [])  # the runner is alive, without the bot
    await scheduler.sweep()
    assert bot.status == BotStatus.IN_CALL_RECORDING
    await walk(scheduler, bot, BotStatus.CALL_ENDED)
    assert bot.status == BotStatus.CALL_ENDED

    stuck = await create(scheduler)
    await walk(scheduler, stuck, *IN_CALL)
    await scheduler.on_heartbeat("runner-1", [stuck.bot_id])
    stuck.last_seen_at = datetime.now(UTC) - timedelta(minutes=11)
    await scheduler.on_heartbeat("runner-1", [])
    await scheduler.sweep()
    (failed,) = [e for e in published if isinstance(e, BotFailed)]
    assert failed.bot_id == stuck.bot_id and failed.reason == EndReason.INTERNAL_ERROR
    assert "never arrived" in failed.message


async def test_a_future_start_time_waits(scheduler):
    bot = await create(scheduler, start_time=int((datetime.now(UTC) + timedelta(hours=1)).timestamp()))
    assert await scheduler.dispatch_due() == 0
    soon = await create(scheduler)
    assert await scheduler.dispatch_due() == 1
    assert soon.dispatched_at is not None and bot.dispatched_at is None


async def test_leaving_a_queued_bot_cancels_it(scheduler, published):
    bot = await create(scheduler, start_time=4102444800)
    assert await scheduler.leave(1, bot.bot_id) is None
    (failed,) = [e for e in published if isinstance(e, BotFailed)]
    assert failed.reason == EndReason.CANCELLED
    assert (await scheduler.leave(2, bot.bot_id)).status == 404


async def test_a_second_bot_to_the_same_meeting_is_refused_unless_its_key_differs(scheduler):
    first = await create(scheduler, deduplication_key=None)
    refused = await create(scheduler, deduplication_key=None)
    assert refused.status == 409 and str(first.bot_id) in refused.message
    assert "deduplication_key" in refused.message
    other = await create(scheduler, deduplication_key="second")
    assert other.bot_id != first.bot_id

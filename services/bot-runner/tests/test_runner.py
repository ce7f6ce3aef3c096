"""The runner takes a dispatched bot only once it has a free slot and the scheduler gave it the
bot: a dispatch delivered twice, to this runner or another, joins the meeting once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

import bot_runner.service as service_module
from bot_runner.service import Runner
from bot_runner.session import SessionConfig
from mb_shared.contracts.bot import BotDispatched, BotParams, Platform


class Sessions:
    """Stands in for the browser session: records which bots ran."""

    def __init__(self) -> None:
        self.ran: list = []

    def factory(self):
        sessions = self

        class Session:
            def __init__(self, dispatch, config, effects) -> None:
                self.dispatch = dispatch
                self.leave_requested = None

            def run(self) -> None:
                sessions.ran.append(self.dispatch.bot_id)

        return Session


def dispatch() -> BotDispatched:
    return BotDispatched(bot_id=uuid4(), account_id=1, params=BotParams(
        meeting_url="https://meet.google.com/abc-defg-hij", platform=Platform.GOOGLE_MEET,
        bot_name="Bot"))


@pytest.fixture
def sessions(monkeypatch) -> Sessions:
    fake = Sessions()
    monkeypatch.setattr(service_module, "BotSession", fake.factory())
    return fake


CONFIG = SessionConfig(chromium_path="", chromedriver_path="", extra_chromium_args=[],
                       work_dir=Path("/nonexistent"))


def runner() -> Runner:
    """A runner with one slot, whose scheduler gives each bot to the first claim only."""
    claimed: set = set()

    async def claim(d: BotDispatched) -> bool:
        first = d.bot_id not in claimed
        claimed.add(d.bot_id)
        return first

    return Runner(CONFIG, 1, lambda d: None, claim)


async def settle(r: Runner) -> None:
    await asyncio.gather(*list(r._tasks))


async def test_a_bot_the_scheduler_refuses_is_not_run_and_frees_its_slot(sessions):
    r = runner()
    first = dispatch()
    await r.start(first)
    await settle(r)
    again = first.model_copy()
    await r.start(again)  # delivered again: the scheduler says it is not this runner's
    await settle(r)
    assert sessions.ran == [first.bot_id]
    other = dispatch()
    await asyncio.wait_for(r.start(other), 5)  # the slot was given back
    await settle(r)
    assert sessions.ran == [first.bot_id, other.bot_id]


async def test_a_failing_claim_is_raised_and_frees_the_slot(sessions):
    async def unavailable(d):
        raise TimeoutError("the scheduler did not answer")

    r = Runner(CONFIG, 1, lambda d: None, unavailable)
    with pytest.raises(TimeoutError):
        await r.start(dispatch())
    r._claim = lambda d: asyncio.sleep(0, result=True)
    await asyncio.wait_for(r.start(dispatch()), 5)
    await settle(r)
    assert len(sessions.ran) == 1


async def test_a_full_runner_says_so_until_a_slot_is_free(sessions, monkeypatch):
    """The dispatch consumer waits on `until_free_slot` before it fetches another bot."""
    release = asyncio.Event()
    factory = sessions.factory()

    class LongSession(factory):
        def run(self) -> None:
            super().run()
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result()

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(service_module, "BotSession", LongSession)
    r = runner()
    await r.start(dispatch())
    waiting = asyncio.create_task(r.until_free_slot())
    await asyncio.sleep(0.2)
    assert not waiting.done(), "the only slot is taken: no next dispatch may be fetched"
    release.set()
    await asyncio.wait_for(waiting, timeout=5)
    await settle(r)

"""Builds the bot-runner: the dispatch consumer, the object store, sessions, heartbeats."""

from __future__ import annotations

import asyncio

from faststream import FastStream

from bot_runner.camera import ImagePolicy
from bot_runner.effects import BusEffects
from bot_runner.handlers import SERVICE, build_router, consume
from bot_runner.service import Runner
from bot_runner.session import SessionConfig
from bot_runner.settings import RunnerSettings
from mb_shared.contracts.bot import BotDispatched
from mb_shared.contracts.queries import (
    ClaimBot,
    ClaimReply,
    HeartbeatReply,
    QueryError,
    RunnerHeartbeat,
)
from mb_shared.messaging import ask
from mb_shared.service_kit import ServiceKit
from mb_shared.storage import ObjectStore


def build_app(settings: RunnerSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    store = ObjectStore(settings)
    config = SessionConfig(
        chromium_path=settings.chromium_path,
        chromedriver_path=settings.chromedriver_path,
        extra_chromium_args=settings.extra_chromium_args,
        work_dir=settings.work_dir,
        screenshot_interval_s=settings.screenshot_interval_s,
        everyone_left_grace_s=settings.everyone_left_grace_s,
        separate_video=settings.separate_video,
        image_policy=ImagePolicy(max_bytes=settings.bot_image_max_bytes,
                                 timeout_s=settings.bot_image_timeout_s,
                                 outbound=settings.outbound_policy),
    )

    def effects_for(dispatch: BotDispatched) -> BusEffects:
        return BusEffects(asyncio.get_running_loop(), kit.broker, store, dispatch.bot_id,
                          dispatch.account_id, settings.runner_id)

    async def claim(dispatch: BotDispatched) -> bool:
        reply = await ask(kit.broker, ClaimBot(bot_id=dispatch.bot_id,
                                               runner_id=settings.runner_id), ClaimReply)
        if isinstance(reply, QueryError):
            raise RuntimeError(f"the scheduler did not answer the claim: {reply.message}")
        return reply.granted

    runner = Runner(config, settings.max_concurrent_bots, effects_for, claim)
    consume(kit, runner)
    kit.broker.include_router(build_router(runner))

    async def heartbeat() -> None:
        """Tell the scheduler which bots this runner holds; make leave those it names (a leave
        request this runner missed, or a bot the platform already ended)."""
        reply = await ask(kit.broker, RunnerHeartbeat(runner_id=settings.runner_id,
                                                      bot_ids=runner.bot_ids),
                          HeartbeatReply, timeout=settings.heartbeat_interval_s)
        for bot_id in getattr(reply, "leave", []):
            runner.request_leave(bot_id)

    kit.app.on_startup(store.ensure_bucket)
    kit.every(settings.heartbeat_interval_s, "heartbeat", heartbeat)
    kit.on_stop(runner.shutdown)
    return kit.app

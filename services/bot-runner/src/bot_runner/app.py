"""Builds the bot-runner: broker, object store, sessions, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from faststream import FastStream

from bot_runner.camera import ImagePolicy
from bot_runner.effects import BusEffects
from bot_runner.handlers import SERVICE, build_router
from bot_runner.service import Runner
from bot_runner.session import SessionConfig
from bot_runner.settings import RunnerSettings
from mb_shared.contracts.bot import BotDispatched, RunnerHeartbeat
from mb_shared.messaging import make_broker
from mb_shared.storage import ObjectStore

log = logging.getLogger(__name__)


def build_app(settings: RunnerSettings) -> FastStream:
    broker = make_broker(settings.nats_url, SERVICE)
    store = ObjectStore(settings)
    config = SessionConfig(
        chromium_path=settings.chromium_path,
        chromedriver_path=settings.chromedriver_path,
        extra_chromium_args=settings.extra_chromium_args,
        work_dir=settings.work_dir,
        screenshot_interval_s=settings.screenshot_interval_s,
        everyone_left_grace_s=settings.everyone_left_grace_s,
        image_policy=ImagePolicy(max_bytes=settings.bot_image_max_bytes,
                                 timeout_s=settings.bot_image_timeout_s,
                                 outbound=settings.outbound_policy),
    )

    def effects_for(dispatch: BotDispatched) -> BusEffects:
        return BusEffects(asyncio.get_running_loop(), broker, store, dispatch.bot_id,
                          settings.runner_id, dispatch.params.speech_to_text)

    runner = Runner(config, settings.max_concurrent_bots, effects_for)
    broker.include_router(build_router(runner))
    app = FastStream(broker)
    state: dict = {}

    async def heartbeats() -> None:
        while True:
            try:
                beat = RunnerHeartbeat(runner_id=settings.runner_id, bot_ids=runner.bot_ids)
                await broker.publish(beat.model_dump(mode="json"), subject=RunnerHeartbeat.SUBJECT)
            except Exception:
                log.exception("heartbeat failed")
            await asyncio.sleep(settings.heartbeat_interval_s)

    @app.on_startup
    async def prepare() -> None:
        await store.ensure_bucket()

    @app.after_startup
    async def start_heartbeats() -> None:
        state["heartbeats"] = asyncio.create_task(heartbeats())

    @app.on_shutdown
    async def stop() -> None:
        await runner.shutdown()
        state["heartbeats"].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state["heartbeats"]

    return app

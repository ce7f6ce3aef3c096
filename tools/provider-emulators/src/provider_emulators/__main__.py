"""``python -m provider_emulators gladia|runpod --port N --model-dir DIR --api-key K``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from provider_emulators.gladia import DEFAULT_API_KEY as GLADIA_KEY
from provider_emulators.gladia import GladiaEmulator
from provider_emulators.runpod import DEFAULT_API_KEY as RUNPOD_KEY
from provider_emulators.runpod import DEFAULT_ENDPOINT_ID, RunpodEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m provider_emulators",
        description="Serve a local emulator of a speech-to-text provider on 127.0.0.1.",
    )
    parser.add_argument("provider", choices=("gladia", "runpod"))
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument(
        "--model-dir", type=Path, required=True, help="faster-whisper model directory"
    )
    parser.add_argument(
        "--api-key", action="append", help="accepted API key (repeatable; default: a test key)"
    )
    parser.add_argument("--endpoint-id", action="append", help="runpod: endpoint id (repeatable)")
    parser.add_argument("--queue-delay", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--fail-jobs", action="store_true", help="every job fails")
    parser.add_argument("--cpu-threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    common = dict(
        queue_delay=args.queue_delay,
        delay=args.delay,
        fail_jobs=args.fail_jobs,
        cpu_threads=args.cpu_threads,
    )
    emulator: GladiaEmulator | RunpodEmulator
    if args.provider == "gladia":
        emulator = GladiaEmulator(args.model_dir, api_keys=args.api_key or [GLADIA_KEY], **common)
    else:
        emulator = RunpodEmulator(
            args.model_dir,
            api_keys=args.api_key or [RUNPOD_KEY],
            endpoint_ids=args.endpoint_id or [DEFAULT_ENDPOINT_ID],
            **common,
        )
    web.run_app(emulator.app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()

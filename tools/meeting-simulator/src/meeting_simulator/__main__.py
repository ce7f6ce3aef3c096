"""Runs the meeting simulator in the foreground: prints one JSON line, stops on SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .server import MeetingSimulator


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mb-meeting-simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--https-port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="keep synthesized speech here")
    parser.add_argument("--no-response-after", type=float, default=600.0)
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    simulator = MeetingSimulator(
        args.host,
        https_port=args.https_port,
        control_port=args.control_port,
        cache_dir=args.cache_dir,
        no_response_after=args.no_response_after,
    )
    async with simulator:
        sys.stdout.write(json.dumps(simulator.info()) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_main(_parse(argv)))


if __name__ == "__main__":
    main()

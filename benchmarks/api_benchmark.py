"""How fast `POST /bots/` and `GET /bots/bots_with_metadata` answer with 10,000 bots in the database.

Fills one account with bots scheduled far in the future (so none is dispatched), with a concurrency
of 8 clients, then times further requests one at a time and prints the median and 99th percentile.
Run with `uv run python benchmarks/api_benchmark.py`; not a test, nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from devstack.platform import PlatformStack
from meeting_simulator.client import new_meet_code

FUTURE = 4102444800


def body(i: int) -> dict:
    return {"meeting_url": f"https://meet.google.com/{new_meet_code()}", "bot_name": f"Bot {i}",
            "start_time": FUTURE, "extra": {"customer": f"c{i % 50}", "priority": str(i % 10)}}


async def fill(session: aiohttp.ClientSession, url: str, count: int, clients: int = 8) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def client() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            async with session.post(url + "/bots/", json=body(i)) as response:
                assert response.status == 200, await response.text()

    await asyncio.gather(*(client() for _ in range(clients)))


async def timed(session: aiohttp.ClientSession, method: str, url: str, runs: int, payload=None):
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        async with session.request(method, url, json=payload(i) if payload else None) as response:
            await response.read()
            assert response.status == 200, response.status
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 1),
            "p99_ms": round(samples[int(0.99 * (len(samples) - 1))], 1), "runs": runs}


async def measure(gateway: str, key: str, bots: int, runs: int) -> dict:
    headers = {"x-meeting-baas-api-key": key}
    async with aiohttp.ClientSession(headers=headers) as session:
        started = time.perf_counter()
        await fill(session, gateway, bots)
        results = {"fill_s": round(time.perf_counter() - started, 1), "bots": bots}
        results["post_bots"] = await timed(session, "POST", gateway + "/bots/", runs, body)
        listing = gateway + "/bots/bots_with_metadata"
        results["list_newest"] = await timed(session, "GET", listing + "?limit=50", runs)
        results["list_filter_extra"] = await timed(
            session, "GET", listing + "?limit=50&filter_by_extra=customer:c7", runs)
        results["list_sort_extra"] = await timed(
            session, "GET", listing + "?limit=50&sort_by_extra=priority:desc", runs)
        results["list_bot_name"] = await timed(session, "GET", listing + "?bot_name=bot%2099", runs)
        async with session.get(listing + "?limit=50") as response:
            cursor = (await response.json())["next_cursor"]
        results["list_second_page"] = await timed(
            session, "GET", listing + f"?limit=50&cursor={cursor}", runs)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mb-api-bench-") as base:
        with PlatformStack(Path(base)) as stack:
            endpoints = stack.endpoints
            results = asyncio.run(measure(endpoints.gateway_url, endpoints.api_key, args.bots,
                                          args.runs))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""The chaos suite (`make chaos`): bots go through real meetings while the platform is hurt, and
every webhook a customer receives is checked.

Faults, one scenario at a time, each with its own bot and meeting:

- kill -9 of each service (scheduler, transcriber, webhook-dispatcher, bot-runner, api-gateway)
  at four moments of a bot's life: joining, in the call, transcribing, delivering; the devstack's
  supervisor starts it again, as Kubernetes would;
- kill -9 of nats-server while events flow (started again by the supervisor);
- PostgreSQL stopped for 30 s while bots are in their calls;
- a customer endpoint that fails, hangs, answers 429, answers 410, or redirects to a private
  address.

The checker reads every webhook received: each bot ends with exactly one final event (`complete`
with a recording ffprobe can read, or `failed` with its reason where a fault makes the bot fail),
a webhook-id that arrives twice (at-least-once delivery) carries the same body, no event is sent
after its bot's final one, nothing became a dead letter, and recovery (from the fault to the
final event) is printed and bounded. A table of the results is printed; the exit code is 1 when
a scenario failed.

    uv run --frozen python chaos/chaos.py [--only NAME ...] [--list] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats

from devstack.platform import PlatformStack
from devstack.receivers import BackgroundServer, ReceivedWebhook, WebhookReceiver
from meeting_simulator.client import SimulatorClient, new_meet_code

SETTINGS = {
    "SCHEDULER_HEARTBEAT_TIMEOUT_S": "12",
    "SCHEDULER_PICKUP_TIMEOUT_S": "180",
    "GATEWAY_MIN_WAITING_ROOM_TIMEOUT_S": "5",
    "GATEWAY_MIN_SILENCE_TIMEOUT_S": "10",
    "WEBHOOK_RETRY_SCHEDULE_S": "0,1,2,4,8,16",
    "WEBHOOK_ATTEMPT_TIMEOUT_S": "2",
    "RUNNER_EVERYONE_LEFT_GRACE_S": "5",
    "RUNNER_MAX_CONCURRENT_BOTS": "2",
    "MB_RETRY_DELAYS_S": "1,2,4,8,16,32",
}
SCRIPT = [
    {"speaker": "Alice", "text": "Good morning everyone, let us look at the launch plan.", "at": 1.5},
    {"speaker": "Bob", "text": "The release is ready for testing on Monday morning.", "at": 6.0},
]
MEETING_S = 14.0
RECOVERY_BOUND_S = 120.0
FINAL_TIMEOUT_S = 300.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------------- the world
@dataclass
class World:
    stack: PlatformStack
    receiver: WebhookReceiver
    receiver_url: str
    simulator: SimulatorClient
    api_key: str

    @property
    def gateway(self) -> str:
        return self.stack.endpoints.gateway_url

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.gateway + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json",
                     "x-meeting-baas-api-key": self.api_key})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except OSError as error:  # the gateway being killed
            return 0, {"error": str(error)}

    def status(self, bot_id: str) -> str | None:
        code, body = self.api("GET", f"/bots/{bot_id}")
        if code != 200:
            return None
        history = body.get("status_history") or []
        return history[-1]["code"] if history else None

    def consumer_busy(self, durable: str, stream: str = "EVENTS") -> bool:
        async def pending() -> int:
            client = await nats.connect(self.stack.infra_endpoints.nats_url)
            try:
                return (await client.jetstream().consumer_info(stream, durable)).num_ack_pending
            finally:
                await client.close()

        try:
            return asyncio.run(pending()) > 0
        except Exception:
            return False

    def dead_letters(self) -> int:
        async def count() -> int:
            client = await nats.connect(self.stack.infra_endpoints.nats_url)
            try:
                return (await client.jetstream().stream_info("DEADLETTERS")).state.messages
            finally:
                await client.close()

        return asyncio.run(count())


def kill_service(world: World, service: str) -> str:
    """kill -9 every replica of the service (its children die with it)."""
    killed = []
    for process in world.stack.replicas_of(service):
        if process.is_running():
            os.kill(process.pid, signal.SIGKILL)
            killed.append(process.name)
    return f"kill -9 {', '.join(killed)}"


def kill_nats(world: World) -> str:
    os.kill(world.stack.infra.group["nats"].pid, signal.SIGKILL)
    return "kill -9 nats-server"


def stop_postgres_30s(world: World) -> str:
    supervisor, infra = world.stack.infra_supervisor, world.stack.infra
    supervisor.hold("postgres")
    infra.stop_component("postgres")

    def restart() -> None:
        time.sleep(30)
        infra.start_component("postgres")
        supervisor.release("postgres")
        log("PostgreSQL is back")

    threading.Thread(target=restart, daemon=True).start()
    return "PostgreSQL stopped for 30 s"


# ------------------------------------------------------------------------------ the moments
def joining(world: World, bot: Bot) -> bool:
    return world.status(bot.bot_id) == "joining_call"


def in_call(world: World, bot: Bot) -> bool:
    return world.status(bot.bot_id) == "in_call_recording"


def transcribing(world: World, bot: Bot) -> bool:
    return world.consumer_busy("transcriber-transcription_requested")


def delivering(world: World, bot: Bot) -> bool:
    """The bot's `complete` is on its way: the endpoint holds it (it answers slowly)."""
    return any(w.body["event"] == "complete" for w in world.receiver.for_bot(bot.bot_id))


MOMENTS: dict[str, Callable[[World, Bot], bool]] = {
    "joining": joining, "in the call": in_call, "transcribing": transcribing,
    "delivering": delivering,
}


# ------------------------------------------------------------------------------- scenarios
@dataclass
class Bot:
    bot_id: str
    path: str
    sent_at: float


@dataclass
class Scenario:
    name: str
    fault: Callable[[World], str] | None
    moment: str | None = None
    expect: str = "complete"
    reason: str | None = None
    responses: list = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    slow_complete_s: float = 0.0
    """The endpoint holds the bot's `complete` this long (the delivering moment)."""
    check: Callable[[World, Bot, list[ReceivedWebhook]], str | None] | None = None
    """An extra check of what the endpoint received; returns what is wrong, or None."""


def only_once_then_closed(world: World, bot: Bot, got: list[ReceivedWebhook]) -> str | None:
    if len(got) != 1:
        return f"the endpoint answered 410 yet got {len(got)} requests"
    return None


def each_event_once_never_followed(world: World, bot: Bot,
                                   got: list[ReceivedWebhook]) -> str | None:
    ids = [w.headers.get("webhook-id") for w in got]
    if len(ids) != len(set(ids)):
        return "a redirected delivery was tried again"
    if not any(w.body["event"] == "complete" for w in got):
        return "the complete event was never attempted"
    return None


def waited_for_retry_after(world: World, bot: Bot, got: list[ReceivedWebhook]) -> str | None:
    first = got[0]
    again = [w for w in got[1:] if w.headers.get("webhook-id") == first.headers.get("webhook-id")]
    if not again:
        return "the 429 was not retried"
    if again[0].received_at - first.received_at < 3.0 * 0.95:
        return "the retry came before Retry-After"
    return None


SERVICES = ("scheduler", "transcriber", "webhook-dispatcher", "bot-runner", "api-gateway")


def scenarios() -> list[Scenario]:
    found = []
    for service in SERVICES:
        for moment in MOMENTS:
            runner_lost = service == "bot-runner" and moment in ("joining", "in the call")
            found.append(Scenario(
                f"kill {service} {moment}", lambda w, s=service: kill_service(w, s), moment,
                expect="failed" if runner_lost else "complete",
                reason="runner_lost" if runner_lost else None,
                slow_complete_s=3.0 if moment == "delivering" else 0.0))
    found += [
        Scenario("kill nats in the call", kill_nats, "in the call"),
        Scenario("stop postgres in the call", stop_postgres_30s, "in the call"),
        Scenario("endpoint fails", None, responses=[500, 503, 500]),
        Scenario("endpoint hangs", None, delays=[5.0, 5.0]),
        Scenario("endpoint answers 429", None, responses=[(429, {"Retry-After": "3"})],
                 check=waited_for_retry_after),
        Scenario("endpoint answers 410", None, expect="none", responses=[410],
                 check=only_once_then_closed),
        Scenario("endpoint redirects to a private address", None, expect="none",
                 responses=[(302, {"Location": "http://10.0.0.1/hook"})] * 20,
                 check=each_event_once_never_followed),
    ]
    return found


# ---------------------------------------------------------------------------------- running
@dataclass
class Result:
    scenario: Scenario
    fault: str = ""
    final: str = ""
    recovery_s: float | None = None
    restarts: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def send_bot(world: World, scenario: Scenario) -> Bot:
    code = new_meet_code()
    world.simulator.create_meeting(code, participants=[{"name": "Alice"}, {"name": "Bob"}],
                                   script=SCRIPT, admission={"action": "admit", "after": 1.0},
                                   end_after=MEETING_S)
    path = "/" + scenario.name.replace(" ", "-")
    world.receiver.responses[path] = list(scenario.responses)
    world.receiver.delays[path] = list(scenario.delays)
    world.receiver.delays[f"{path}#complete"] = [scenario.slow_complete_s] * 3
    status, body = world.api("POST", "/bots/", {
        "meeting_url": f"https://meet.google.com/{code}", "bot_name": "Chaos",
        "webhook_url": world.receiver_url + path, "speech_to_text": {"provider": "Default"},
        "deduplication_key": str(uuid.uuid4())})
    if status != 200:
        raise RuntimeError(f"POST /bots/ answered {status}: {body}")
    return Bot(body["bot_id"], path, time.time())


def wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(0.1)


def received(world: World, bot: Bot) -> list[ReceivedWebhook]:
    return [w for w in world.receiver.for_bot(bot.bot_id) if w.path == bot.path]


def ffprobe_duration(url: str) -> float:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                             "-of", "json", url], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return float(json.loads(result.stdout)["format"]["duration"])


def judge(world: World, scenario: Scenario, bot: Bot, result: Result) -> None:
    got = received(world, bot)
    by_id: dict[str, list[ReceivedWebhook]] = {}
    for hook in got:
        by_id.setdefault(hook.headers.get("webhook-id", ""), []).append(hook)
    for webhook_id, copies in by_id.items():
        if len({c.raw for c in copies}) > 1 and copies[0].body["event"] == "bot.status_change":
            result.problems.append(f"webhook-id {webhook_id} came with two bodies")
        result.duplicates += len(copies) - 1
    finals = {w.headers.get("webhook-id"): w for w in got
              if w.body["event"] in ("complete", "failed")}
    if scenario.check is not None:
        problem = scenario.check(world, bot, got)
        if problem:
            result.problems.append(problem)
    if scenario.expect == "none":
        result.final = "not delivered (as the endpoint asked)"
        return
    if len(finals) != 1:
        result.problems.append(f"{len(finals)} final events: {sorted(w.body['event'] for w in finals.values())}")
        return
    (final,) = finals.values()
    result.final = final.body["event"]
    data = final.body["data"]
    last = max(w.received_at for w in got if w.headers.get("webhook-id") in finals)
    after = [w for w in got if w.body["event"] == "bot.status_change"
             and w.received_at > last and w.headers.get("webhook-id") not in finals]
    if after:
        result.problems.append(f"{len(after)} status webhooks after the final event")
    if final.body["event"] != scenario.expect:
        result.problems.append(f"expected {scenario.expect}, got {final.body['event']}: "
                               f"{data.get('reason')} {data.get('message', '')}")
    elif scenario.expect == "complete":
        result.final += f" ({data.get('reason')})"
        try:
            duration = ffprobe_duration(data["mp4"])
            result.final += f", mp4 {duration:.1f} s"
            if duration < 3:
                result.problems.append(f"the recording lasts {duration:.1f} s")
        except Exception as exc:
            result.problems.append(f"the mp4 cannot be read: {exc}")
        if not data.get("transcript"):
            result.problems.append(f"no transcript ({data.get('transcription_error')})")
    elif scenario.reason and data.get("reason") != scenario.reason:
        result.problems.append(f"failed with {data.get('reason')}, not {scenario.reason}")
    else:
        result.final += f" ({data.get('reason')})"


def run(world: World, scenario: Scenario) -> Result:
    result = Result(scenario)
    restarts_before = len(world.stack.restarts())
    log(f"--- {scenario.name}")
    try:
        bot = send_bot(world, scenario)
        fault_at = bot.sent_at
        if scenario.fault is not None:
            if scenario.moment is not None:
                wait(lambda: MOMENTS[scenario.moment](world, bot), 180, scenario.moment)
            fault_at = time.time()
            result.fault = scenario.fault(world)
            log(f"{result.fault} ({scenario.moment or 'at once'})")
        else:
            result.fault = "endpoint: " + scenario.name.removeprefix("endpoint ")
        if scenario.expect == "none":
            wait(lambda: world.status(bot.bot_id) in ("completed", "failed"), FINAL_TIMEOUT_S,
                 "the bot's end")
            time.sleep(8)  # what would still come, comes now
        else:
            def final_after_fault() -> list[float]:
                return [w.received_at for w in received(world, bot)
                        if w.body["event"] in ("complete", "failed")
                        and w.received_at >= fault_at]

            wait(lambda: bool(final_after_fault()), FINAL_TIMEOUT_S, "a final event")
            result.recovery_s = min(final_after_fault()) - fault_at
            time.sleep(4)  # duplicates, late statuses
        judge(world, scenario, bot, result)
        if result.recovery_s is not None and scenario.fault is not None \
                and result.recovery_s > RECOVERY_BOUND_S:
            result.problems.append(f"recovery took {result.recovery_s:.0f} s")
    except Exception as exc:
        result.problems.append(f"{type(exc).__name__}: {exc}")
    wait_quiet(world)
    result.restarts = len(world.stack.restarts()) - restarts_before
    log(("OK " if result.ok else "FAILED ") + "; ".join(result.problems))
    return result


def wait_quiet(world: World) -> None:
    """Let every service be back before the next scenario."""
    try:
        wait(lambda: all(p.is_running() for p in world.stack.processes.processes.values())
             and all(p.is_running() for p in world.stack.infra.group.processes.values()),
             120, "every service running")
        wait(lambda: world.api("GET", "/bots/bots_with_metadata?limit=1")[0] == 200, 60,
             "the gateway answering")
    except TimeoutError as exc:
        log(f"warning: {exc}")


def table(results: list[Result]) -> str:
    rows = [("scenario", "fault", "final event", "recovery", "restarts", "dup", "verdict")]
    for r in results:
        rows.append((r.scenario.name, r.fault, r.final or "-",
                     f"{r.recovery_s:.1f} s" if r.recovery_s is not None else "-",
                     str(r.restarts), str(r.duplicates),
                     "ok" if r.ok else "FAILED: " + "; ".join(r.problems)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="scenarios whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the scenarios and stop")
    parser.add_argument("--keep", type=Path,
                        help="run the platform in this directory and keep it (logs, data)")
    args = parser.parse_args(argv)
    chosen = [s for s in scenarios() if not args.only or any(o in s.name for o in args.only)]
    if args.list or not chosen:
        print("\n".join(s.name for s in chosen))
        return 0
    receiver = WebhookReceiver()
    server = BackgroundServer(receiver.app())
    server.start()
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        root = args.keep or Path(cleanup.enter_context(tempfile.TemporaryDirectory(
            prefix="mb-chaos-", ignore_cleanup_errors=True)))
        stack = PlatformStack(root, settings=SETTINGS)
        try:
            endpoints = stack.start()
            world = World(stack, receiver, server.url,
                          SimulatorClient(endpoints.simulator_control_url), endpoints.api_key)
            log(f"platform up; {len(chosen)} scenarios")
            results = [run(world, scenario) for scenario in chosen]
            letters = world.dead_letters()
        finally:
            stack.stop()
            server.stop()
    print()
    print(table(results))
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} scenarios passed; dead letters: "
          f"{letters}; {time.monotonic() - started:.0f} s in all")
    return 1 if failed or letters else 0


if __name__ == "__main__":
    sys.exit(main())

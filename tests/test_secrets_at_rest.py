"""No secret in plain text at rest, on the bus or in a log.

An account with two API keys sends a bot that is transcribed by Gladia with the customer's key,
then transcribed again by Runpod with another key, and a Zoom bot that joins a sign-in meeting
with the customer's OBF token (and carries an SDK password), and a meeting is imported from a file
whose URL carries the signature that grants access to it. The webhooks still carry the API key and
are signed with the account's secret (so the sealed copies work), and the import fetched the file
with its signature (so the sealed URL works). Then every database is dumped with
`pg_dump`, every message of every stream is read, and every service's log is read: none holds a
key or the signing secret, while the dumps do hold the bot (so they are real) and sealed values.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
from pathlib import Path

import nats
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from devstack.infra import binaries
from devstack.platform import DATABASES
from mb_shared.contracts import STREAMS
from meeting_simulator.conversation import render_conversation
from meeting_simulator.speech import Voice
from support import MEETING_LINES, Api, BackgroundServer, SpeechProviders, wait_for

SENTENCE = MEETING_LINES[0][1]
OBF_TOKEN = "obf-customer-token-5f2a9c"
SDK_PASSWORD = "sdk-password-77e1b0"
FILE_SIGNATURE = "file-signature-3c9d41"


@pytest.fixture(scope="module")
def customer(platform, webhooks) -> dict:
    account = platform.create_account("secrets")
    api = Api(platform.endpoints.gateway_url, account["api_key"])
    second = api.request("POST", "/accounts/api_keys")
    assert second.status == 201, second.body
    secret = api.request("GET", "/accounts/webhook_secret").body["secret"]
    assert api.request("POST", "/accounts/webhook_url",
                       {"webhook_url": webhooks.url + "/secrets"}).status == 200
    return {"first_key": api.api_key, "second_key": second.body["api_key"], "secret": secret,
            "api": Api(api.base_url, second.body["api_key"]), "account_id": account["account_id"]}


@pytest.fixture(scope="module")
def transcribed(customer, simulator, webhooks, speech_providers: SpeechProviders):
    """A bot transcribed by Gladia with the customer's key, then again by Runpod."""
    from meeting_simulator.client import new_meet_code

    api: Api = customer["api"]
    code = new_meet_code()
    simulator.create_meeting(code, participants=[{"name": "Alice"}],
                             script=[{"speaker": "Alice", "text": SENTENCE, "at": 1.5}],
                             admission={"action": "admit", "after": 1.0}, end_after=9.0)
    response = api.join(meeting_url=f"https://meet.google.com/{code}", bot_name="Sealed",
                        speech_to_text={"provider": "Gladia",
                                        "api_key": speech_providers.gladia_key})
    assert response.status == 200, response.body
    bot_id = response.body["bot_id"]
    complete = webhooks.wait_final(bot_id, timeout=180)
    assert complete.body["event"] == "complete", complete.body
    again = api.request("POST", "/bots/retranscribe", {
        "bot_uuid": bot_id,
        "speech_to_text": {"provider": "Runpod", "api_key": speech_providers.runpod_key}})
    assert again.status == 202, again.body
    rerun = webhooks.wait_for(bot_id, lambda w: w.body["event"] == "transcription_complete",
                              timeout=120)
    return bot_id, complete, rerun


@pytest.fixture(scope="module")
def zoom_joined(customer, simulator, webhooks) -> str:
    """A Zoom bot that joined a meeting for signed-in users with the customer's OBF token."""
    from meeting_simulator.client import new_zoom_meeting_id

    code = new_zoom_meeting_id()
    simulator.create_meeting(code, platform="zoom", participants=[{"name": "Alice"}],
                             admission={"action": "admit", "after": 0.5}, end_after=6.0,
                             require_sign_in=True, accepted_tokens=[OBF_TOKEN])
    response = customer["api"].join(meeting_url=f"https://zoom.us/j/{code}", bot_name="Signed",
                                    zoom_obf_token=OBF_TOKEN, zoom_sdk_id="sdk-client-id",
                                    zoom_sdk_pwd=SDK_PASSWORD)
    assert response.status == 200, response.body
    final = webhooks.wait_final(response.body["bot_id"], timeout=180)
    assert final.body["event"] == "complete", final.body
    guest = simulator.meeting(code)["guests"][0]
    assert guest["authenticated"] is True and guest["token_kind"] == "obf", guest
    return response.body["bot_id"]


@pytest.fixture(scope="module")
def imported(customer, tmp_path_factory) -> dict:
    """A meeting imported from a file that its host serves only with the signature in the URL."""
    directory = tmp_path_factory.mktemp("signed-files")
    render_conversation([("Alice", SENTENCE)], {"Alice": Voice("en-us")},
                        directory / "call.mp3")

    async def signed_file(request: web.Request) -> web.StreamResponse:
        if request.query.get("signature") != FILE_SIGNATURE:
            raise web.HTTPForbidden()
        return web.FileResponse(directory / "call.mp3")

    app = web.Application()
    app.router.add_get("/call.mp3", signed_file)
    server = BackgroundServer(app)
    server.start()
    try:
        api: Api = customer["api"]
        created = api.request("POST", "/meetings/", {
            "organization_id": customer["account_id"], "title": "Signed import",
            "file_url": f"{server.url}/call.mp3?signature={FILE_SIGNATURE}"})
        assert created.status == 201, created.body

        def done() -> dict | None:
            meeting = api.request("GET", f"/meetings/{created.body['id']}").body
            return meeting if meeting["status"] in ("completed", "failed") else None

        meeting = wait_for(done, timeout=180, step=0.5)
    finally:
        server.stop()
    assert meeting and meeting["status"] == "completed", meeting
    return {**meeting, "served_at": server.url}


def test_an_imported_files_url_shows_without_its_signature(imported):
    assert imported["location"] == f"{imported['served_at']}/call.mp3"


def test_webhooks_carry_the_key_and_verify_with_the_secret_through_the_sealed_copies(
        customer, transcribed):
    _, complete, rerun = transcribed
    for hook in (complete, rerun):
        headers = {k.lower(): v for k, v in hook.headers.items()}
        assert headers["x-meeting-baas-api-key"] == customer["second_key"]
        Webhook(customer["secret"]).verify(hook.raw, headers)
    assert complete.body["data"]["transcription_error"] is None
    assert rerun.body["data"]["error"] is None and rerun.body["data"]["transcript"]


def secrets_of(customer: dict, providers: SpeechProviders) -> dict[str, str]:
    signing = customer["secret"]
    return {
        "first API key": customer["first_key"],
        "second API key": customer["second_key"],
        "signing secret": signing,
        "signing secret's key": signing.removeprefix("whsec_"),
        "signing secret's key bytes (hex)": base64.b64decode(
            signing.removeprefix("whsec_")).hex(),
        "Gladia key": providers.gladia_key,
        "Runpod key": providers.runpod_key,
        "Zoom OBF token": OBF_TOKEN,
        "Zoom SDK password": SDK_PASSWORD,
        "file URL signature": FILE_SIGNATURE,
    }


def dump_databases(platform) -> dict[str, str]:
    pg_dump = Path(binaries().postgres_bin) / "pg_dump"
    dumps = {}
    for database in sorted(set(DATABASES.values())):
        result = subprocess.run(
            [str(pg_dump), "--data-only", "--inserts",
             "--dbname", platform.infra_endpoints.database_dsn(database)],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        dumps[database] = result.stdout
    return dumps


async def read_streams(nats_url: str) -> dict[str, list[bytes]]:
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        found: dict[str, list[bytes]] = {}
        for name in STREAMS:
            state = (await js.stream_info(name)).state
            messages = found.setdefault(name, [])
            if not state.messages:
                continue
            for seq in range(state.first_seq, state.last_seq + 1):
                try:
                    message = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:
                    continue
                messages.append(repr(message.headers).encode() + b"\n" + message.data)
        return found
    finally:
        await client.close()


def test_no_secret_in_any_database_stream_or_log(platform, customer, transcribed, zoom_joined,
                                                  imported, speech_providers):
    bot_id, _, _ = transcribed
    secrets = secrets_of(customer, speech_providers)
    dumps = dump_databases(platform)
    assert bot_id in dumps["scheduler"] and bot_id in dumps["webhooks"], "the dumps are real"
    assert zoom_joined in dumps["scheduler"] and "sdk-client-id" in dumps["scheduler"]
    assert "sealed:" in dumps["gateway"], "the gateway keeps its secrets sealed"
    assert "Signed import" in dumps["meetings"] and "sealed:" in dumps["meetings"]
    streams = asyncio.run(read_streams(platform.endpoints.infra.nats_url))
    assert any(bot_id.encode() in m for m in streams["EVENTS"]), "the streams are real"
    logs = {p.name: p.read_text(errors="replace")
            for p in Path(platform.processes.log_dir).glob("*.log")}
    assert logs, "the services' logs are read"
    leaks = []
    for what, value in secrets.items():
        for database, text in dumps.items():
            if value in text:
                leaks.append(f"{what} in the {database} database")
        for stream, messages in streams.items():
            if any(value.encode() in m for m in messages):
                leaks.append(f"{what} in the {stream} stream")
        for log_name, text in logs.items():
            if value in text:
                leaks.append(f"{what} in {log_name}")
    assert leaks == []

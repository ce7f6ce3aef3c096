"""Schemathesis against the live gateway, from the document it serves at `/openapi.json`.

Every phase (examples, coverage, fuzzing, stateful along the document's links) and every default
check (server errors, status codes, content types, headers, response schemas, positive data
accepted, negative data refused, missing auth, unsupported methods, use after free, ...) at 25
examples per operation; the configuration is `tests/schemathesis.toml`. It runs as a dedicated
account, so that creating and revoking API keys, rotating the signing secret or setting the
webhook URL leaves the other tests' account alone. `tests/schemathesis_hooks.py` keeps the bots it
creates queued (start in 2100) with the local webhook receiver as their webhook URL: no browser
starts and nothing leaves this machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devstack.platform import _bin
from support import Api

TESTS = Path(__file__).resolve().parent
CONFIG = TESTS / "schemathesis.toml"
MEET = "https://meet.google.com/abc-defg-hij"


@pytest.fixture(scope="module")
def schemathesis_account(api, platform) -> Api:
    created = platform.create_account("schemathesis")
    account = Api(platform.endpoints.gateway_url, created["api_key"])
    account.account_id = created["account_id"]
    return account


def test_the_document_and_its_page_are_served_without_a_key(api):
    document = api.request("GET", "/openapi.json", api_key=None)
    assert document.status == 200
    assert document.body["openapi"].startswith("3.1")
    assert "/bots/" in document.body["paths"]
    import urllib.request

    with urllib.request.urlopen(api.base_url + "/docs", timeout=30) as page:
        assert page.headers["Content-Type"].startswith("text/html")
        assert "/bots/meeting_data" in page.read().decode()


def test_text_holding_nul_is_refused_naming_the_field(api):
    response = api.join(meeting_url=MEET, bot_name="Bot", extra={"note": "a\x00b"})
    assert response.status == 400
    assert response.body["code"] == "InvalidCharacter"
    assert response.body["field"] == "extra.note"
    listed = api.request("GET", "/bots/bots_with_metadata?bot_name=%00")
    assert listed.status == 400 and listed.body["field"] == "bot_name"


def test_another_method_on_a_fixed_bots_path_is_a_405_with_allow(api):
    response = api.request("DELETE", "/bots/meeting_data")
    assert response.status == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_schemathesis_finds_nothing(schemathesis_account, webhooks, tmp_path):
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "MB_SCHEMATHESIS_WEBHOOK_URL": webhooks.url + "/schemathesis",
        "MB_SCHEMATHESIS_KEY_PREFIX": schemathesis_account.api_key[:12],
        "MB_SCHEMATHESIS_API_KEY": schemathesis_account.api_key,
        "MB_SCHEMATHESIS_BASE_URL": schemathesis_account.base_url,
        "MB_SCHEMATHESIS_ORG_ID": str(schemathesis_account.account_id),
    }
    command = [
        _bin("schemathesis"), "--config-file", str(CONFIG), "--no-color", "run",
        f"{schemathesis_account.base_url}/openapi.json",
        "--header", f"x-meeting-baas-api-key: {schemathesis_account.api_key}",
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=1500)
    output = (result.stdout + result.stderr).replace(schemathesis_account.api_key, "mb_***")
    print(output[-6000:])
    assert result.returncode == 0, output[-25000:]

"""Accounts: the default webhook URL, API keys (rotation without downtime), the signing secret."""

from __future__ import annotations

import json

import pytest

from support import Api, account_api


@pytest.fixture
def fresh_account(api, platform) -> Api:
    return account_api(platform, "accounts-test")


def test_the_default_webhook_url_can_be_set_and_read(fresh_account):
    assert fresh_account.request("GET", "/accounts/webhook_url").body == {"webhook_url": None}
    response = fresh_account.request("POST", "/accounts/webhook_url",
                                     {"webhook_url": "https://hooks.example.org/meetings"})
    assert response.status == 200
    assert fresh_account.request("GET", "/accounts/webhook_url").body == {
        "webhook_url": "https://hooks.example.org/meetings"}


@pytest.mark.parametrize(("body", "status"), [({"webhook_url": "ftp://x"}, 400), ({}, 422),
                                              ({"webhook_url": 5}, 422)])
def test_a_bad_webhook_url_is_refused_naming_the_field(fresh_account, body, status):
    response = fresh_account.request("POST", "/accounts/webhook_url", body)
    assert response.status == status
    assert response.body["field"] == "webhook_url"


def test_keys_rotate_without_downtime_and_are_never_shown_again(fresh_account):
    created = fresh_account.request("POST", "/accounts/api_keys")
    assert created.status == 201
    new_key = created.body["api_key"]
    assert new_key.startswith("mb_") and new_key.startswith(created.body["prefix"])
    listed = fresh_account.request("GET", "/accounts/api_keys").body["api_keys"]
    assert len(listed) == 2 and all(k["active"] for k in listed)
    assert new_key not in json.dumps(listed)
    old_prefix = next(k["prefix"] for k in listed if k["prefix"] != created.body["prefix"])

    rotated = Api(fresh_account.base_url, new_key)
    assert rotated.request("DELETE", f"/accounts/api_keys/{old_prefix}").body == {"ok": True}
    assert fresh_account.request("GET", "/accounts/webhook_url").status == 401
    assert rotated.request("GET", "/accounts/webhook_url").status == 200
    last = rotated.request("DELETE", f"/accounts/api_keys/{created.body['prefix']}")
    assert last.status == 409 and last.body["code"] == "LastActiveKey"
    assert rotated.request("DELETE", "/accounts/api_keys/mb_nothing").status == 404


def test_the_signing_secret_is_a_standard_webhooks_secret_and_rotates(fresh_account):
    secret = fresh_account.request("GET", "/accounts/webhook_secret").body["secret"]
    assert secret.startswith("whsec_")
    rotated = fresh_account.request("POST", "/accounts/webhook_secret/rotate").body["secret"]
    assert rotated.startswith("whsec_") and rotated != secret
    assert fresh_account.request("GET", "/accounts/webhook_secret").body["secret"] == rotated


def test_accounts_routes_need_a_key(api):
    for method, path in (("GET", "/accounts/webhook_url"), ("GET", "/accounts/api_keys"),
                         ("POST", "/accounts/api_keys"), ("GET", "/accounts/webhook_secret")):
        assert api.request(method, path, api_key=None).status == 401

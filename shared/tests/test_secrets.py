"""The key ring that seals secrets at rest and between services."""

from __future__ import annotations

import pytest

from mb_shared.secrets import (
    KeyRing,
    OneTimeRecipient,
    SecretError,
    is_sealed,
    new_key,
    seal_for,
)
from mb_shared.settings import BaseServiceSettings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_sealed_secret_opens_and_does_not_show_it():
    ring = KeyRing([new_key()])
    sealed = ring.seal(SECRET)
    assert is_sealed(sealed) and SECRET not in sealed
    assert ring.seal(SECRET) != sealed, "each sealing is different"
    assert ring.open(sealed) == SECRET


def test_rotation_puts_a_new_key_first_reseals_then_drops_the_old_one():
    old, new = new_key(), new_key()
    sealed_with_old = KeyRing([old]).seal(SECRET)
    both = KeyRing([new, old])
    assert both.open(sealed_with_old) == SECRET
    resealed = both.reseal(sealed_with_old)
    assert KeyRing([new]).open(resealed) == SECRET
    with pytest.raises(SecretError, match="no key"):
        KeyRing([new]).open(sealed_with_old)


@pytest.mark.parametrize("value", ["whsec_plain", "", "sealed:garbage"])
def test_what_is_not_sealed_by_the_ring_does_not_open(value):
    with pytest.raises(SecretError):
        KeyRing([new_key()]).open(value)


def test_a_malformed_or_missing_ring_is_refused():
    with pytest.raises(SecretError, match="not a Fernet key"):
        KeyRing(["not-a-key"])
    with pytest.raises(SecretError, match="empty"):
        KeyRing([])


class SealingSettings(BaseServiceSettings):
    SEALS_SECRETS = True


def test_settings_require_the_ring_outside_development_where_secrets_are_sealed(monkeypatch):
    monkeypatch.setenv("MB_ENVIRONMENT", "production")
    monkeypatch.setenv("S3_SECRET_KEY", "a-real-secret-key")
    monkeypatch.delenv("MB_SECRET_KEYS", raising=False)
    with pytest.raises(ValueError, match="MB_SECRET_KEYS"):
        SealingSettings()
    assert BaseServiceSettings().secret_keys == [], "a service that seals nothing needs no ring"
    monkeypatch.setenv("MB_SECRET_KEYS", "short")
    with pytest.raises(ValueError, match="Fernet"):
        SealingSettings()
    first, second = new_key(), new_key()
    monkeypatch.setenv("MB_SECRET_KEYS", f"{first}, {second}")
    settings = SealingSettings()
    assert settings.secret_keys == [first, second]
    assert first not in repr(settings)
    assert settings.key_ring().open(KeyRing([second]).seal(SECRET)) == SECRET


def test_a_secret_sealed_for_a_one_time_recipient_opens_only_there():
    recipient, stranger = OneTimeRecipient(), OneTimeRecipient()
    sealed = seal_for(recipient.public_key, "obf-token-123")
    assert "obf-token-123" not in sealed
    assert recipient.open(sealed) == "obf-token-123"
    with pytest.raises(SecretError):
        stranger.open(sealed)
    with pytest.raises(SecretError):
        recipient.open(sealed[:-4] + "AAAA")
    with pytest.raises(SecretError):
        seal_for("not a key", "x")

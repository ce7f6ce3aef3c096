"""Secrets at rest, and between services: sealed with the platform's key ring.

Webhook signing secrets, copies of API keys kept for the documented webhook header, speech
provider keys (and the OAuth tokens to come) are stored sealed, and cross the bus only sealed,
in request/reply answers (never in events). The ring is `MB_SECRET_KEYS`: Fernet keys (AES-128-CBC
with HMAC-SHA256), comma-separated, newest first. The first seals; all open, so a key is rotated by
putting a new one first, running each service's `rotate-secrets` (which re-seals every stored
value with it), then removing the old key.

A process that holds no ring (the bot-runner) and must receive a secret (a Zoom OBF token) asks with
the public half of a `OneTimeRecipient`; the answer is sealed to it (`seal_for`, a libsodium sealed
box), so only that process, for that one answer, can open it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nacl.encoding import URLSafeBase64Encoder
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

SEALED_PREFIX = "sealed:"


class SecretError(ValueError):
    """A sealed value that no key of the ring opens, or a ring that cannot be made."""


def new_key() -> str:
    """A fresh key for `MB_SECRET_KEYS`."""
    return Fernet.generate_key().decode()


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(SEALED_PREFIX)


def count_sealed(value: Any) -> int:
    """How many sealed strings `value` (JSON: dicts, lists, strings) holds."""
    if isinstance(value, str):
        return int(is_sealed(value))
    if isinstance(value, dict):
        return sum(count_sealed(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_sealed(v) for v in value)
    return 0


class KeyRing:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretError("MB_SECRET_KEYS is empty: secrets cannot be sealed or opened")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except (ValueError, TypeError) as exc:
            raise SecretError("MB_SECRET_KEYS holds a key that is not a Fernet key "
                              "(32 url-safe base64-encoded bytes)") from exc

    def seal(self, secret: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        if not is_sealed(sealed):
            raise SecretError("not a sealed value")
        try:
            return self._fernet.decrypt(sealed[len(SEALED_PREFIX):].encode()).decode()
        except InvalidToken:
            raise SecretError("no key of MB_SECRET_KEYS opens this value") from None

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the newest key (what `rotate-secrets` does)."""
        if not is_sealed(sealed):
            raise SecretError("not a sealed value")
        try:
            token = self._fernet.rotate(sealed[len(SEALED_PREFIX):].encode())
        except InvalidToken:
            raise SecretError("no key of MB_SECRET_KEYS opens this value") from None
        return SEALED_PREFIX + token.decode()

    def reseal_within(self, value: Any) -> Any:
        """`value` (JSON: dicts, lists, strings) with every sealed string in it sealed again."""
        if isinstance(value, str):
            return self.reseal(value) if is_sealed(value) else value
        if isinstance(value, dict):
            return {k: self.reseal_within(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.reseal_within(v) for v in value]
        return value

    def open_optional(self, sealed: str | None) -> str | None:
        return None if sealed is None else self.open(sealed)

    def seal_optional(self, secret: str | None) -> str | None:
        return None if secret is None else self.seal(secret)


class OneTimeRecipient:
    """A key pair made for one answer; its private half never leaves this object."""

    def __init__(self) -> None:
        self._key = PrivateKey.generate()

    @property
    def public_key(self) -> str:
        return self._key.public_key.encode(URLSafeBase64Encoder).decode()

    def open(self, sealed: str) -> str:
        try:
            return SealedBox(self._key).decrypt(sealed.encode(), URLSafeBase64Encoder).decode()
        except (CryptoError, ValueError) as exc:
            raise SecretError("the answer was not sealed to this recipient") from exc


def seal_for(public_key: str, secret: str) -> str:
    """`secret` sealed to a `OneTimeRecipient.public_key`."""
    try:
        recipient = PublicKey(public_key.encode(), URLSafeBase64Encoder)
    except (CryptoError, ValueError) as exc:
        raise SecretError("not a recipient's public key") from exc
    return SealedBox(recipient).encrypt(secret.encode(), URLSafeBase64Encoder).decode()

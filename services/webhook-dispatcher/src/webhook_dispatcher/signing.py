"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`.

The key is the base64 part of the account's `whsec_...` secret, decoded. The signature covers the
exact bytes of the body sent, so it is computed per attempt, after presigned URLs are refreshed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class InvalidSecretError(ValueError):
    """The signing secret is not `whsec_` followed by non-empty base64."""


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret (the prefix is optional, padding may be missing)."""
    encoded = secret.strip()
    if encoded.startswith(SECRET_PREFIX):
        encoded = encoded[len(SECRET_PREFIX):]
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecretError("webhook signing secret is not valid base64") from exc
    if not key:
        raise InvalidSecretError("webhook signing secret is empty")
    return key


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(key, webhook_id, timestamp, body),
    }

"""Public identifiers: time-ordered (for keyset pagination) and unguessable (80 random bits)."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id() -> str:
    """Return a 26-character id whose lexical order follows creation time (ULID layout)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_key(prefix: str) -> str:
    """Return a random public key such as `site_3hx…`."""
    return f"{prefix}_{secrets.token_urlsafe(18)}"

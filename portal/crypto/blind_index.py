"""Blind indexes: equality look-ups on encrypted values. HMAC-SHA-256 over
the normalised value, under a key derived per purpose with HKDF, so an index
of identifiers cannot be matched against an index of e-mails."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class BlindIndex:
    def __init__(self, root_key: bytes) -> None:
        self._root = root_key
        self._keys: dict[str, bytes] = {}

    def _key(self, purpose: str) -> bytes:
        if purpose not in self._keys:
            hkdf = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal blind index v1: " + purpose.encode()
            )
            self._keys[purpose] = hkdf.derive(self._root)
        return self._keys[purpose]

    def __call__(self, purpose: str, normalised: str) -> bytes:
        """`normalised` must already be in canonical form (the caller knows
        what canonical means for its field)."""
        return hmac.new(self._key(purpose), normalised.encode(), hashlib.sha256).digest()

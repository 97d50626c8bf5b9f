"""Envelope encryption and blind indexes (DESIGN.md section 4).

Imports nothing from Flask and nothing from the areas above it."""

from portal.crypto.blind_index import BlindIndex
from portal.crypto.errors import CryptoError, DecryptionFailed, KeyDestroyed
from portal.crypto.keyring import Keyring, KeyringError, init_keys
from portal.crypto.vault import Cipher, Vault

__all__ = [
    "BlindIndex",
    "Cipher",
    "CryptoError",
    "DecryptionFailed",
    "KeyDestroyed",
    "Keyring",
    "KeyringError",
    "Vault",
    "init_keys",
]

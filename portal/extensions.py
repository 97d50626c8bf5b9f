"""Per-app services, reached from routes and commands through these
accessors (the app factory puts them in `app.extensions`)."""
from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from portal.crypto import Keyring, Vault
from portal.db import Database


def database() -> Database:
    return current_app.extensions["portal.db"]


def session() -> Session:
    return database().session()


def vault() -> Vault:
    """The vault, with its keys loaded from files on first use; a missing or
    damaged key file raises KeyringError here, never plaintext."""
    ext = current_app.extensions
    if "portal.vault" not in ext:
        ext["portal.vault"] = Vault(Keyring.load(current_app.config["KEY_DIR"]))
    return ext["portal.vault"]

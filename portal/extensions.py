"""Unbound extensions, and accessors for the per-app services the factory
puts in `app.extensions`."""

from __future__ import annotations

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from portal.crypto import Keyring, Vault
from portal.db import Database

babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()


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

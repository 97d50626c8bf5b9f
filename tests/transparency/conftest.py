"""Fixtures of the transparency-log tests: an app with a log signing key."""
from __future__ import annotations

import pytest

from portal.transparency.notes import Signer, create_key_file


@pytest.fixture
def log_app(app, instance):
    create_key_file(instance / "keys")
    return app


@pytest.fixture
def signer(log_app, instance) -> Signer:
    return Signer.load(instance / "keys")

"""Fixtures shared by the account tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def browser(client):
    """The test client, with English pages."""
    client.set_cookie("lang", "en")
    return client

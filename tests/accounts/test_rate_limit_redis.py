"""With several workers, rate limits must be shared: two apps (as two
worker processes would be) counting in the same Redis see one limit."""

import os
import secrets
import socket

import pytest

from .helpers import token

REDIS = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def redis_up() -> bool:
    host, port = REDIS.split("//")[1].split(":")
    try:
        socket.create_connection((host, int(port.split("/")[0])), timeout=1).close()
        return True
    except OSError:
        return False


def test_two_workers_share_one_login_limit(make_app):
    if not redis_up():
        pytest.skip(f"no Redis at {REDIS}")
    prefix = f"portal-test-{secrets.token_hex(4)}"  # a fresh counter for this test
    workers = [make_app(RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix) for _ in range(2)]
    clients = [w.test_client() for w in workers]
    codes = []
    for n in range(12):  # the limit is 10 a minute per address, whichever worker answers
        client = clients[n % 2]
        codes.append(
            client.post(
                "/login",
                data={"email": "x@y.example", "password": "wrong password", "csrf_token": token(client, "/login")},
            ).status_code
        )
    assert codes[:10] == [200] * 10
    assert codes[10:] == [429, 429]

"""`portal apikeys issue|list|revoke|rotate`: tokens printed once and
working; lists without secrets; revoked and rotated keys refused at once."""

from __future__ import annotations

from .conftest import bearer, furnish_body, is_problem


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["apikeys", *args])


def furnishes(app, token) -> int:
    return app.test_client().post("/api/v1/records", json=furnish_body(), headers=bearer(token)).status_code


def test_issue_list_revoke(app, world):
    issued = cli(app, "issue", "test-bank", "--scope", "furnish", "--scope", "query")
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[0]
    assert token.startswith("pk_")
    assert furnishes(app, token) == 201
    key_id, secret = token[3:].split(".")

    listed = cli(app, "list", "test-bank")
    assert listed.exit_code == 0
    assert key_id in listed.output
    assert "furnish+query" in listed.output
    assert secret not in listed.output
    assert "active" in listed.output

    revoked = cli(app, "revoke", key_id)
    assert revoked.exit_code == 0
    assert f"revoked {key_id}" in revoked.output
    assert furnishes(app, token) == 401
    assert "revoked" in cli(app, "list", "test-bank").output


def test_rotate_keeps_the_scopes_and_retires_the_old_key(app, world):
    old = cli(app, "issue", "test-bank", "--scope", "furnish").stdout.strip().splitlines()[0]
    rotated = cli(app, "rotate", old[3:19])
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip().splitlines()[0]
    assert new.startswith("pk_")
    assert new != old
    assert furnishes(app, old) == 401
    assert furnishes(app, new) == 201
    listed = cli(app, "list", "test-bank").output
    assert new[3:19] in listed
    assert listed.count("furnish") == 2
    # The new key has the old key's scopes, no more.
    query = app.test_client().get("/api/v1/reports/11010519491231002X?purpose=loan_approval", headers=bearer(new))
    is_problem(query, 403)
    again = cli(app, "rotate", old[3:19])
    assert again.exit_code != 0
    assert "revoked" in again.output


def test_mistakes_are_refused_with_a_message(app, world):
    for args, words in [
        (("issue", "no-such-bank", "--scope", "query"), "no institution"),
        (("issue", "test-bank"), "--scope"),
        (("issue", "test-bank", "--scope", "admin"), "admin"),
        (("revoke", "0123456789abcdef"), "no API key"),
        (("rotate", "0123456789abcdef"), "no API key"),
        (("list", "no-such-bank"), "no institution"),
    ]:
        result = cli(app, *args)
        assert result.exit_code != 0, (args, result.output)
        assert words in result.output, (args, result.output)

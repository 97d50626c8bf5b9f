"""Officer screens mask the subject; the assigned officer may reveal the
name and identifier with a reason, which is an access event the subject
sees in their access log."""

from __future__ import annotations

import html

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.events import open_detail
from portal.audit.models import AccessEvent, EventKind
from portal.compliance import policy
from portal.compliance import reveal as officers
from portal.disputes.lifecycle import DisputeError
from portal.disputes.models import Dispute
from portal.extensions import session, vault
from portal.records.models import Subject
from tests.officers import as_user, assign_to, case_url, file_case, post_form, version_of

NAME, IDENTIFIER = "张三", "11010519491231002X"
MASKED_NAME, MASKED_IDENTIFIER = "张**", "1101************2X"


def reveals(app, subject_id):
    with app.app_context():
        s, v = session(), vault()
        cipher = v.cipher(s, s.get(Subject, subject_id).data_key_id)
        rows = s.scalars(
            select(AccessEvent).where(
                AccessEvent.subject_id == subject_id, AccessEvent.kind == EventKind.IDENTITY_REVEALED
            )
        ).all()
        return [(e.actor_user_id, e.channel, open_detail(cipher, e)[0]) for e in rows]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张**"),
        ("欧阳娜娜", "欧**"),
        ("Alice", "A**"),
        ("A", "A**"),
        ("福州示例科技有限公司", "福**"),
        ("  Bob ", "B**"),
        ("", "***"),
    ],
)
def test_names_keep_their_first_character_only(value, masked):
    assert officers.mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "1101************2X"),
        ("91350100M000100Y43", "9135************43"),
        ("1234567", "1234*67"),
        ("123456", "******"),
        ("", ""),
    ],
)
def test_identifiers_keep_the_first_four_and_last_two(value, masked):
    assert officers.mask_identifier(value) == masked


def test_the_subject_is_masked_until_revealed_with_a_reason(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer)
    client = as_user(app, sign_in, staff.officer)
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert NAME not in page
    assert IDENTIFIER not in page
    assert MASKED_NAME in page
    assert MASKED_IDENTIFIER in page
    assert 'name="reveal-reason"' in page

    # No reason, or one too long: refused next to the field, nothing revealed or logged.
    for reason, message in (
        ("", "Give a reason."),
        ("   ", "Give a reason."),
        ("x" * 501, "Field cannot be longer than 500 characters."),
    ):
        response = post_form(
            client, case_url(dispute_id, "/reveal"), "reveal", {"reason": reason}, version=version_of(app, dispute_id)
        )
        body = response.get_data(as_text=True)
        assert response.status_code == 200, reason
        assert message in body, reason
        assert NAME not in body
        assert IDENTIFIER not in body
    assert reveals(app, world.person_a.id) == []

    reason = "Calling the bank to <confirm> the account holder"
    response = post_form(
        client, case_url(dispute_id, "/reveal"), "reveal", {"reason": reason}, version=version_of(app, dispute_id)
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert NAME in body
    assert IDENTIFIER in body
    assert "the subject sees in their access log" in body
    ((actor, channel, detail),) = reveals(app, world.person_a.id)
    assert actor == staff.officer.id
    assert channel == "staff"
    assert detail == {"dispute_id": str(dispute_id), "reason": reason, "role": "officer"}

    # Only in that response: the next visit is masked again.
    again = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert NAME not in again
    assert IDENTIFIER not in again
    assert MASKED_NAME in again

    # The subject sees it in their access log, by a member of staff.
    log = as_user(app, sign_in, world.user_a).get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert "Name and identifier shown to an officer" in log
    assert "Portal staff (compliance officer)" in log
    assert f"Reason given: {html.escape(reason)}" in log


def test_only_the_assigned_officer_reveals(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    unassigned = file_case(app, world, "b")
    assign_to(app, dispute_id, staff.officer)
    other = as_user(app, sign_in, staff.officer2)
    assert 'name="reveal-reason"' not in other.get(case_url(dispute_id)).get_data(as_text=True)
    response = post_form(
        other, case_url(dispute_id, "/reveal"), "reveal", {"reason": "curious"}, version=version_of(app, dispute_id)
    )
    assert response.status_code == 403
    assert NAME not in response.get_data(as_text=True)
    # Nobody holds this one: nobody reveals.
    response = post_form(
        as_user(app, sign_in, staff.supervisor),
        case_url(unassigned, "/reveal"),
        "reveal",
        {"reason": "curious"},
        version=version_of(app, unassigned),
    )
    assert response.status_code == 403
    assert "李四" not in response.get_data(as_text=True)
    assert reveals(app, world.person_a.id) == []
    assert reveals(app, world.person_b.id) == []


def test_a_firm_is_masked_the_same_way(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "f")
    assign_to(app, dispute_id, staff.supervisor)
    client = as_user(app, sign_in, staff.supervisor)
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert "福**" in page
    assert "9135************43" in page
    assert "福州示例科技有限公司" not in page
    body = post_form(
        client,
        case_url(dispute_id, "/reveal"),
        "reveal",
        {"reason": "Checking the licence"},
        version=version_of(app, dispute_id),
    ).get_data(as_text=True)
    assert "福州示例科技有限公司" in body
    assert "91350100M000100Y43" in body
    assert reveals(app, world.firm_f.id)[0][2]["role"] == "supervisor"


def test_reveal_rules_in_the_service(app, world, staff):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer)
    with app.app_context(), force_locale("en"):  # the messages as written
        s, v = session(), vault()
        d = s.get(Dispute, dispute_id)
        one, two = s.get(User, staff.officer.id), s.get(User, staff.officer2.id)
        with pytest.raises(policy.NotAssigned):
            officers.reveal(s, v, d, two, "a reason")
        with pytest.raises(DisputeError, match="Say why"):
            officers.reveal(s, v, d, one, " \n ")
        with pytest.raises(DisputeError, match="at most 500"):
            officers.reveal(s, v, d, one, "x" * 501)
        shown = officers.reveal(s, v, d, one, "x" * 500)
        assert (shown.name, shown.identifier) == (NAME, IDENTIFIER)
        s.commit()
    assert len(reveals(app, world.person_a.id)) == 1

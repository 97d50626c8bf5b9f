"""Two furnishers' records about a subject not yet on file, at the same
moment on two connections: both are kept, on one subject made once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.api.schemas import parse_furnish
from portal.api.services import furnish_record
from portal.extensions import vault
from portal.institutions.models import ApiKey, Institution
from portal.localtime import today as portal_today
from portal.records.identifiers import resident_id_check
from portal.records.models import CreditRecord, SubjectKind
from portal.records.services import find_subject

pytestmark = pytest.mark.committing  # two connections, each committing for real

NEW_PERSON = "11010519900307123" + resident_id_check("11010519900307123")


def furnishing(reference: str):
    body = {
        "subject": {"kind": "person", "identifier": NEW_PERSON, "name": "新来的"},
        "record": {
            "category": "loan",
            "reference": reference,
            "status": "active",
            "negative": False,
            "details": {"currency": "CNY", "principal": "1000.00", "opened_on": "2024-05-01"},
        },
    }
    return parse_furnish(body, portal_today())


def furnish(s: Session, institution_id, reference: str):
    institution = s.get(Institution, institution_id)
    key = s.scalar(select(ApiKey).where(ApiKey.institution_id == institution_id))
    return furnish_record(s, vault(), institution, key, furnishing(reference))


def test_two_furnishings_of_one_new_subject_at_once_make_it_once(app, api):
    engine = app.extensions["portal.db"].engine
    outcome: list = []

    def second() -> None:
        with app.app_context(), Session(engine) as s:
            outcome.append(furnish(s, api.ids.lender, "LENDER-1").subject_created)
            s.commit()

    with app.app_context(), Session(engine) as s:
        assert furnish(s, api.ids.bank, "BANK-1").subject_created
        s.flush()  # the subject made, not yet committed
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)  # the second furnishing meets the subject under way
        s.commit()
    thread.join(timeout=60)
    assert outcome == [False]  # kept, on the subject the first one made
    with app.app_context(), Session(engine) as s:
        subject = find_subject(s, vault(), SubjectKind.PERSON, NEW_PERSON)
        furnishers = s.scalars(select(CreditRecord.furnisher_id).where(CreditRecord.subject_id == subject.id))
        assert sorted(furnishers) == sorted([api.ids.bank, api.ids.lender])

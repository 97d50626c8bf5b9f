"""The people the browser journeys meet: a person and a firm on file, and
the firm's representative (the `on_file` fixture in conftest.py)."""

from __future__ import annotations

from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish

PERSON_ID, PERSON_NAME = "11010519491231002X", "张三"
FIRM_ID, FIRM_NAME = "91350100M000100Y43", "福州示例科技有限公司"
PASSWORD = "correct horse battery staple"


def put_on_file(live_app) -> None:
    """A person and a firm on file, with a contact and records; the firm's
    representative has an account with a password but no second factor."""
    with live_app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        bank = create_institution(
            s,
            v,
            NewInstitution(
                "hengtong-bank", "恒通银行", "Hengtong Bank", InstitutionKind.BANK, [], "周立", "ops@bank.example"
            ),
        )
        person = create_subject(s, v, SubjectKind.PERSON, PERSON_ID, PERSON_NAME, contact_email="zhang@mail.example")
        firm = create_subject(s, v, SubjectKind.FIRM, FIRM_ID, FIRM_NAME, contact_email="office@firm.example")
        for subject, ref, negative in (
            (person, "LOAN-1", False),
            (person, "CARD-1", True),
            (firm, "FIRM-LOAN-1", True),
        ):
            furnish(
                s,
                v,
                bank,
                subject,
                RecordInput(
                    Category.LOAN if "LOAN" in ref else Category.CREDIT_CARD,
                    ref,
                    RecordStatus.SETTLED if negative else RecordStatus.ACTIVE,
                    negative,
                    None,
                    {"currency": "CNY", "principal": "120000.00", "balance": "0.00", "opened_on": "2020-05-01"},
                ),
            )
        create_user(
            s,
            v,
            role=Role.FIRM_REPRESENTATIVE,
            email="rep@firm.example",
            display_name="法定代表人",
            password=PASSWORD,
            subject_id=firm.id,
        )
        s.commit()

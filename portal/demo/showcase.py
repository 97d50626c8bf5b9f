"""What the demo logins see beyond their records: the logins themselves
(with a firm agent's delegation), authorities given and registered,
institutions' queries (served and refused), and dispute cases for the
officers. Everything goes through the portal's own services."""

from __future__ import annotations

import hashlib
import random
import secrets
from datetime import date, timedelta
from typing import Any

import pyotp
from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access import consents
from portal.accounts.models import DelegationScope, FirmDelegation, Role, User
from portal.accounts.services import create_user
from portal.api.services import query_report
from portal.audit.purposes import Purpose
from portal.crypto import Vault
from portal.demo.people import GIVEN, SURNAMES
from portal.disputes import decisions
from portal.disputes.evidence import Upload
from portal.disputes.lifecycle import advance
from portal.disputes.models import DisputeReason, DisputeStatus, Regime
from portal.disputes.services import file_dispute
from portal.institutions.models import ApiKey, Institution
from portal.records.models import CreditRecord, Subject, SubjectKind
from portal.records.services import view_subject

Showcase = dict[SubjectKind | str, tuple[Subject, str, str]]


def logins(
    session: Session, vault: Vault, rng: random.Random, today: date, showcase: Showcase, creds: dict[str, Any]
) -> None:
    """The demo logins (passwords and TOTP secrets from the system's
    generator), with the firm agent's delegation; written into `creds`."""
    person, person_id, person_name = showcase[SubjectKind.PERSON]
    firm, firm_id, firm_name = showcase[SubjectKind.FIRM]
    logins = [
        (Role.PERSON, "person@demo.example", person_name, person, person_id),
        (Role.FIRM_REPRESENTATIVE, "firm.rep@demo.example", "法定代表人 " + firm_name, firm, firm_id),
        (
            Role.FIRM_AGENT,
            "firm.agent@demo.example",
            "经办人 " + rng.choice(SURNAMES) + rng.choice(GIVEN),
            None,
            firm_id,
        ),
        (Role.OFFICER, "officer@demo.example", "合规专员 " + rng.choice(SURNAMES) + rng.choice(GIVEN), None, None),
        (Role.OFFICER, "officer2@demo.example", "合规专员 " + rng.choice(SURNAMES) + rng.choice(GIVEN), None, None),
        (Role.SUPERVISOR, "supervisor@demo.example", "主管 " + rng.choice(SURNAMES) + rng.choice(GIVEN), None, None),
        (Role.ADMINISTRATOR, "admin@demo.example", "系统管理员", None, None),
    ]
    users = {}
    for role, email, display, subject, identifier in logins:
        # Secrets come from the system's generator, not the seed: the same
        # seed must not give the same passwords on every installation.
        password = secrets.token_urlsafe(12)
        totp = pyotp.random_base32() if role.needs_second_factor else None
        users[role] = create_user(
            session,
            vault,
            role=role,
            email=email,
            display_name=display,
            password=password,
            totp_secret=totp,
            subject_id=subject.id if subject else None,
        )
        creds["logins"].append(
            {
                "role": role.value,
                "login": email,
                "password": password,
                "totp_secret": totp,
                "subject_identifier": identifier,
            }
        )
    session.add(
        FirmDelegation(
            firm_id=firm.id,
            agent_id=users[Role.FIRM_AGENT].id,
            granted_by_id=users[Role.FIRM_REPRESENTATIVE].id,
            scopes=[DelegationScope.VIEW_REPORT.value, DelegationScope.FILE_DISPUTES.value],
            valid_until=today + timedelta(days=365),
        )
    )


def authorities(
    session: Session, vault: Vault, today: date, showcase: Showcase, institutions: dict[str, Institution]
) -> None:
    """Authorities the demo logins can see: a bank's live loan-approval
    grant and an employer's expired one for the person; a live grant and a
    registered written authorisation for the firm."""

    def owner(subject: Subject) -> User:
        user = session.scalar(select(User).where(User.subject_id == subject.id))
        if user is None:  # `logins` gives every showcase subject its login
            raise LookupError(f"the demo subject {subject.id} has no login")
        return user

    person, firm = showcase[SubjectKind.PERSON][0], showcase[SubjectKind.FIRM][0]
    bank, employer = institutions["hengtong-bank"], institutions["yunfan-hr"]
    consents.grant(
        session, vault, person, bank, Purpose.LOAN_APPROVAL, today + timedelta(days=90), owner(person), today=today
    )
    # Granted four months ago for a month: expired now (and shown as such).
    consents.grant(
        session,
        vault,
        person,
        employer,
        Purpose.EMPLOYMENT_SCREENING,
        today - timedelta(days=90),
        owner(person),
        today=today - timedelta(days=120),
    )
    consents.grant(
        session,
        vault,
        firm,
        institutions["jinqiao-bank"],
        Purpose.LOAN_APPROVAL,
        today + timedelta(days=180),
        owner(firm),
        today=today,
    )
    consents.register_written(
        session,
        vault,
        bank,
        firm,
        Purpose.GUARANTEE_REVIEW,
        today + timedelta(days=60),
        hashlib.sha256(b"demo: signed guarantee review authorisation").digest(),
        "Guarantee review for a working-capital loan, signed by the legal representative",
        today=today,
    )


def queries(
    session: Session, vault: Vault, today: date, showcase: Showcase, institutions: dict[str, Institution]
) -> None:
    """Institution queries through the API's own service, so "who accessed
    my data" has something to show: one served under the bank's grant, one
    refused because the employer's grant expired, two refused for want of
    any authority, and one served for the firm. Four institutions asking
    about the person in one day is what the access monitoring flags as a
    possible identity theft: the officers' alert queue has it, and the
    person is told (once `portal worker` has run)."""
    person, firm = showcase[SubjectKind.PERSON][0], showcase[SubjectKind.FIRM][0]
    for code, subject, purpose in (
        ("hengtong-bank", person, Purpose.LOAN_APPROVAL),
        ("yunfan-hr", person, Purpose.EMPLOYMENT_SCREENING),
        ("xiaoyu-microcredit", person, Purpose.LOAN_APPROVAL),
        ("anxin-finance", person, Purpose.LOAN_APPROVAL),
        ("jinqiao-bank", firm, Purpose.LOAN_APPROVAL),
    ):
        inst = institutions[code]
        key = session.scalar(select(ApiKey).where(ApiKey.institution_id == inst.id))
        if key is None:  # `load_demo` issues a key to every institution that queries
            raise LookupError(f"the demo institution {code} has no API key")
        query_report(session, vault, inst, key, subject, purpose, None, today)


def _statement_pdf() -> bytes:
    """The evidence of the demo's disputes: a one-page repayment statement."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Repayment statement: the loan was repaid in full on 2024-06-30; balance 0.00.")
    return bytes(pdf.output())


def disputes(
    session: Session, vault: Vault, rng: random.Random, today: date, showcase: Showcase, regime: Regime | str
) -> None:
    """Cases for the officers' queue: the showcase person's dispute waiting
    for the furnisher (answer it with the furnisher's demo key), three new
    ones filed 25, 12 and 2 days ago (the first overdue), and one decided
    "verified as accurate", with its letter."""
    S = DisputeStatus
    officer = session.scalar(select(User).where(User.role == Role.OFFICER).order_by(User.created_at))
    if officer is None:  # `logins` creates the demo officers
        raise LookupError("the demo has no officer to take its cases")
    person = showcase[SubjectKind.PERSON][0]
    # The printed registration example files nothing: filing would open an
    # account for it, and a newcomer following the example would be told
    # the file already has one.
    untouched = [person.id] + ([showcase["register"][0].id] if "register" in showcase else [])
    scan = Upload("statement.pdf", _statement_pdf(), "application/pdf")

    def records_of(subject: Subject) -> list[CreditRecord]:
        return list(
            session.scalars(
                select(CreditRecord)
                .where(CreditRecord.subject_id == subject.id)
                .order_by(CreditRecord.created_at, CreditRecord.id)
            )
        )

    def file(subject: Subject, reason: DisputeReason, statement: str, days_ago: int, files=()):
        by = session.scalar(select(User).where(User.subject_id == subject.id))
        if by is None:  # a subject who registered (without a password: not a demo login)
            who = view_subject(session, vault, subject)
            contact = vault.cipher(session, subject.data_key_id).open_field(subject, "contact_email")
            if contact is None:  # every demo subject is built with a contact e-mail
                raise LookupError(f"the demo subject {subject.id} has no contact e-mail to register with")
            by = create_user(
                session, vault, role=Role.PERSON, subject_id=subject.id, display_name=who.name, email=contact
            )
        filed = today - timedelta(days=days_ago)
        dispute = file_dispute(
            session,
            vault,
            subject,
            by,
            [records_of(subject)[0].id],
            reason,
            statement,
            files,
            regime=regime,
            today=filed,
        )
        # As if filed `days_ago`: the filing and its files.
        dispute.filed_at = dispute.filed_at - timedelta(days=days_ago)
        for step in dispute.steps:
            step.at = dispute.filed_at
        for evidence in dispute.evidence:
            evidence.created_at = dispute.filed_at
        return dispute

    def walk(dispute, *steps):
        dispute.assigned_officer_id = officer.id
        for to in steps:
            note = "已请数据提供机构核查" if to is S.WAITING_FOR_FURNISHER else None
            advance(session, vault, dispute, to, officer, note)

    mine = file(person, DisputeReason.WRONG_AMOUNT, "余额有误：该笔贷款已于上月部分提前还款。", 3, [scan])
    walk(mine, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    others = list(
        session.scalars(
            select(Subject)
            .where(
                Subject.kind == SubjectKind.PERSON,
                Subject.id.not_in(untouched),
                Subject.id.in_(select(CreditRecord.subject_id)),
            )
            .order_by(Subject.created_at, Subject.id)
            .limit(4)
        )
    )
    # The first three others get a new case each; the fourth, below, a decided one.
    reasons = (DisputeReason.NOT_MINE, DisputeReason.PAID_OR_SETTLED, DisputeReason.OUTDATED)
    for subject, days, reason in zip(others, (25, 12, 2), reasons, strict=False):
        statement = rng.choice(["这笔记录不是我的。", "该欠款已结清，请更新。", "该记录已超过保存期限。"])
        file(subject, reason, statement, days)
    if len(others) == 4:
        decided = file(others[3], DisputeReason.WRONG_DATES, "结清日期有误。", 15)
        walk(decided, S.ACKNOWLEDGED, S.UNDER_REVIEW)
        decisions.decide(
            session, vault, decided, officer, "verified_accurate", "数据提供机构提交了还款流水，记录日期与流水一致。"
        )

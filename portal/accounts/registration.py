"""Registering proves control of a subject, not knowledge of its
identifier: a one-time code goes to the contact on file, or, for a subject
with no contact to send it to, questions about its own records are
answered (`knowledge`). Both ways are always offered, and every failure
looks the same from outside, so the forms reveal nothing about who is on
file, nor whether a contact is."""

from __future__ import annotations

import hmac
import secrets
import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.orm import Session

from portal.accounts import knowledge
from portal.accounts.models import ActivationCode, CodePurpose, RegistrationRequest, Role, User
from portal.accounts.services import AccountExists, check_password_policy, create_user, find_user
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.db import utcnow
from portal.notifications.services import notify
from portal.records.models import Subject, SubjectKind
from portal.records.services import find_subject, identifier_index, validate_identifier, view_subject

CODE_TTL = timedelta(days=7)
MAX_ATTEMPTS = 5
CODE_INDEX = "activation.code"
_NOBODY = uuid.UUID(int=0)  # stands for a subject not on file: the same statements run
NAME_INDEX = "registration.name"
ROLE_FOR = {SubjectKind.PERSON: Role.PERSON, SubjectKind.FIRM: Role.FIRM_REPRESENTATIVE}


class ActivationFailed(ValueError):
    """Wrong, expired, used up, or no such subject: one message for all."""


class FileHasAccount(ValueError):
    """The subject proved who it is, and already has an account."""


def _norm(name: str) -> str:
    """A name as compared: NFKC, no spaces, case folded."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def _code_hash(vault: Vault, subject_id: uuid.UUID, code: str) -> bytes:
    # Keyed, so the 10^8 possible codes cannot be tried offline against a
    # copy of the database.
    return vault.blind_index(CODE_INDEX, f"{subject_id}:{code}")


def issue_code(
    session: Session, vault: Vault, subject: Subject, role: Role, purpose: CodePurpose, ttl: timedelta
) -> str:
    """A new 8-digit code for `purpose` (older live ones stop working), to
    be sent to the subject's contact on file; only its keyed hash is kept."""
    session.execute(
        update(ActivationCode)
        .where(
            ActivationCode.subject_id == subject.id, ActivationCode.purpose == purpose, ActivationCode.used_at.is_(None)
        )
        .values(used_at=utcnow())
    )
    code = f"{secrets.randbelow(10**8):08d}"
    session.add(
        ActivationCode(
            subject_id=subject.id,
            role=role,
            purpose=purpose,
            code_hash=_code_hash(vault, subject.id, code),
            expires_at=utcnow() + ttl,
            attempts=0,
        )
    )
    return code


def live_code(session: Session, subject_id: uuid.UUID, purpose: CodePurpose) -> ActivationCode | None:
    return session.scalar(
        select(ActivationCode)
        .where(
            ActivationCode.subject_id == subject_id,
            ActivationCode.purpose == purpose,
            ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > utcnow(),
        )
        .order_by(ActivationCode.created_at.desc())
        .limit(1)
    )


def codes_since(session: Session, subject_id: uuid.UUID, purpose: CodePurpose, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(ActivationCode)
            .where(
                ActivationCode.subject_id == subject_id,
                ActivationCode.purpose == purpose,
                ActivationCode.created_at >= since,
            )
        )
        or 0
    )


def take_code(
    session: Session, vault: Vault, subject_id: uuid.UUID | None, code: str, purpose: CodePurpose
) -> ActivationCode | None:
    """The subject's live code for `purpose` when `code` is it; otherwise
    None, with a wrong attempt counted (MAX_ATTEMPTS use it up). A failure
    runs the same statements whether or not the subject is on file or holds
    a live code (one SELECT, one keyed hash, one UPDATE), so its time tells
    neither. The caller marks a code it accepts used (`use_code`)."""
    subject_id = subject_id or _NOBODY
    now = utcnow()
    live = live_code(session, subject_id, purpose)
    given = _code_hash(vault, subject_id, "".join(code.split()))
    if live is not None and hmac.compare_digest(live.code_hash, given):
        return live
    # One statement, so two wrong attempts at once both count.
    session.execute(
        update(ActivationCode)
        .where(ActivationCode.id == (live.id if live is not None else _NOBODY))
        .values(
            attempts=ActivationCode.attempts + 1,
            used_at=case((ActivationCode.attempts + 1 >= MAX_ATTEMPTS, now), else_=ActivationCode.used_at),
        )
        .execution_options(synchronize_session=False)
    )
    return None


def use_code(session: Session, live: ActivationCode) -> bool:
    """Mark an accepted code used; False when another request used it first."""
    taken = session.execute(
        update(ActivationCode)
        .where(ActivationCode.id == live.id, ActivationCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], taken).rowcount == 1


def ask_for_code(session: Session, vault: Vault, kind: SubjectKind, identifier: str, name: str, locale: str) -> None:
    """Queue a request for a code (`send_codes` sends it). The same work,
    and the same statements, whoever is on file: two keyed hashes and one
    INSERT. Raises InvalidIdentifier for a malformed identifier only."""
    identifier = validate_identifier(kind, identifier)
    session.add(
        RegistrationRequest(
            kind=kind.value,
            identifier_bidx=identifier_index(vault, kind, identifier),
            name_bidx=vault.blind_index(NAME_INDEX, _norm(name)),
            locale=locale,
        )
    )
    session.flush()


def send_codes(session: Session, vault: Vault, limit: int = 100) -> int:
    """Answer queued requests (the worker's job): a code to the subject's
    contact on file when the identifier and name match, a notice when an
    account exists already, nothing otherwise; and prepare the sets of
    questions asked for, and log the attempts (`prepare_questions`).
    Returns how many were taken. Flushes, never commits; several workers
    take different requests."""
    return _send_codes(session, vault, limit) + prepare_questions(session, vault, limit)


def _send_codes(session: Session, vault: Vault, limit: int) -> int:
    taken = select(RegistrationRequest).order_by(RegistrationRequest.requested_at).limit(limit)
    if session.get_bind().dialect.name != "sqlite":
        taken = taken.with_for_update(skip_locked=True)
    requests = session.scalars(taken).all()
    for asked in requests:
        kind = SubjectKind(asked.kind)
        subject = session.scalar(select(Subject).where(Subject.identifier_bidx == asked.identifier_bidx))
        if subject is not None and subject.kind is kind and subject.contact_email_ct is not None:
            name = view_subject(session, vault, subject).name
            if hmac.compare_digest(vault.blind_index(NAME_INDEX, _norm(name)), asked.name_bidx):
                with force_locale(asked.locale):
                    _send_code(session, vault, subject, kind)
        session.delete(asked)
    session.flush()
    return len(requests)


def _send_code(session: Session, vault: Vault, subject: Subject, kind: SubjectKind) -> None:
    cipher = vault.cipher(session, subject.data_key_id)
    contact, role = cipher.open_field(subject, "contact_email"), ROLE_FOR[kind]
    exists = session.scalar(select(User.id).where(User.subject_id == subject.id, User.role == role))
    if exists:
        notify(
            session,
            vault,
            key_id=subject.data_key_id,
            email=contact,
            title=_("Someone asked to register your credit file"),
            body=_(
                "An account for this credit file already exists. If you did not ask to register, "
                "you can ignore this message; nothing has changed."
            ),
        )
        return
    code = issue_code(session, vault, subject, role, CodePurpose.REGISTER, CODE_TTL)
    notify(
        session,
        vault,
        key_id=subject.data_key_id,
        email=contact,
        title=_("Your activation code"),
        body=_(
            "Your activation code is %(code)s. It is valid for 7 days. Enter it on the activation page "
            "together with your identifier. If you did not ask for it, ignore this message.",
            code=code,
        ),
    )


def activate(
    session: Session,
    vault: Vault,
    kind: SubjectKind,
    identifier: str,
    code: str,
    *,
    email: str,
    password: str,
    display_name: str,
) -> User:
    check_password_policy(password, email, identifier)
    subject = find_subject(session, vault, kind, identifier)
    live = take_code(session, vault, subject.id if subject else None, code, CodePurpose.REGISTER)
    if subject is None or live is None:
        raise ActivationFailed
    if find_user(session, vault, email) is not None:  # the code stays valid for another address
        raise AccountExists(_("This e-mail address is already used by an account."))
    if not use_code(session, live):  # another request used it a moment ago
        raise ActivationFailed
    return _open_account(session, vault, subject, live.role, email, password, display_name, {"role": live.role.value})


def _open_account(
    session: Session,
    vault: Vault,
    subject: Subject,
    role: Role,
    email: str,
    password: str,
    display_name: str,
    detail: dict[str, str],
) -> User:
    """The account-opening step, once the subject has proved who it is."""
    user = create_user(
        session, vault, role=role, email=email, display_name=display_name, password=password, subject_id=subject.id
    )
    record_event(session, vault, subject, EventKind.REGISTRATION, actor_user_id=user.id, detail=detail)
    notify(
        session,
        vault,
        key_id=user.data_key_id,
        user=user,
        email=email,
        title=_("Welcome to the credit subject portal"),
        body=_("Your account is ready. You can now see your credit report, who accessed it, and ask for corrections."),
    )
    return user


# -- identity by knowledge ------------------------------------------------------------
def ask_questions(session: Session, vault: Vault, kind: SubjectKind, identifier: str, name: str, address: str) -> str:
    """Ask for a set of questions about the file of `identifier` and `name`;
    returns the token the browser keeps. The same statements whoever is on
    file (the worker looks up the subject). Raises InvalidIdentifier for a
    malformed identifier, knowledge.Locked after too many failed sets."""
    identifier = validate_identifier(kind, identifier)
    return knowledge.ask(
        session,
        vault,
        kind.value,
        identifier_index(vault, kind, identifier),
        vault.blind_index(NAME_INDEX, _norm(name)),
        address,
    )


def prepare_questions(session: Session, vault: Vault, limit: int = 100) -> int:
    """The worker's part: give asked sets their questions (from the records
    when the identifier and name match a file), write the access event of
    answered and expired ones, forget old ones. Returns how many it took."""
    taken = (
        select(knowledge.KnowledgeChallenge)
        .where(knowledge.KnowledgeChallenge.prepared_at.is_(None))
        .order_by(knowledge.KnowledgeChallenge.requested_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name != "sqlite":
        taken = taken.with_for_update(skip_locked=True)
    rows = session.scalars(taken).all()
    pool = knowledge.institution_pool(session) if rows else []
    for row in rows:
        subject = session.scalar(select(Subject).where(Subject.identifier_bidx == row.identifier_bidx))
        if subject is not None and (subject.kind.value != row.kind or subject.shredded_at is not None):
            subject = None
        genuine = subject is not None and hmac.compare_digest(
            vault.blind_index(NAME_INDEX, _norm(view_subject(session, vault, subject).name)), row.name_bidx
        )
        knowledge.prepare(session, vault, row, subject, genuine, pool)
    session.flush()
    return len(rows) + knowledge.journal(session, vault, limit) + knowledge.forget(session)


def open_account_by_knowledge(
    session: Session, vault: Vault, token: str | None, *, email: str, password: str, display_name: str
) -> User:
    """Open the account of the subject whose questions this browser passed
    (the same step as with a code). The contact on file, if any, is told:
    knowing records is a weaker proof than holding the contact."""
    row = knowledge.passed_challenge(session, token)
    if row is None:
        raise ActivationFailed
    subject = session.get_one(Subject, row.subject_id)
    role = ROLE_FOR[subject.kind]
    check_password_policy(password, email, view_subject(session, vault, subject).identifier)
    if session.scalar(select(User.id).where(User.subject_id == subject.id, User.role == role)) is not None:
        raise FileHasAccount
    if find_user(session, vault, email) is not None:
        raise AccountExists(_("This e-mail address is already used by an account."))
    if not knowledge.use(session, row):
        raise ActivationFailed
    user = _open_account(
        session, vault, subject, role, email, password, display_name, {"role": role.value, "proof": "questions"}
    )
    if subject.contact_email_ct is not None:
        notify(
            session,
            vault,
            key_id=subject.data_key_id,
            email=vault.cipher(session, subject.data_key_id).open_field(subject, "contact_email"),
            title=_("An account was opened for your credit file"),
            body=_(
                "Someone answered questions about the records on your credit file and opened an account for it. "
                "If this was not you, contact us at once: the account will be closed."
            ),
        )
    return user

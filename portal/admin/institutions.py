"""Institutions in the operator console and on the command line: the list,
creating one, changing what it may do and who its contact is, and
suspending its querying (through compliance.oversight, so the supervisors'
history shows it too). Services flush, never commit; every act is one row
of the operators' journal, which names settings and codes, never the
contact person (personal data: only that it changed)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import operator_acts
from portal.audit.purposes import Purpose
from portal.compliance import oversight
from portal.crypto import Vault
from portal.i18n import N_, Refusal
from portal.institutions.keys import institution_by_code
from portal.institutions.models import ApiKey, Institution, InstitutionKind, InstitutionSuspension
from portal.institutions.services import NewInstitution, build_institution
from portal.records.models import Category

PER_PAGE = 50
# Lowercase letters, digits and hyphens, 2 to 32, starting and ending with a
# letter or digit (a code is typed on the command line, where a leading
# hyphen reads as an option).
CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,30}[a-z0-9]")
MAX_NAME = 200
MAX_CONTACT_NAME = 200
MAX_EMAIL = 254
# What an institution may query for: every purpose but the subject's own.
PURPOSES = [p for p in Purpose if p is not Purpose.SELF_QUERY]


class SettingsRefused(Refusal):
    """A setting the rules refuse; `field` names the form field it is about.
    str(): English (the command line); translated(): the page's language."""

    def __init__(self, field: str, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.field = field


class CodeTaken(SettingsRefused):
    def __init__(self, code: str) -> None:
        super().__init__("code", N_("The code %(code)s is taken by another institution."), code=code)


# -- the list ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    institution: Institution
    live_keys: int


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    page: int
    pages: int
    total: int


def institutions_page(session: Session, page: int) -> Page:
    """A page of institutions by code, each with its unrevoked keys counted.
    LookupError for a page past the last (page 1 of none is empty)."""
    total = session.scalar(select(func.count()).select_from(Institution)) or 0
    pages = max(1, -(-total // PER_PAGE))
    if page < 1 or page > pages:
        raise LookupError(page)
    live = (
        select(ApiKey.institution_id.label("id"), func.count().label("n"))
        .where(ApiKey.revoked_at.is_(None))
        .group_by(ApiKey.institution_id)
        .subquery()
    )
    rows = session.execute(
        select(Institution, func.coalesce(live.c.n, 0))
        .outerjoin(live, live.c.id == Institution.id)
        .order_by(Institution.code)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return Page([Row(i, int(n)) for i, n in rows], page, pages, total)


# -- the rules ------------------------------------------------------------------------------
def check_code(code: str) -> None:
    if not CODE.fullmatch(code):
        raise SettingsRefused(
            "code",
            N_("Use 2 to 32 lowercase letters, digits and hyphens, starting and ending with a letter or a digit."),
        )


def check_email(email: str) -> str:
    """The address as given, trimmed, when it is one (no look-up of its domain)."""
    email = email.strip()
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise SettingsRefused("contact_email", N_("Enter a valid e-mail address.")) from None
    if len(email) > MAX_EMAIL:
        raise SettingsRefused("contact_email", N_("Use at most %(num)d characters."), num=MAX_EMAIL)
    return email


def check_text(field: str, value: str, longest: int) -> str:
    value = value.strip()
    if not value:
        raise SettingsRefused(field, N_("This field is required."))
    if len(value) > longest:
        raise SettingsRefused(field, N_("Use at most %(num)d characters."), num=longest)
    return value


def check_permissions(kind: InstitutionKind, purposes: Iterable[str], categories: Iterable[str] | None) -> None:
    """What it may query for and furnish: known purposes and categories,
    court enforcement for courts only, and something to do (an institution
    that may neither query nor furnish could only be a mistake).
    `categories` None: any category."""
    purposes, known = list(purposes), {p.value for p in PURPOSES}
    if unknown := [p for p in purposes if p not in known]:
        raise SettingsRefused("purposes", N_("%(purpose)s is not a purpose it may query for."), purpose=unknown[0])
    if Purpose.COURT_ENFORCEMENT.value in purposes and kind is not InstitutionKind.COURT:
        raise SettingsRefused("purposes", N_("Only a court may query for court enforcement."))
    if categories is None:
        return
    categories = list(categories)
    if unknown := [c for c in categories if c not in {c.value for c in Category}]:
        raise SettingsRefused("categories", N_("%(category)s is not a record category."), category=unknown[0])
    if not purposes and not categories:
        raise SettingsRefused(
            "purposes",
            N_("It may neither query nor furnish: allow it at least one purpose or one category of records."),
        )


def _in_order(values: Iterable[str], order: Sequence[str]) -> list[str]:
    chosen = set(values)
    return [v for v in order if v in chosen]


def _purposes(values: Iterable[str]) -> list[str]:
    return _in_order(values, [p.value for p in PURPOSES])


def _categories(values: Iterable[str] | None) -> list[str] | None:
    return None if values is None else _in_order(values, [c.value for c in Category])


def _journal(session: Session, actor: User | None, channel: str, action: str, code: str, **detail: Any) -> None:
    operator_acts.record(
        session,
        actor_id=actor.id if actor else None,
        action=action,
        target_kind="institution",
        target=code,
        channel=channel,
        **detail,
    )


# -- creating --------------------------------------------------------------------------------
def create(
    session: Session,
    vault: Vault,
    data: NewInstitution,
    categories: Iterable[str] | None,
    *,
    actor: User | None,
    channel: str,
) -> Institution:
    """A new institution, its contact sealed under a data key of its own.
    `categories`: what it may furnish (None: any). SettingsRefused for a
    setting the rules refuse, CodeTaken for a code in use."""
    code = data.code.strip()
    check_code(code)
    name, name_en = check_text("name", data.name, MAX_NAME), check_text("name_en", data.name_en, MAX_NAME)
    contact_name = check_text("contact_name", data.contact_name, MAX_CONTACT_NAME)
    contact_email = check_email(data.contact_email)
    check_permissions(data.kind, data.allowed_purposes, categories)
    hours = data.query_hours
    if hours is not None and not (0 <= hours[0] <= 23 and 0 <= hours[1] <= 23 and hours[0] != hours[1]):
        raise SettingsRefused("query_hours_from", N_("Give two different whole hours from 0 to 23."))
    if institution_by_code(session, code) is not None:
        raise CodeTaken(code)
    clean = NewInstitution(
        code, name, name_en, data.kind, _purposes(data.allowed_purposes), contact_name, contact_email, hours
    )
    key, institution, cipher = build_institution(vault, clean)
    institution.allowed_categories = _categories(categories)
    try:
        with session.begin_nested():  # another administrator taking the code a moment ago
            vault.add_key(session, key, cipher)
            session.add(institution)
    except IntegrityError:
        raise CodeTaken(code) from None
    _journal(
        session,
        actor,
        channel,
        "institution_created",
        code,
        kind=institution.kind.value,
        purposes=list(institution.allowed_purposes),
        categories=institution.allowed_categories,
        query_hours=oversight.hours_text(institution.query_hours_from, institution.query_hours_until),
    )
    return institution


# -- one institution ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Contact:
    name: str
    email: str


def contact_of(session: Session, vault: Vault, institution: Institution) -> Contact:
    cipher = vault.cipher(session, institution.data_key_id)
    return Contact(cipher.open_text(institution, "contact_name"), cipher.open_text(institution, "contact_email"))


def change(
    session: Session,
    vault: Vault,
    institution: Institution,
    *,
    contact: Contact,
    purposes: Iterable[str],
    categories: Iterable[str] | None,
    actor: User | None,
    channel: str,
) -> list[str]:
    """Set its contact and what it may query for and furnish; returns the
    names of the settings changed (none: nothing written). The journal row
    names them with the new purposes and categories, and says only that
    the contact changed."""
    new = Contact(check_text("contact_name", contact.name, MAX_CONTACT_NAME), check_email(contact.email))
    check_permissions(institution.kind, purposes, categories)
    wanted_purposes, wanted_categories = _purposes(purposes), _categories(categories)
    detail: dict[str, Any] = {}
    if new != contact_of(session, vault, institution):
        cipher = vault.cipher(session, institution.data_key_id)
        cipher.seal_field(institution, "contact_name", new.name)
        cipher.seal_field(institution, "contact_email", new.email)
        detail["contact_changed"] = True
    if wanted_purposes != _purposes(institution.allowed_purposes):
        institution.allowed_purposes = wanted_purposes
        detail["purposes"] = wanted_purposes
    if wanted_categories != _categories(institution.allowed_categories):
        institution.allowed_categories = wanted_categories
        detail["categories"] = wanted_categories
    if not detail:
        return []
    session.flush()
    changed = ["contact" if k == "contact_changed" else k for k in detail]
    _journal(session, actor, channel, "institution_changed", institution.code, changed=changed, **detail)
    return changed


def suspend(
    session: Session, institution: Institution, actor: User, reason: str, seen: str | None
) -> InstitutionSuspension:
    """Its report queries refused until lifted, with the reason its API is
    told; the step joins the supervisors' oversight history. The journal row
    points at that step (the reason is kept there)."""
    step = oversight.suspend(session, institution, actor, reason, seen=seen)
    _journal(session, actor, "web", "institution_suspended", institution.code, step=str(step.id))
    return step


def lift(
    session: Session, institution: Institution, actor: User, reason: str, seen: str | None
) -> InstitutionSuspension:
    step = oversight.lift(session, institution, actor, reason, seen=seen)
    _journal(session, actor, "web", "institution_lifted", institution.code, step=str(step.id))
    return step


def load(session: Session, institution_id: uuid.UUID, for_update: bool = False) -> Institution | None:
    return oversight.load(session, institution_id, for_update=for_update)

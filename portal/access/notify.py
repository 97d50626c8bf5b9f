"""Telling a subject, at once, that an institution asked for their file:
in-app and by e-mail, to everyone who holds the subject's own account."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import user_email
from portal.audit.models import Outcome
from portal.audit.names import PURPOSE_NAMES
from portal.crypto import Vault
from portal.institutions.models import Institution
from portal.notifications.services import notify
from portal.records.models import Subject


def tell_subject_of_query(
    session: Session, vault: Vault, subject: Subject, institution: Institution, purpose: str, outcome: Outcome
) -> int:
    """Returns how many people were told."""
    holders = session.scalars(
        select(User).where(
            User.subject_id == subject.id,
            User.is_active.is_(True),
            User.role.in_([Role.PERSON, Role.FIRM_REPRESENTATIVE]),
        )
    ).all()
    what = str(PURPOSE_NAMES.get(purpose, purpose))
    for user in holders:
        if outcome is Outcome.SERVED:
            title = _("%(institution)s received your credit report", institution=institution.name)
            body = _(
                "%(institution)s received your credit report for: %(purpose)s. See exactly what they "
                'received under "Who accessed my data". If you did not authorise this, say so there.',
                institution=institution.name,
                purpose=what,
            )
        else:
            title = _("%(institution)s was refused your credit report", institution=institution.name)
            body = _(
                "%(institution)s asked for your credit report for: %(purpose)s, and was refused (no valid "
                "authority, or your file is locked). Nothing was disclosed.",
                institution=institution.name,
                purpose=what,
            )
        notify(
            session,
            vault,
            key_id=user.data_key_id,
            user=user,
            email=user_email(session, vault, user),
            title=title,
            body=body,
        )
    return len(holders)

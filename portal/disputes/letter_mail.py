"""The outcome letter's signed PDF, attached to the e-mail that tells the
subject of the decision: made for the subject's own account in each
reader's language, as the dispute's page issues it (a numbered, signed
document whose issuing is an access event of the file). Only when e-mail
goes out at all: without a mail server the in-app message and the page's
download suffice, and no document is issued for nobody."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.authz import SubjectAccess
from portal.accounts.models import DelegationScope, Role, User
from portal.audit.documents import document_signer, verify_url
from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.actions import issue_letter_pdf
from portal.disputes.letter_pdf import build_letter_pdf
from portal.disputes.models import Dispute
from portal.disputes.pages import dispute_page
from portal.notifications.services import Attachment, Mailer
from portal.pdf import Stamp
from portal.records.models import Subject


def letter_attachment(
    session: Session, vault: Vault, subject: Subject, dispute: Dispute
) -> Callable[[], list[Attachment]]:
    """`attach()` for `tell_subject`: the letter as a PDF in the current
    locale, or nothing when no e-mail is sent or nobody holds the file's own
    account (the page it is laid out from is the account holder's)."""

    def attach() -> list[Attachment]:
        if not has_app_context() or not Mailer(current_app.config).enabled:
            return []
        holder = session.scalars(
            select(User).where(
                User.subject_id == subject.id,
                User.is_active.is_(True),
                User.role.in_([Role.PERSON, Role.FIRM_REPRESENTATIVE]),
            )
        ).first()
        if holder is None:
            return []
        access = SubjectAccess(subject, frozenset(DelegationScope), None)
        page = dispute_page(session, vault, holder, access, dispute, log=False)
        body = issue_letter_pdf(
            session,
            vault,
            holder,
            access,
            dispute,
            document_signer(),
            lambda number: build_letter_pdf(page, utcnow(), Stamp(number, verify_url(number))),
        )
        return [Attachment(f"dispute-{page.reference}-outcome.pdf", "application/pdf", body)]

    return attach

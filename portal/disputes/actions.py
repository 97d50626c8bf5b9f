"""What the subject does from the dispute pages: file, reply, withdraw,
download a file of evidence or the outcome letter. Each writes its step
and access event in the caller's transaction (services flush, never
commit); the caller has loaded the dispute through `portal.accounts.authz`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.accounts.authz import SubjectAccess
from portal.accounts.models import Role, User
from portal.audit.documents import issue_pdf
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.disputes import evidence as ev
from portal.disputes import lifecycle, services
from portal.disputes.messages import tell_subject
from portal.disputes.models import Dispute, DisputeStatus, DisputeStep, Evidence, Regime
from portal.disputes.names import days_phrase, short_reference
from portal.disputes.pages import MAX_NOTE, log_view
from portal.i18n import day
from portal.notifications.services import notify
from portal.records.models import Subject
from portal.signing import DocumentSigner


# -- filing ----------------------------------------------------------------------------
def file(
    session: Session,
    vault: Vault,
    access: SubjectAccess,
    by_user: User,
    record_ids: Sequence[uuid.UUID],
    reason: str,
    statement: str,
    uploads: Sequence[ev.Upload],
    access_event_id: uuid.UUID | None,
    regime: Regime | str,
) -> Dispute:
    """File the dispute (under the deadline `regime`) and acknowledge its
    receipt to the subject's people. Raises what `services.file_dispute`
    raises, before anything is written."""
    dispute = services.file_dispute(
        session,
        vault,
        access.subject,
        by_user,
        record_ids,
        reason,
        statement,
        files=uploads,
        regime=regime,
        access_event_id=access_event_id,
    )
    _acknowledge_receipt(session, vault, access.subject, dispute, by_user)
    return dispute


def _acknowledge_receipt(session: Session, vault: Vault, subject: Subject, dispute: Dispute, by_user: User) -> None:
    """In-app and by e-mail to the subject's own people (and to the agent
    who filed it, when an agent did)."""
    reference, due_on = short_reference(dispute.id), dispute.due_on
    days = lifecycle.days_left(dispute)

    def compose() -> tuple[str, str]:
        return (
            _("We received your dispute %(ref)s", ref=reference),
            _(
                "Your dispute %(ref)s was received. It will be answered by %(due)s (%(days)s). On the "
                "portal, under Disputes, you can follow it, add evidence or withdraw it.",
                ref=reference,
                due=day(due_on),
                days=days_phrase(days),
            ),
        )

    tell_subject(session, vault, subject, compose, also=[by_user] if Role(by_user.role) is Role.FIRM_AGENT else [])


# -- on a dispute -----------------------------------------------------------------------
class ReplyRefused(ValueError):
    """The message says why, for the page; nothing was written."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


def reply(
    session: Session, vault: Vault, dispute: Dispute, by_user: User, note: str | None, uploads: Sequence[ev.Upload]
) -> None:
    """Files, a note, or both, added to an open dispute, with what is wrong
    said in the reader's language. Replying does not move the status: the
    officer does."""
    note = (note or "").strip() or None
    if not dispute.is_open:
        raise ReplyRefused([_("This dispute is closed; nothing more can be added.")])
    errors, uploads = ev.upload_errors(uploads, already=len(dispute.evidence))
    if note is not None and len(note) > MAX_NOTE:
        errors.append(_("A note is at most %(n)d characters.", n=MAX_NOTE))
    if note is None and not uploads:
        errors.append(_("Add a file or write a note."))
    if errors:
        raise ReplyRefused(errors)
    services.add_evidence(session, vault, dispute, by_user, uploads, note)
    _tell_officer(session, vault, dispute)


def _tell_officer(session: Session, vault: Vault, dispute: Dispute) -> None:
    """The officer on the case hears of a reply in-app (no personal data)."""
    if dispute.assigned_officer_id is None:
        return
    officer = session.get(User, dispute.assigned_officer_id)
    if officer is None or not officer.is_active:
        return
    notify(
        session,
        vault,
        key_id=officer.data_key_id,
        user=officer,
        title=_("New evidence on dispute %(ref)s", ref=short_reference(dispute.id)),
        body=_("The subject added evidence or a reply to dispute %(ref)s.", ref=short_reference(dispute.id)),
    )


def withdraw(
    session: Session, vault: Vault, dispute: Dispute, by_user: User, note: str | None, expected_version: int | None
) -> DisputeStep:
    """Raises lifecycle.DisputeError (StaleDispute included) with a message."""
    return lifecycle.advance(
        session, vault, dispute, DisputeStatus.WITHDRAWN, by_user, note=note, expected_version=expected_version
    )


def evidence_file(
    session: Session, vault: Vault, user: User, access: SubjectAccess, dispute: Dispute, row: Evidence
) -> tuple[bytes, str, str]:
    """(content, media type, stored name); the download is recorded."""
    data, media_type, name = ev.read(vault.cipher(session, access.subject.data_key_id), row)
    log_view(
        session,
        vault,
        user,
        access,
        EventKind.EXPORT,
        what="evidence",
        dispute_id=str(dispute.id),
        evidence_id=str(row.id),
    )
    return data, media_type, name


def issue_letter_pdf(
    session: Session,
    vault: Vault,
    user: User,
    access: SubjectAccess,
    dispute: Dispute,
    signer: DocumentSigner,
    build: Callable[[str], bytes],
) -> bytes:
    """The outcome letter as a signed document (`build(number)` lays it
    out); its download is the access event that carries the file's hash."""
    return issue_pdf(
        session,
        signer,
        kind="outcome letter",
        series=f"letter:{dispute.id}",
        replaces=False,
        build=build,
        log=lambda document: log_view(
            session,
            vault,
            user,
            access,
            EventKind.EXPORT,
            what="outcome letter",
            format="pdf",
            dispute_id=str(dispute.id),
            **document,
        ),
    )


__all__ = ["ReplyRefused", "evidence_file", "file", "issue_letter_pdf", "reply", "withdraw"]

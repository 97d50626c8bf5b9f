"""The outcome letter of a decided dispute as a PDF: the dispute page's view
model in, bytes out. Labels follow the current locale (call it inside a
request or with `force_locale`); the font is the report's embedded Noto
Sans SC, subset by fpdf2 to the characters used."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from fpdf.enums import WrapMode

from portal.disputes.models import DisputeOutcome
from portal.disputes.pages import MAX_RECORD_STATEMENT, DisputePage
from portal.i18n import day, local_name
from portal.pdf import PortalPDF, Stamp, pdf_moment

LABEL_WIDTH = 55  # mm


def build_letter_pdf(page: DisputePage, generated_at: datetime, document: Stamp | None = None) -> bytes:
    letter = page.letter
    if letter is None:
        raise ValueError("this dispute has no outcome letter")
    pdf = PortalPDF(_("Outcome of your dispute"), generated_at, LABEL_WIDTH, document)
    locale = pdf.locale
    # English breaks between words.
    pdf.wrap = WrapMode.CHAR if locale.startswith("zh") else WrapMode.WORD

    pdf.heading(_("Outcome of your dispute"), 18)
    pdf.facts(
        [
            (_("Name"), page.subject.name),
            (_("Identifier"), page.subject.masked_identifier),
            (_("Dispute"), page.reference),
            (_("What was wrong"), page.reason_label),
            (_("Filed"), pdf_moment(page.filed_at)),
            (_("Decided on"), pdf_moment(letter.decided_at)),
            (_("Decision"), letter.outcome_name),
        ]
    )
    pdf.heading(_("Reason for the decision"), 13)
    pdf.paragraph(letter.reason)
    pdf.heading(_("What changed"), 13)
    for text in letter.changes or [_("Nothing changed.")]:
        pdf.paragraph("• " + text)
    pdf.heading(_("How it was verified"), 13)
    pdf.paragraph(letter.method)
    for ground in letter.grounds:  # each record: the furnisher's answer, and why the officer departed from it
        pdf.paragraph("• " + ground)
    if page.records:
        pdf.heading(_("Records covered"), 13)
        for line in page.records:
            pdf.paragraph("• " + line.record.label(locale))
            for statement in line.statements:
                pdf.paragraph("   " + _("Your statement: %(text)s", text=statement))
    pdf.heading(_("Who was told"), 13)
    if not page.recipients:
        pdf.paragraph(_("No institution received the changed records in the look-back period, so none had to be told."))
    for notice in page.recipients:
        record = page.record(notice.record_id)
        told = _(
            "%(institution)s, told %(when)s",
            institution=local_name(notice.institution),
            when=pdf_moment(notice.created_at),
        )
        if record is not None and record.reference:
            told += " · " + _("reference %(ref)s", ref=record.reference)
        told += " · " + (
            _("acknowledged %(when)s", when=pdf_moment(notice.acknowledged_at))
            if notice.acknowledged_at
            else _("not yet acknowledged")
        )
        pdf.paragraph("• " + told)
    pdf.heading(_("Your rights"), 13)
    if DisputeOutcome.VERIFIED_ACCURATE in letter.outcomes:
        pdf.paragraph(
            _(
                "You may add a statement of at most %(n)d characters beside each record; it is sent "
                "with the record to everyone who receives it later.",
                n=MAX_RECORD_STATEMENT,
            )
        )
    pdf.paragraph(
        _(
            "If you disagree with this decision, you may file a new dispute with new evidence, or "
            "complain to the supervising authority. This letter was issued on %(day)s.",
            day=day(letter.decided_at.date()),
        )
    )
    return bytes(pdf.output())

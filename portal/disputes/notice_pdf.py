"""A correction notice as a PDF, for an institution to keep: what the
decision changed in a record it received, and the record as it may now be
disclosed. The notice's sealed body in, bytes out; labels follow the
current locale."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from portal.disputes.models import DisputeOutcome
from portal.disputes.names import OUTCOME_NAMES
from portal.pdf import PortalPDF, Stamp, pdf_moment

LABEL_WIDTH = 55  # mm


def _when(value: Any) -> str:
    try:
        return pdf_moment(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return str(value or "—")


def _outcome(value: Any) -> str:
    try:
        return str(OUTCOME_NAMES[DisputeOutcome(value)])
    except (KeyError, ValueError):
        return str(value or "—")


def build_notice_pdf(body: dict[str, Any], generated_at: datetime, document: Stamp | None = None) -> bytes:
    pdf = PortalPDF(_("Correction notice"), generated_at, LABEL_WIDTH, document)
    pdf.heading(_("Correction notice"), 18)
    pdf.paragraph(
        _(
            "A dispute decision changed a record you received from this registry. Use the record as it is now, "
            "and acknowledge this notice through the API."
        )
    )
    pdf.facts(
        [
            (_("Dispute"), str(body.get("dispute_id", "—"))),
            (_("Record"), f"{body.get('reference', '—')} ({body.get('record_id', '—')})"),
            (_("Decision"), _outcome(body.get("outcome"))),
            (_("Decided on"), _when(body.get("decided_at"))),
            (_("You received it"), _when(body.get("received_at"))),
        ]
    )
    change = body.get("change") or body.get("changes")
    if change:
        pdf.heading(_("What changed"), 13)
        for text in change if isinstance(change, list) else [change]:
            pdf.paragraph("• " + (text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)))
    pdf.heading(_("The record as it may now be disclosed"), 13)
    record = body.get("record")
    if not record:
        pdf.paragraph(_("It may no longer be disclosed: remove it from your files."))
    else:
        pdf.facts(
            [
                (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                for key, value in sorted(record.items())
            ]
        )
    return bytes(pdf.output())

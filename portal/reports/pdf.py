"""The printable report: the view model in, PDF bytes out. Labels and
formats follow the current locale (call it inside a request or with
`force_locale`). Chinese needs an embedded font: Noto Sans SC (SIL OFL),
which fpdf2 subsets to the characters used."""

from __future__ import annotations

from flask_babel import gettext as _
from fpdf.enums import WrapMode

from portal.i18n import day, money
from portal.pdf import FONT, HEADINGS, LINE, PortalPDF, Stamp, pdf_moment
from portal.records.pages import Field, RecordView, VersionView
from portal.reports.report import EventRow, Printable


def build_pdf(printable: Printable, document: Stamp | None = None) -> bytes:
    report = printable.report
    pdf = PortalPDF(_("Credit report"), printable.generated_at, document=document)
    locale = pdf.locale

    pdf.heading(_("Credit report"), 18)
    pdf.facts(
        [
            (_("Name"), report.subject.name),
            (_("Identifier"), report.subject.masked_identifier),
            (_("Kind"), report.subject.kind_label),
            (_("Records"), str(report.total)),
        ]
    )
    if not report.groups:
        pdf.paragraph(_("No records are held in this file."))
    for category, records in report.groups:
        for n, record in enumerate(records):
            _record(pdf, record, locale, report.category_label(category) if n == 0 else None)
    pdf.heading(_("Recent access to this file"), 14)
    _events(pdf, printable.events, locale)
    return bytes(pdf.output())


def _record(pdf: PortalPDF, record: RecordView, locale: str, category: str | None) -> None:
    """A record's current version, a line per earlier one; the first record
    of a category carries the category's heading."""
    rows = _version_rows(record.current)
    # Keep headings with their table: start a new page rather than split it.
    if pdf.will_page_break((len(rows) + (5 if category else 2)) * LINE):
        pdf.add_page()
    if category:
        pdf.heading(category, 14)
    pdf.heading(record.furnisher.label(locale), 11)
    # The same marks as the report page and the JSON export carry.
    if record.disputed:
        pdf.paragraph(_("Under dispute"))
    if record.publicity_ended:
        pdf.paragraph(_("Publicity ended by credit repair: no longer disclosed"))
    for text in record.statements:
        pdf.paragraph(_("Your statement:") + " " + text)
    pdf.facts(rows + [(_("Furnished"), pdf_moment(record.current.furnished_at))])
    for older in record.versions[1:]:
        summary = "; ".join(f"{label}: {value}" for label, value in _version_rows(older))
        pdf.set_font(FONT, size=8)
        pdf.paragraph(
            _(
                "Earlier version %(n)d, furnished %(when)s — %(summary)s",
                n=older.version,
                when=pdf_moment(older.furnished_at),
                summary=summary,
            ),
            height=4.5,
        )
        pdf.set_font(FONT, size=10)


def _version_rows(version: VersionView) -> list[tuple[str, str]]:
    rows = [(_("Status"), version.status_label), (_("Negative"), _("Yes") if version.is_negative else _("No"))]
    rows += [(str(f.label), _value(f, version.currency)) for f in version.fields]
    if version.is_negative:
        rows.append((_("Behaviour ended"), day(version.ended_on) if version.ended_on else _("Ongoing")))
        rows.append((_("Leaves the file"), day(version.expires_on) if version.expires_on else _("While ongoing")))
    return rows


def _value(field: Field, currency: str) -> str:
    if field.kind == "amount":
        return money(field.value, currency)
    if field.kind == "date":
        return day(field.value)
    return str(field.value)


def _events(pdf: PortalPDF, events: list[EventRow], locale: str) -> None:
    if not events:
        pdf.paragraph(_("No access has been recorded yet."))
        return
    with pdf.table(
        col_widths=(45, 65, pdf.epw - 110),
        line_height=LINE,
        wrapmode=WrapMode.CHAR,
        borders_layout="HORIZONTAL_LINES",
        headings_style=HEADINGS,
    ) as table:
        head = table.row()
        for title in (_("When"), _("What"), _("Who")):
            head.cell(title)
        for event in events:
            row = table.row()
            row.cell(pdf_moment(event.occurred_at))
            row.cell(event.kind_label + (" (" + _("refused") + ")" if event.refused else ""))
            row.cell(event.who(locale))

"""The printable report: the view model in, PDF bytes out. Labels and
formats follow the current locale (call it inside a request or with
`force_locale`). Chinese needs an embedded font: Noto Sans SC (SIL OFL),
which fpdf2 subsets to the characters used."""
from __future__ import annotations

from importlib.resources import as_file, files

from flask_babel import get_locale, gettext as _
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from portal.i18n import day, money, moment
from portal.records.report import EventRow, Field, Printable, RecordView, VersionView

FONT = "NotoSansSC"
FONT_FILE = files("pylopdf_fonts_zh_cn") / "NotoSansSC-Regular.otf"
LINE = 6  # mm
LABEL_WIDTH = 50  # mm
# One regular face only: headings stand out by shading, not bold.
HEADINGS = FontFace(fill_color=(230, 234, 239))


class PortalPDF(FPDF):
    """An A4 document of the portal: the embedded font, the language, a
    footer with when it was generated and the page numbers, and the
    headings, paragraphs and label-value tables both the report and the
    outcome letter are made of."""
    # Chinese breaks between any two characters.
    wrap = WrapMode.CHAR

    def __init__(self, title: str, generated_at, label_width: float = LABEL_WIDTH) -> None:
        super().__init__(format="A4")
        with as_file(FONT_FILE) as path:
            self.add_font(FONT, fname=str(path))
        self.locale = str(get_locale())
        self.set_lang("zh-CN" if self.locale.startswith("zh") else "en")
        self.set_title(title)
        self.set_creator(_("Credit Subject Portal"))
        self.generated = pdf_moment(generated_at)
        self.label_width = label_width
        self.add_page()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        # fpdf2 replaces `{nb}` with the page count when the file is written.
        self.cell(0, 6, _("Generated %(when)s · page %(page)d of %(pages)s", when=self.generated,
                          page=self.page_no(), pages="{nb}"), align="C")

    def heading(self, text: str, size: int) -> None:
        self.ln(2)
        self.set_font(FONT, size=size)
        self.multi_cell(0, size * 0.5, text, wrapmode=self.wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=10)
        self.ln(1)

    def paragraph(self, text: str, height: float = LINE) -> None:
        self.multi_cell(0, height, text, wrapmode=self.wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def facts(self, rows: list[tuple[str, str]]) -> None:
        with self.table(col_widths=(self.label_width, self.epw - self.label_width), first_row_as_headings=False,
                        borders_layout="HORIZONTAL_LINES", line_height=LINE, wrapmode=self.wrap) as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(value)
        self.ln(2)


def build_pdf(printable: Printable) -> bytes:
    report = printable.report
    pdf = PortalPDF(_("Credit report"), printable.generated_at)
    locale = pdf.locale

    pdf.heading(_("Credit report"), 18)
    pdf.facts([(_("Name"), report.subject.name),
                 (_("Identifier"), report.subject.masked_identifier),
                 (_("Kind"), report.subject.kind_label),
                 (_("Records"), str(report.total))])
    if not report.groups:
        pdf.paragraph(_("No records are held in this file."))
    for category, records in report.groups:
        for n, record in enumerate(records):
            _record(pdf, record, locale, report.category_label(category) if n == 0 else None)
    pdf.heading(_("Recent access to this file"), 14)
    _events(pdf, printable.events, locale)
    return bytes(pdf.output())


def pdf_moment(value) -> str:
    # CLDR puts a narrow no-break space in English times; the font has none.
    return moment(value).replace("\u202f", " ")


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
    pdf.facts(rows + [(_("Furnished"), pdf_moment(record.current.furnished_at))])
    for older in record.versions[1:]:
        summary = "; ".join(f"{label}: {value}" for label, value in _version_rows(older))
        pdf.set_font(FONT, size=8)
        pdf.paragraph(_("Earlier version %(n)d, furnished %(when)s — %(summary)s",
                          n=older.version, when=pdf_moment(older.furnished_at), summary=summary), height=4.5)
        pdf.set_font(FONT, size=10)


def _version_rows(version: VersionView) -> list[tuple[str, str]]:
    rows = [(_("Status"), version.status_label),
            (_("Negative"), _("Yes") if version.is_negative else _("No"))]
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
    with pdf.table(col_widths=(45, 65, pdf.epw - 110), line_height=LINE, wrapmode=WrapMode.CHAR,
                   borders_layout="HORIZONTAL_LINES", headings_style=HEADINGS) as table:
        head = table.row()
        for title in (_("When"), _("What"), _("Who")):
            head.cell(title)
        for event in events:
            row = table.row()
            row.cell(pdf_moment(event.occurred_at))
            row.cell(event.kind_label + (" (" + _("refused") + ")" if event.refused else ""))
            row.cell(event.who(locale))

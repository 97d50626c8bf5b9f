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


class _Document(FPDF):
    generated = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        # fpdf2 replaces `{nb}` with the page count when the file is written.
        self.cell(0, 6, _("Generated %(when)s · page %(page)d of %(pages)s", when=self.generated,
                          page=self.page_no(), pages="{nb}"), align="C")


def build_pdf(printable: Printable) -> bytes:
    report = printable.report
    locale = str(get_locale())
    pdf = _Document(format="A4")
    with as_file(FONT_FILE) as path:
        pdf.add_font(FONT, fname=str(path))
    pdf.set_lang("zh-CN" if locale.startswith("zh") else "en")
    pdf.set_title(_("Credit report"))
    pdf.set_creator(_("Credit Subject Portal"))
    pdf.generated = _moment(printable.generated_at)
    pdf.add_page()

    _heading(pdf, _("Credit report"), 18)
    _facts(pdf, [(_("Name"), report.subject.name),
                 (_("Identifier"), report.subject.masked_identifier),
                 (_("Kind"), report.subject.kind_label),
                 (_("Records"), str(report.total))])
    if not report.groups:
        _paragraph(pdf, _("No records are held in this file."))
    for category, records in report.groups:
        for n, record in enumerate(records):
            _record(pdf, record, locale, report.category_label(category) if n == 0 else None)
    _heading(pdf, _("Recent access to this file"), 14)
    _events(pdf, printable.events, locale)
    return bytes(pdf.output())


def _moment(value) -> str:
    # CLDR puts a narrow no-break space in English times; the font has none.
    return moment(value).replace("\u202f", " ")


def _heading(pdf: FPDF, text: str, size: int) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, size=size)
    pdf.multi_cell(0, size * 0.5, text, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)
    pdf.ln(1)


def _paragraph(pdf: FPDF, text: str, height: float = LINE) -> None:
    pdf.multi_cell(0, height, text, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _facts(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    with pdf.table(col_widths=(LABEL_WIDTH, pdf.epw - LABEL_WIDTH), first_row_as_headings=False,
                   borders_layout="HORIZONTAL_LINES", line_height=LINE, wrapmode=WrapMode.CHAR) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(value)
    pdf.ln(2)


def _record(pdf: FPDF, record: RecordView, locale: str, category: str | None) -> None:
    """A record's current version, a line per earlier one; the first record
    of a category carries the category's heading."""
    rows = _version_rows(record.current)
    # Keep headings with their table: start a new page rather than split it.
    if pdf.will_page_break((len(rows) + (5 if category else 2)) * LINE):
        pdf.add_page()
    if category:
        _heading(pdf, category, 14)
    _heading(pdf, record.furnisher.label(locale), 11)
    _facts(pdf, rows + [(_("Furnished"), _moment(record.current.furnished_at))])
    for older in record.versions[1:]:
        summary = "; ".join(f"{label}: {value}" for label, value in _version_rows(older))
        pdf.set_font(FONT, size=8)
        _paragraph(pdf, _("Earlier version %(n)d, furnished %(when)s — %(summary)s",
                          n=older.version, when=_moment(older.furnished_at), summary=summary), height=4.5)
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


def _events(pdf: FPDF, events: list[EventRow], locale: str) -> None:
    if not events:
        _paragraph(pdf, _("No access has been recorded yet."))
        return
    with pdf.table(col_widths=(45, 65, pdf.epw - 110), line_height=LINE, wrapmode=WrapMode.CHAR,
                   borders_layout="HORIZONTAL_LINES", headings_style=HEADINGS) as table:
        head = table.row()
        for title in (_("When"), _("What"), _("Who")):
            head.cell(title)
        for event in events:
            row = table.row()
            row.cell(_moment(event.occurred_at))
            row.cell(event.kind_label + (" (" + _("refused") + ")" if event.refused else ""))
            row.cell(event.who(locale))

"""The portal's A4 documents (the report, the outcome letter): the embedded
font, the language, a footer, headings and label-value tables. Chinese
needs an embedded font: Noto Sans SC (SIL OFL), which fpdf2 subsets to the
characters used."""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib.resources import as_file, files

import segno
from flask_babel import get_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from portal.i18n import moment

FONT = "NotoSansSC"
FONT_FILE = files("pylopdf_fonts_zh_cn") / "NotoSansSC-Regular.otf"
LINE = 6  # mm
LABEL_WIDTH = 50  # mm
# One regular face only: headings stand out by shading, not bold.
HEADINGS = FontFace(fill_color=(230, 234, 239))


QR_SIZE = 24  # mm


@dataclass(frozen=True)
class Stamp:
    """What makes a PDF a document anyone can check: its number, and the
    page that checks it (also as a QR code)."""

    number: str
    verify_url: str


class PortalPDF(FPDF):
    """An A4 document of the portal: the embedded font, the language, a
    footer with when it was generated and the page numbers, and the
    headings, paragraphs and label-value tables both the report and the
    outcome letter are made of."""

    # Chinese breaks between any two characters.
    wrap = WrapMode.CHAR

    def __init__(
        self, title: str, generated_at, label_width: float = LABEL_WIDTH, document: Stamp | None = None
    ) -> None:
        super().__init__(format="A4")
        self.document = document
        with as_file(FONT_FILE) as path:
            self.add_font(FONT, fname=str(path))
        self.locale = str(get_locale())
        self.set_lang("zh-CN" if self.locale.startswith("zh") else "en")
        self.set_title(title)
        self.set_creator(_("Credit Subject Portal"))
        self.generated = pdf_moment(generated_at)
        self.label_width = label_width
        self.add_page()
        if document is not None:  # where a reader's phone finds the check: top right of the first page
            qr = io.BytesIO()
            segno.make(document.verify_url, error="m").save(qr, kind="png", scale=4, border=1)
            self.image(qr, x=self.w - self.r_margin - QR_SIZE, y=self.t_margin, w=QR_SIZE, h=QR_SIZE)
            self.set_y(self.t_margin + QR_SIZE + 2)  # the page starts below it

    def footer(self) -> None:
        self.set_font(FONT, size=8)
        if self.document is not None:
            self.set_y(-17)
            self.cell(
                0,
                5,
                _(
                    "Document %(number)s · check it at %(url)s",
                    number=self.document.number,
                    url=self.document.verify_url,
                ),
                align="C",
            )
        self.set_y(-12)
        # fpdf2 replaces `{nb}` with the page count when the file is written.
        self.cell(
            0,
            6,
            _(
                "Generated %(when)s · page %(page)d of %(pages)s",
                when=self.generated,
                page=self.page_no(),
                pages="{nb}",
            ),
            align="C",
        )

    def heading(self, text: str, size: int) -> None:
        self.ln(2)
        self.set_font(FONT, size=size)
        self.multi_cell(0, size * 0.5, text, wrapmode=self.wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=10)
        self.ln(1)

    def paragraph(self, text: str, height: float = LINE) -> None:
        self.multi_cell(0, height, text, wrapmode=self.wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def facts(self, rows: list[tuple[str, str]]) -> None:
        with self.table(
            col_widths=(self.label_width, self.epw - self.label_width),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
            line_height=LINE,
            wrapmode=self.wrap,
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(value)
        self.ln(2)


def pdf_moment(value) -> str:
    # CLDR puts a narrow no-break space in English times; the font has none.
    return moment(value).replace("\u202f", " ")

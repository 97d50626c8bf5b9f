"""Evidence disarm, through the filing form as an attacker would send it.
Found by an outside attack run: these files were stored and forwarded to
officers and furnishers as received. Now each is rebuilt without what is
active in it (the subject is told what was removed), or refused with a
message saying why, with nothing stored."""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from portal.disputes.models import Evidence
from portal.extensions import session
from tests import files

from .test_subject_pages import counts, filing, records_of, signed


def stored(app) -> tuple[Evidence, bytes]:
    """The one evidence row and its content as anyone who opens it gets it."""
    with app.app_context():
        from portal.disputes import evidence as ev
        from portal.extensions import vault
        from portal.records.models import Subject

        row = session().scalar(select(Evidence))
        subject_key = session().get(Subject, row.dispute.subject_id).data_key_id
        data, _media, _name = ev.read(vault().cipher(session(), subject_key), row)
        return row, data


def file_one(app, world, sign_in, name, data):
    loan, _card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    return client, filing(client, world.person_a, [loan], files=[(name, data)])


def pdf_names(data: bytes) -> set[str]:
    """Every name used as a value (an action's /S, say), however deep."""
    names: set[str] = set()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        todo, seen = [pdf.trailer, *pdf.objects], set()
        while todo:
            obj = todo.pop()
            if isinstance(obj, pikepdf.Object) and obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            if isinstance(obj, pikepdf.Name):
                names.add(str(obj))
            elif isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                todo += [obj[k] for k in obj.keys()]  # noqa: SIM118 - a pikepdf dictionary
            elif isinstance(obj, pikepdf.Array):
                todo += list(obj)
    return names


def pdf_keys(data: bytes) -> set[str]:
    """Every key of every dictionary in the PDF, however deep."""
    keys: set[str] = set()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        todo = [pdf.trailer, *pdf.objects]
        seen = set()
        while todo:
            obj = todo.pop()
            if isinstance(obj, pikepdf.Object) and obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                keys |= set(obj.keys())
                todo += [obj[k] for k in obj.keys()]  # noqa: SIM118 - a pikepdf dictionary
            elif isinstance(obj, pikepdf.Array):
                todo += list(obj)
    return keys


@pytest.mark.parametrize(
    ("name", "make", "gone", "told"),
    [
        (
            "statement.pdf",
            files.pdf_with_open_action_javascript,
            {"/OpenAction", "/AA", "/JS", "/JavaScript"},
            "JavaScript, an action run on opening, automatic actions",
        ),
        (
            "letter.pdf",
            files.pdf_with_launch_link_and_embedded_file,
            {"/EmbeddedFiles", "/EF"},
            "an action that launches programs, embedded files",
        ),
        (
            "catalog.pdf",
            files.pdf_with_catalog_in_the_trailer,
            {"/JavaScript", "/JS", "/Launch", "/OpenAction"},
            "JavaScript, an action run on opening",
        ),
        (
            "chain.pdf",
            files.pdf_with_chained_actions,
            {"/Launch", "/SubmitForm"},
            "a link that runs code, an action that launches programs, an action that sends data",
        ),
    ],
    ids=["javascript on opening", "launch link and embedded executable", "catalog in the trailer", "chained actions"],
)
def test_active_content_is_removed_from_a_pdf_and_the_subject_is_told(app, world, sign_in, name, make, gone, told):
    client, response = file_one(app, world, sign_in, name, make())
    assert response.status_code == 302
    row, data = stored(app)
    assert not (pdf_keys(data) & gone)
    assert not (pdf_names(data) & gone)
    assert b"cmd.exe" not in data
    assert b"calc.exe" not in data
    assert b"javascript:" not in data
    assert b"app.alert" not in data
    with pikepdf.open(io.BytesIO(data)) as pdf:  # still a readable PDF with its page
        assert len(pdf.pages) == 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Removed before it was kept, for the safety of those who open it: {told}." in page


def test_a_pdf_html_polyglot_is_kept_as_a_pdf_only(app, world, sign_in):
    _client, response = file_one(app, world, sign_in, "scan.pdf", files.pdf_html_polyglot())
    assert response.status_code == 302
    _row, data = stored(app)
    assert data.startswith(b"%PDF-")
    assert b"<script" not in data
    assert b"<html" not in data


def test_a_text_chunk_is_dropped_from_a_png(app, world, sign_in):
    source = files.png_with_script_in_a_text_chunk()
    assert b"<script>" in source
    _client, response = file_one(app, world, sign_in, "photo.png", source)
    assert response.status_code == 302
    row, data = stored(app)
    assert b"<script>" not in data
    assert row.removed == ["text and metadata chunks"]
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (8, 8)
        assert image.getpixel((0, 0)) == (200, 30, 30)


def test_a_comment_is_dropped_from_a_jpeg(app, world, sign_in):
    _client, response = file_one(app, world, sign_in, "photo.jpg", files.jpeg_with_a_comment())
    assert response.status_code == 302
    row, data = stored(app)
    assert b"<script>" not in data
    assert row.removed == ["text and metadata chunks"]


def test_exif_is_dropped_from_a_jpeg_and_its_orientation_kept(app, world, sign_in):
    _client, response = file_one(app, world, sign_in, "photo.jpg", files.jpeg_with_exif_orientation())
    assert response.status_code == 302
    row, data = stored(app)
    assert b"Camera maker" not in data
    assert row.removed == ["photo metadata (EXIF)"]
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (2, 4)  # turned upright, as the camera asked
        assert not image.getexif()


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [
        ("loan.pdf", files.encrypted_pdf, "“loan.pdf” is protected by a password; send a copy without one."),
        ("photo.jpg", files.jpeg_header_then_junk, "“photo.jpg” could not be read as an image"),
        ("bomb.png", files.png_bomb, "“bomb.png” has more pixels than we accept; send a smaller copy."),
        ("large.png", lambda: files.image("PNG", size=(8000, 6000)), "“large.png” is 8000 × 6000 pixels"),
        ("broken.pdf", lambda: b"%PDF-1.7\n" + b"\x00" * 200, "“broken.pdf” could not be read as a PDF"),
        ("page.pdf", files.html_then_pdf, "“page.pdf” is not a PDF, PNG or JPEG file"),
    ],
    ids=["encrypted pdf", "jpeg header then junk", "decompression bomb", "too many pixels", "broken pdf", "html first"],
)
def test_what_cannot_be_rebuilt_is_refused_saying_why_and_nothing_is_stored(app, world, sign_in, name, make, says):
    before = counts(app)
    _client, response = file_one(app, world, sign_in, name, make())
    assert response.status_code == 200
    assert says in response.get_data(as_text=True)
    assert counts(app) == before


def test_each_file_is_parsed_and_rebuilt_once(app, world, sign_in, monkeypatch):
    """The page checks the files to say what is wrong and the service checks
    them again before writing: the second check takes the rebuilt file, not
    a second parse (PDF rebuilding is the costly part of a filing)."""
    from portal.disputes import disarm

    rebuilt: list[str] = []
    real = disarm.rebuild

    def counting(data, media_type, label):
        rebuilt.append(media_type)
        return real(data, media_type, label)

    monkeypatch.setattr(disarm, "rebuild", counting)
    _client, response = file_one(app, world, sign_in, "armed.pdf", files.pdf_with_open_action_javascript())
    assert response.status_code == 302
    assert rebuilt == ["application/pdf"]
    row, data = stored(app)
    assert row.removed  # the one rebuild is what was stored
    assert b"app.alert" not in data

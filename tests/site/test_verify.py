"""Documents anyone can verify: the report and the outcome letter come
signed (PAdES) with a number and a QR code, their hash is in the log, and
`/verify` says whether a number or a file is one the portal issued, and
whether a newer one replaced it, naming no one."""

from __future__ import annotations

import hashlib
import io
import re

from sqlalchemy import select

from portal.audit.documents import document_signer
from portal.audit.events import open_detail
from portal.audit.models import AccessEvent, EventKind, IssuedDocument
from portal.extensions import session, vault
from portal.records.models import Subject

from ..disputes.test_letter import decided
from ..disputes.test_subject_pages import records_of, signed
from ..records.test_report import english

NUMBER = re.compile(r"CSP-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")


def signature_of(app, body: bytes):
    with app.app_context():
        return document_signer().check(body)


def report_pdf(client, world) -> bytes:
    response = client.get(f"/subjects/{world.person_a.id}/report.pdf")
    assert response.status_code == 200
    return response.data


def check_file(client, body: bytes, name: str = "report.pdf") -> str:
    page = client.get("/verify").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/verify", data={"csrf_token": token, "file": (io.BytesIO(body), name)}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_report_is_signed_numbered_and_its_hash_is_in_the_log(app, client, world, sign_in, pdf_text):
    body = report_pdf(sign_in(client, world.user_a), world)
    check = signature_of(app, body)
    assert (check.signed, check.intact, check.by_portal) == (True, True, True)
    (number,) = set(NUMBER.findall(pdf_text(body, "report.pdf")))  # in the footer of every page
    with app.app_context():
        s = session()
        doc = s.get(IssuedDocument, number)
        assert doc.sha256 == hashlib.sha256(body).digest()
        event = s.get(AccessEvent, doc.event_id)
        assert event.kind == EventKind.EXPORT
        detail, _salt = open_detail(vault().cipher(s, s.get(Subject, world.person_a.id).data_key_id), event)
        assert detail["document"] == number  # the leaf commits to the file's hash
        assert detail["sha256"] == hashlib.sha256(body).hexdigest()


def test_anyone_checks_a_number_or_a_file_and_learns_nothing_personal(app, client, world, sign_in, pdf_text):
    body = report_pdf(sign_in(client, world.user_a), world)
    (number,) = set(NUMBER.findall(pdf_text(body, "report.pdf")))
    anyone = english(app.test_client())
    page = anyone.get(f"/verify?number={number}").get_data(as_text=True)
    assert "Issued by this portal" in page
    assert "a credit report" in page
    assert "no newer one has replaced it" in page
    for personal in ("张三", "11010519491231002X", str(world.person_a.id)):
        assert personal not in page
    assert "exactly the one we issued, and its signature is intact" in check_file(anyone, body)

    # One byte changed: not ours any more, and the signature says so too.
    altered = bytearray(body)
    altered[len(body) // 3] ^= 0x01
    page = check_file(anyone, bytes(altered))
    assert "Not a document we issued" in page
    assert "Its signature is broken" in page or "carries no signature" in page
    assert not signature_of(app, bytes(altered)).intact

    # A newer report replaces it; the old one says so.
    newer = report_pdf(client, world)
    replaced = anyone.get(f"/verify?number={number}").get_data(as_text=True)
    assert "A newer one has replaced it" in replaced
    assert "no newer one has replaced it" in check_file(anyone, newer)


def test_the_outcome_letter_is_a_signed_document_too(app, world, sign_in, pdf_text):
    loan, _card = records_of(app, world.person_a)
    dispute_id = decided(app, world, "verified_accurate", [loan])
    client = signed(app, sign_in, world.user_a)
    body = client.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}/letter.pdf").data
    assert signature_of(app, body).intact
    (number,) = set(NUMBER.findall(pdf_text(body)))
    page = app.test_client().get(f"/verify?number={number}").get_data(as_text=True)
    assert "由本平台出具" in page
    assert "异议处理结果告知书" in page  # in the reader's language


def test_bad_numbers_and_files_get_a_plain_answer(app, client):
    english(client)
    assert "looks like CSP-XXXX-XXXX-XXXX" in client.get("/verify?number=12345").get_data(as_text=True)
    unknown = client.get("/verify?number=CSP-AAAA-BBBB-CCCC").get_data(as_text=True)
    assert "No document of this portal has the number CSP-AAAA-BBBB-CCCC" in unknown
    page = check_file(client, b"not a pdf at all", "notes.txt")
    assert "Not a document we issued" in page
    assert "carries no signature of ours" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/verify").get_data(as_text=True))
    empty = client.post("/verify", data={"csrf_token": token.group(1)}).get_data(as_text=True)
    assert "Give the document number, or choose the file." in empty
    with app.app_context():
        assert session().scalars(select(IssuedDocument)).first() is None  # checking writes nothing


def test_a_letter_downloaded_again_is_not_replaced_by_its_copy(app, world, sign_in, pdf_text):
    loan, _card = records_of(app, world.person_a)
    dispute_id = decided(app, world, "verified_accurate", [loan])
    client = signed(app, sign_in, world.user_a)
    url = f"/subjects/{world.person_a.id}/disputes/{dispute_id}/letter.pdf"
    (first,) = set(NUMBER.findall(pdf_text(client.get(url).data)))
    client.get(url)
    page = english(app.test_client()).get(f"/verify?number={first}").get_data(as_text=True)
    assert "no newer one has replaced it" in page

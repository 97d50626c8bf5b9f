import hashlib

import pytest

from portal.disputes import evidence as ev
from portal.disputes.evidence import MAX_BYTES, EvidenceCorrupt, EvidenceRejected, Upload
from portal.disputes.lifecycle import DisputeError, advance
from portal.disputes.models import DisputeReason, DisputeStatus, Evidence, StepKind
from portal.disputes.services import add_evidence, file_dispute

from .conftest import EXE, JPEG, PDF, PNG, count, events_of


def _file(db, v, cast, files):
    return file_dispute(
        db, v, cast.a, cast.user_a, [cast.loan_a.id], DisputeReason.NOT_MINE, "This loan is not mine.", files=files
    )


@pytest.mark.parametrize(("data", "media"), [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg")])
def test_sniffed_by_content(data, media):
    assert ev.sniff(data) == media
    assert ev.check_file(Upload("whatever.txt", data, "text/plain")).media_type == media


@pytest.mark.parametrize("data", [EXE, b"", b"%PD", b"GIF89a" + b"\x00" * 20, b"<html>%PDF-", b"\x89PNG\r\n"])
def test_other_content_refused(data):
    with pytest.raises(EvidenceRejected):
        ev.check_file(Upload("x.pdf", data, "application/pdf"))


def test_a_pdf_renamed_png_is_stored_as_pdf(db, the_vault, cast):
    d = _file(db, the_vault, cast, [Upload("scan.png", PDF, "image/png")])
    (row,) = d.evidence
    assert row.media_type == "application/pdf"
    assert row.stored_name.endswith(".pdf")
    assert "scan" not in row.stored_name
    data, media, name = ev.read(the_vault.cipher(db, cast.a.data_key_id), row)
    # The download name is the uploaded one, with the extension of what was kept.
    assert (data, media, name) == (PDF, "application/pdf", "scan.png.pdf")


def test_an_executable_renamed_pdf_is_refused(db, the_vault, cast):
    with pytest.raises(EvidenceRejected, match="setup.pdf.*not a PDF, PNG or JPEG"):
        _file(db, the_vault, cast, [Upload("C:\\Users\\me\\setup.pdf", EXE, "application/pdf")])


def test_size_limit(db, the_vault, cast):
    at_limit = PDF + b"\x00" * (MAX_BYTES - len(PDF))
    assert ev.check_file(Upload("big.pdf", at_limit)).media_type == "application/pdf"
    with pytest.raises(EvidenceRejected, match="larger than 10 MB"):
        _file(db, the_vault, cast, [Upload("big.pdf", at_limit + b"\x00")])
    assert count(db, Evidence) == 0


def test_at_most_five_files(db, the_vault, cast):
    with pytest.raises(EvidenceRejected, match="at most 5"):
        _file(db, the_vault, cast, [Upload(f"{i}.png", PNG) for i in range(6)])
    d = _file(db, the_vault, cast, [Upload(f"{i}.png", PNG) for i in range(4)])
    before = events_of(db, cast.a)
    add_evidence(db, the_vault, d, cast.user_a, [Upload("5.jpg", JPEG)])
    assert len(d.evidence) == 5
    assert events_of(db, cast.a) == before + 1
    assert d.steps[-1].step is StepKind.EVIDENCE_ADDED
    with pytest.raises(EvidenceRejected, match="at most 5"):
        add_evidence(db, the_vault, d, cast.user_a, [Upload("6.jpg", JPEG)])
    assert count(db, Evidence) == 5


def test_no_evidence_added_to_a_closed_dispute(db, the_vault, cast):
    d = _file(db, the_vault, cast, [])
    advance(db, the_vault, d, DisputeStatus.WITHDRAWN, cast.user_a)
    with pytest.raises(DisputeError, match="closed"):
        add_evidence(db, the_vault, d, cast.user_a, [Upload("a.pdf", PDF)])


def test_sealed_round_trip_and_checksum(db, the_vault, cast):
    d = _file(db, the_vault, cast, [Upload("a.pdf", PDF), Upload("b.jpg", JPEG), Upload("c.png", PNG)])
    db.commit()
    cipher = the_vault.cipher(db, cast.a.data_key_id)
    for row, original in zip(sorted(d.evidence, key=lambda r: r.size), sorted([PDF, JPEG, PNG], key=len), strict=False):
        assert original not in row.content_ct
        assert row.sha256 == hashlib.sha256(original).digest()
        assert row.size == len(original)
        assert ev.read(cipher, row)[0] == original
    assert len({r.stored_name for r in d.evidence}) == 3


def test_tampering_fails_to_open(db, the_vault, cast):
    d = _file(db, the_vault, cast, [Upload("a.pdf", PDF), Upload("b.png", PNG)])
    cipher = the_vault.cipher(db, cast.a.data_key_id)
    one, two = d.evidence
    blob = bytearray(one.content_ct)
    blob[-1] ^= 1
    one.content_ct = bytes(blob)
    with pytest.raises(EvidenceCorrupt, match="cannot be opened"):
        ev.read(cipher, one)
    two_ct = two.content_ct
    two.content_ct = the_vault.cipher(db, cast.a.data_key_id).seal("evidence", "content", one.id, PNG)
    with pytest.raises(EvidenceCorrupt):  # sealed for another row
        ev.read(cipher, two)
    two.content_ct = two_ct
    two.sha256 = hashlib.sha256(b"something else").digest()
    with pytest.raises(EvidenceCorrupt, match="checksum"):
        ev.read(cipher, two)
    # Another subject's key cannot open it either.
    with pytest.raises(EvidenceCorrupt):
        ev.read(the_vault.cipher(db, cast.b.data_key_id), one)

"""The document-signing key: made once, owner-only, never replaced; PAdES
signatures that any change to the file breaks, made and checked also where
the calling thread already runs an event loop (a server's, a test tool's)."""

from __future__ import annotations

import asyncio
import stat
import threading

import pytest
from fpdf import FPDF

from portal.crypto import KeyringError
from portal.signing import CERT_FILE, KEY_FILE, DocumentSigner, create_document_key


def a_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="a document")
    return bytes(pdf.output())


def test_the_key_is_made_once_and_kept_from_others(tmp_path):
    made = create_document_key(tmp_path)
    assert made == [tmp_path / KEY_FILE, tmp_path / CERT_FILE]
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    key = (tmp_path / KEY_FILE).read_bytes()
    assert create_document_key(tmp_path) == []  # never replaced
    assert (tmp_path / KEY_FILE).read_bytes() == key
    (tmp_path / CERT_FILE).unlink()
    with pytest.raises(KeyringError, match="missing"):
        create_document_key(tmp_path)


def test_a_signature_any_change_breaks_even_under_a_running_event_loop(tmp_path):
    create_document_key(tmp_path)
    signer = DocumentSigner.load(tmp_path)

    async def in_a_loop() -> tuple[bytes, object, object]:
        signed = signer.sign(a_pdf())
        altered = bytearray(signed)
        altered[len(signed) // 4] ^= 1
        return signed, signer.check(signed), signer.check(bytes(altered))

    # In a thread of its own, whose event loop is running when it signs
    # (the test's own thread may run one already: a browser test's).
    done: list[tuple[bytes, object, object]] = []
    thread = threading.Thread(target=lambda: done.append(asyncio.run(in_a_loop())))
    thread.start()
    thread.join()
    signed, good, bad = done[0]
    assert (good.signed, good.intact, good.by_portal) == (True, True, True)
    assert not bad.intact
    other = tmp_path / "other"
    create_document_key(other)
    assert not DocumentSigner.load(other).check(signed).by_portal  # another key's signature is not ours
    assert DocumentSigner.load(tmp_path).check(b"%PDF-1.7 broken").signed is False


def test_a_key_readable_by_others_is_refused(tmp_path):
    create_document_key(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(KeyringError, match="readable by others"):
        DocumentSigner.load(tmp_path)

"""Documents anyone can verify: the portal's PDFs are signed (PAdES, with
pyHanko) under a document-signing key kept beside the other keys.

The key is an ECDSA P-256 key in `<key folder>/document-signing.key` (PEM,
owner-only) with a self-signed certificate in `document-signing.crt`,
made by `portal init`. A PDF reader shows the signature, and any change to
the file after signing, in its signature panel; the portal's `/verify`
page checks the signature and that the file is one the portal issued."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from portal.crypto import KeyringError

KEY_FILE, CERT_FILE = "document-signing.key", "document-signing.crt"
T = TypeVar("T")
COMMON_NAME = "Credit Subject Portal documents"


def create_document_key(key_dir: Path) -> list[Path]:
    """The document-signing key and its certificate, if missing; returns
    the files made. Never replaces an existing key."""
    key_path, cert_path = key_dir / KEY_FILE, key_dir / CERT_FILE
    if key_path.exists():
        if not cert_path.exists():
            raise KeyringError(f"{cert_path} is missing beside {key_path}: restore it")
        return []
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    now = datetime.now(UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never over another key
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return [key_path, cert_path]


@dataclass(frozen=True)
class SignatureCheck:
    signed: bool  # the file carries a signature at all
    intact: bool  # the signed bytes are unchanged and the signature covers the whole file
    by_portal: bool  # signed with the portal's document key


class DocumentSigner:
    """The portal's document-signing key and certificate."""

    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the document-signing key is not an EC key")
        self._key = key
        cert = x509.load_pem_x509_certificate(cert_pem)
        self.certificate_pem = cert.public_bytes(serialization.Encoding.PEM)
        der_key = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.certificate = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        self._signer = signers.SimpleSigner(
            signing_cert=self.certificate,
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
            cert_registry=SimpleCertificateStore.from_certs([self.certificate]),
        )

    def __repr__(self) -> str:  # never print key material
        return "DocumentSigner()"

    @classmethod
    def load(cls, key_dir: Path) -> DocumentSigner:
        key_path, cert_path = key_dir / KEY_FILE, key_dir / CERT_FILE
        if not key_path.exists() or not cert_path.exists():
            raise KeyringError(f"the document-signing key {key_path} is missing: run `portal init`, or restore it")
        if key_path.stat().st_mode & 0o077:
            raise KeyringError(f"{key_path} is readable by others: chmod 600 it")
        try:
            return cls(key_path.read_bytes(), cert_path.read_bytes())
        except ValueError as exc:
            raise KeyringError(f"{key_path} or {cert_path} is damaged: {exc}") from None

    def sign_bytes(self, data: bytes) -> bytes:
        """An ECDSA P-256 / SHA-256 signature (DER) over `data`: documents
        that are not PDFs (the regulator's JSON report)."""
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def sign(self, pdf: bytes) -> bytes:
        """The PDF with a PAdES signature over the whole file."""
        meta = signers.PdfSignatureMetadata(
            field_name="PortalSignature", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        signed = _run(lambda: signers.async_sign_pdf(writer, meta, signer=self._signer))
        return bytes(signed.getvalue())

    def check(self, pdf: bytes) -> SignatureCheck:
        """Whether a file carries an intact signature by this key, covering
        all of it. Any file, however malformed, gets an answer."""
        signed = False
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            signatures = reader.embedded_signatures
            if not signatures:
                return SignatureCheck(False, False, False)
            signed = True
            context = ValidationContext(trust_roots=[self.certificate])
            status = _run(lambda: async_validate_pdf_signature(signatures[-1], context))
        except (PdfError, ValueError, KeyError, TypeError, IndexError, OSError):
            return SignatureCheck(signed, False, False)
        whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        return SignatureCheck(True, bool(status.intact and status.valid and whole), bool(status.trusted))


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """pyHanko's work is asynchronous: run it to the end here, in a thread
    of its own when this thread already runs an event loop (asyncio.run
    refuses to nest)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()

"""TOTP second factor (RFC 6238, pyotp) and single-use recovery codes."""

from __future__ import annotations

import hmac
import io
import secrets

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.accounts.models import RecoveryCode, User
from portal.crypto import Vault
from portal.db import utcnow

ISSUER = "Credit Subject Portal"
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG (no script, no external image)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, title="QR", dark="#000", light="#fff"
    )
    return out.getvalue().decode()


def _matching_step(secret: str, code: str) -> int | None:
    """The time step a code belongs to (now, or one step either side)."""
    code = "".join(code.split())
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow())
    for step in (now, now - 1, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def setup_step(secret: str, code: str) -> int | None:
    """The time step of a code for a secret being set up, or None."""
    return _matching_step(secret, code)


def verify(session: Session, vault: Vault, user: User, code: str) -> bool:
    """A code for the user's secret, never one already used."""
    secret = vault.cipher(session, user.data_key_id).open_field(user, "totp_secret")
    step = _matching_step(secret, code) if secret else None
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    session.flush()
    return True


def enable(session: Session, vault: Vault, user: User, secret: str, step: int | None = None) -> list[str]:
    """Turn TOTP on; the code that proved the set-up counts as used."""
    vault.cipher(session, user.data_key_id).seal_field(user, "totp_secret", secret)
    user.totp_last_step = step
    return new_recovery_codes(session, vault, user)


def disable(session: Session, vault: Vault, user: User) -> None:
    vault.cipher(session, user.data_key_id).seal_field(user, "totp_secret", None)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()


def _code_hash(vault: Vault, user: User, code: str) -> bytes:
    # Keyed: 48-bit codes could be tried offline against a plain hash.
    return vault.blind_index("recovery-code", f"{user.id}:{code.strip().lower().replace('-', '')}")


def new_recovery_codes(session: Session, vault: Vault, user: User) -> list[str]:
    """Ten fresh codes (the old ones stop working); shown once."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["-".join([secrets.token_hex(3), secrets.token_hex(3)]) for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hash(vault, user, c)) for c in codes)
    session.flush()
    return codes


def use_recovery_code(session: Session, vault: Vault, user: User, code: str) -> bool:
    row = session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(vault, user, code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    session.flush()
    return True


def recovery_codes_left(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )

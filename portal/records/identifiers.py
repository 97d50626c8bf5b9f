"""Subject identifiers: the resident identity number (GB 11643-1999) and the
unified social credit code (GB 32100-2015). Errors say what is wrong."""

from __future__ import annotations

import unicodedata
from datetime import date

from flask_babel import gettext as _

from portal.i18n import day
from portal.localtime import today as local_today

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"  # ISO 7064 MOD 11-2: (sum mod 11) -> check character
# First two digits: the province-level division (GB/T 2260).
PROVINCES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
    "83",  # 81-83: residence permits of HK, Macao, Taiwan residents
}

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
# Registration authority (first character) and the organisation types it
# may issue (second character), GB 32100-2015 table 1.
USCC_AUTHORITIES = {
    "1": "1239",
    "2": "19",
    "3": "123459",
    "4": "19",
    "5": "1239",
    "6": "129",
    "7": "129",
    "8": "19",
    "9": "123",
    "A": "19",
    "N": "1239",
    "Y": "1",
}


class InvalidIdentifier(ValueError):
    """`str(exc)` is a message for the person who typed the identifier."""


def normalise(value: str) -> str:
    """Full-width characters (common from Chinese input methods) become
    ASCII; spaces go; letters are upper-cased."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def _ascii_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def resident_id_check(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def validate_resident_id(value: str, today: date | None = None) -> str:
    """Return the normalised 18-character resident identity number or raise."""
    v = normalise(value)
    if len(v) != 18:
        raise InvalidIdentifier(_("A resident identity number has 18 characters; this one has %(n)d.", n=len(v)))
    if not _ascii_digits(v[:17]) or not (_ascii_digits(v[17]) or v[17] == "X"):
        raise InvalidIdentifier(_("A resident identity number is 17 digits followed by a digit or X."))
    if v[:2] not in PROVINCES:
        raise InvalidIdentifier(_("The region code %(code)s does not start with a valid province code.", code=v[:6]))
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise InvalidIdentifier(
            _("The birth date %(date)s in the identity number is not a real date.", date=v[6:14])
        ) from None
    if born.year < 1900 or born > (today or local_today()):
        raise InvalidIdentifier(_("The birth date %(date)s in the identity number is out of range.", date=day(born)))
    expected = resident_id_check(v[:17])
    if v[17] != expected:
        raise InvalidIdentifier(
            _(
                "The check character should be %(expected)s, not %(found)s: the number is mistyped.",
                expected=expected,
                found=v[17],
            )
        )
    return v


def uscc_check(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Return the normalised 18-character unified social credit code or raise."""
    v = normalise(value)
    if len(v) != 18:
        raise InvalidIdentifier(_("A unified social credit code has 18 characters; this one has %(n)d.", n=len(v)))
    bad = sorted({c for c in v if c not in USCC_ALPHABET})
    if bad:
        raise InvalidIdentifier(
            _(
                "A unified social credit code uses digits and capital letters except I, O, S, V and Z; found %(bad)s.",
                bad="".join(bad),
            )
        )
    if v[0] not in USCC_AUTHORITIES or v[1] not in USCC_AUTHORITIES[v[0]]:
        raise InvalidIdentifier(
            _("%(prefix)s is not a valid registration authority and organisation type.", prefix=v[:2])
        )
    if not _ascii_digits(v[2:8]) or v[2:4] not in PROVINCES | {"10"}:
        raise InvalidIdentifier(_("The region code %(code)s in the credit code is not valid.", code=v[2:8]))
    expected = uscc_check(v[:17])
    if v[17] != expected:
        raise InvalidIdentifier(
            _(
                "The check character should be %(expected)s, not %(found)s: the code is mistyped.",
                expected=expected,
                found=v[17],
            )
        )
    return v

"""Resident identity numbers (GB 11643-1999) and unified social credit codes
(GB 32100-2015): what is accepted, and what a mistyped value is told."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest

from portal.records.identifiers import (
    ID_CHECK,
    PROVINCES,
    USCC_ALPHABET,
    USCC_AUTHORITIES,
    InvalidIdentifier,
    resident_id_check,
    uscc_check,
    validate_resident_id,
    validate_uscc,
)

EXAMPLE_ID = "11010519491231002X"  # the example printed in GB 11643-1999
EXAMPLE_USCC = "91350100M000100Y43"


def with_id_check(body: str) -> str:
    return body + resident_id_check(body)


def with_uscc_check(body: str) -> str:
    return body + uscc_check(body)


# -- resident identity number ----------------------------------------------
@pytest.mark.parametrize(
    "typed", [EXAMPLE_ID, "11010519491231002x", " 110105 19491231 002x ", "1101 0519 4912 3100 2X"]
)
def test_resident_id_accepted_and_normalised(typed):
    """The standard's example is accepted however it is spaced or cased, and
    comes back in one canonical form (what the blind index is computed on)."""
    assert validate_resident_id(typed) == EXAMPLE_ID


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("11010519491231002", "18 characters; this one has 17"),
        ("11010519491231002X1", "18 characters; this one has 19"),
        ("", "18 characters; this one has 0"),
        ("1101051949123A002X", "17 digits followed by a digit or X"),
        ("11010519491231002Y", "17 digits followed by a digit or X"),
        (with_id_check("00010519491231002"), "valid province code"),
        (with_id_check("99010519491231002"), "valid province code"),
        (with_id_check("11010519990230002"), "19990230"),  # 30 February
        (with_id_check("11010519991301002"), "not a real date"),  # month 13
        (with_id_check("11010518991231002"), "out of range"),  # before 1900
        (with_id_check("11010520991231002"), "out of range"),  # in the future
        ("110105194912310021", "check character should be X, not 1"),
        ("110105194912310020", "check character should be X, not 0"),
    ],
)
def test_resident_id_refused_with_reason(typed, fragment):
    """Each kind of mistake is refused with a message naming it; the other
    parts of each value are valid, so the message is about that mistake."""
    with pytest.raises(InvalidIdentifier, match=re.escape(fragment)):
        validate_resident_id(typed)


def test_resident_id_birth_date_in_future_relative_to_today():
    """Someone born tomorrow cannot hold a number yet; born today can."""
    today = date(2024, 6, 1)
    born_today = with_id_check("110105" + today.strftime("%Y%m%d") + "002")
    tomorrow = with_id_check("110105" + (today + timedelta(days=1)).strftime("%Y%m%d") + "002")
    assert validate_resident_id(born_today, today=today) == born_today
    with pytest.raises(InvalidIdentifier, match="Jun 2, 2024 .* out of range"):
        validate_resident_id(tomorrow, today=today)


@pytest.mark.parametrize(
    "typed",
    [
        "11０10519491231002X",  # a fullwidth zero in the region code
        "110105１９４９1231002X",  # fullwidth digits in the birth year
        "110105194912310٠2X",  # an Arabic-Indic zero in the sequence number
        "11010519491231²02X",  # a superscript two
    ],
)
def test_resident_id_non_ascii_digits_are_refused_or_canonicalised(typed):
    """str.isdigit() is true for many Unicode digits. Whatever comes back must
    be the ASCII canonical form, or the same person gets a second blind index
    (and a second subject); a value that is refused must be refused with
    InvalidIdentifier, not crash with a bare ValueError."""
    try:
        result = validate_resident_id(typed)
    except InvalidIdentifier:
        return
    assert result == EXAMPLE_ID, f"accepted {result!r}, which is not the canonical ASCII form"


# -- unified social credit code ---------------------------------------------
@pytest.mark.parametrize("typed", [EXAMPLE_USCC, "91350100m000100y43", "9135 0100 M000 100Y 43"])
def test_uscc_accepted_and_normalised(typed):
    assert validate_uscc(typed) == EXAMPLE_USCC


@pytest.mark.parametrize(
    "prefix",
    [
        # GB 32100-2015 table 1: every registration authority and the
        # organisation types it registers.
        "11",
        "12",
        "13",
        "19",
        "21",
        "29",
        "31",
        "32",
        "33",
        "34",
        "35",
        "39",
        "41",
        "49",
        "51",
        "52",
        "53",
        "59",
        "61",
        "62",
        "69",
        "71",
        "72",
        "79",
        "81",
        "89",
        "91",
        "92",
        "93",
        "A1",
        "A9",
        "N1",
        "N2",
        "N3",
        "N9",
        "Y1",
    ],
)
def test_uscc_every_authority_and_type_of_the_standard_is_accepted(prefix):
    """E.g. 12… is a public institution (事业单位: universities, hospitals),
    39… a judicial-administration body of another type."""
    code = with_uscc_check(prefix + "1000004000022" + "59")
    assert validate_uscc(code) == code


def test_uscc_public_institution_example_is_accepted():
    """Peking University's code (a 事业单位, prefix 12) has a valid check
    character and must be accepted."""
    assert uscc_check("12100000400002259") == "P"
    assert validate_uscc("12100000400002259P") == "12100000400002259P"


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("91350100M000100Y4", "18 characters; this one has 17"),
        ("91350100M000100Y433", "18 characters; this one has 19"),
        *[("91350100M000100Y4" + c, f"except I, O, S, V and Z; found {c}") for c in "IOSVZ"],
        ("91350100I000100Y43", "found I"),
        ("91350100M0001-0Y43", "found -"),
        (with_uscc_check("94350100M000100Y4"), "94 is not a valid registration authority"),
        (with_uscc_check("B1350100M000100Y4"), "B1 is not a valid registration authority"),
        (with_uscc_check("91000100M000100Y4"), "region code 000100"),
        (with_uscc_check("9135A100M000100Y4"), "region code 35A100"),
        ("91350100M000100Y44", "check character should be 3, not 4"),
        ("91350100M000100Y4A", "check character should be 3, not A"),
    ],
)
def test_uscc_refused_with_reason(typed, fragment):
    with pytest.raises(InvalidIdentifier, match=re.escape(fragment)):
        validate_uscc(typed)


# -- check characters, property style ---------------------------------------
def random_id_body(rng: random.Random) -> str:
    born = date(1900, 1, 1) + timedelta(days=rng.randrange((date(2020, 12, 31) - date(1900, 1, 1)).days))
    return (
        rng.choice(sorted(PROVINCES))
        + "".join(rng.choices("0123456789", k=4))
        + born.strftime("%Y%m%d")
        + "".join(rng.choices("0123456789", k=3))
    )


def random_uscc_body(rng: random.Random) -> str:
    authority = rng.choice(sorted(USCC_AUTHORITIES))
    return (
        authority
        + rng.choice(USCC_AUTHORITIES[authority])
        + rng.choice(sorted(PROVINCES))
        + "".join(rng.choices("0123456789", k=4))
        + "".join(rng.choices(USCC_ALPHABET, k=9))
    )


@pytest.mark.parametrize(
    ("body_of", "check_of", "alphabet", "validate"),
    [
        (random_id_body, resident_id_check, ID_CHECK, validate_resident_id),
        (random_uscc_body, uscc_check, USCC_ALPHABET, validate_uscc),
    ],
    ids=["resident_id", "uscc"],
)
def test_exactly_one_check_character_is_accepted(body_of, check_of, alphabet, validate):
    """For random valid bodies, the computed check character gives a valid
    identifier and every other possible check character is refused."""
    rng = random.Random(11643)
    for _ in range(300):
        body = body_of(rng)
        good = check_of(body)
        assert validate(body + good) == body + good
        for wrong in set(alphabet) - {good}:
            with pytest.raises(InvalidIdentifier, match=f"check character should be {good}, not {wrong}"):
                validate(body + wrong)


@pytest.mark.parametrize(
    ("body_of", "check_of", "alphabet", "validate"),
    [
        (random_id_body, resident_id_check, "0123456789", validate_resident_id),
        (random_uscc_body, uscc_check, USCC_ALPHABET, validate_uscc),
    ],
    ids=["resident_id", "uscc"],
)
def test_any_single_character_typo_is_refused(body_of, check_of, alphabet, validate):
    """Both check schemes detect every single substituted character, in
    any of the 18 positions, by the check character itself (not only by the
    structural checks that may fire first)."""
    rng = random.Random(32100)
    for _ in range(100):
        valid = body_of(rng)
        valid += check_of(valid)
        for pos in (rng.randrange(17), 17):
            for typo in set(alphabet) - {valid[pos]}:
                mutated = valid[:pos] + typo + valid[pos + 1 :]
                assert check_of(mutated[:17]) != mutated[17], mutated
                with pytest.raises(InvalidIdentifier):
                    validate(mutated)

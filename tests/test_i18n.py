"""Translations: the Chinese catalog is complete, compiled and consistent with
the code; pages switch language by cookie, saved choice or Accept-Language;
dates and amounts follow the locale.

When a test here fails after you added or changed a user-visible string:

    .venv/bin/pybabel extract -F portal/translations/babel.cfg -k _l -k lazy_gettext -k N_ \\
        -o portal/translations/messages.pot --no-location --sort-output \\
        --project=credit-subject-portal .
    .venv/bin/pybabel update -i portal/translations/messages.pot -d portal/translations
    # translate the new entries in portal/translations/zh_Hans_CN/LC_MESSAGES/messages.po
    .venv/bin/pybabel compile -d portal/translations --statistics
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "portal" / "translations"
# Babel looks a locale up under its full name: zh_CN is zh_Hans_CN (then zh).
PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# %(name)s, %(n)d, %s, %5.2f ... and the literal %%.
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
)


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f, locale="zh_CN")


def _key(message) -> tuple[str | None, str]:
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def _translations(catalog) -> dict:
    """(context, msgid) -> msgstr for every message but the header."""
    return {_key(m): m.string for m in catalog if m.id}


def _placeholders(text: str) -> Counter:
    return Counter((m["name"], m["type"]) for m in PLACEHOLDER.finditer(text) if m["type"] != "%")


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def _ids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


@pytest.fixture(scope="module")
def po():
    return _catalog(PO)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """What the code uses now, extracted exactly as the documented command does."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            str(TRANSLATIONS / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "N_",
            "-o",
            str(out),
            "--no-location",
            "--sort-output",
            "--project=credit-subject-portal",
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"pybabel extract failed:\n{done.stderr}"
    with out.open("rb") as f:
        return read_po(f)


# -- the catalog ------------------------------------------------------------------
def test_every_string_in_the_code_is_in_the_catalog_and_translated(po, extracted):
    used = {_key(m) for m in extracted if m.id}
    assert len(used) > 100, "extraction found almost nothing: check babel.cfg"
    have = _translations(po)
    missing = sorted(msgid for ctx, msgid in used - have.keys())
    assert not missing, (
        "strings used in the code but missing from messages.po (run extract + update, then "
        "translate):\n  " + "\n  ".join(missing)
    )
    untranslated = sorted(
        m.id if isinstance(m.id, str) else m.id[0]
        for m in po
        if m.id and _key(m) in used and (m.fuzzy or not all(s.strip() for s in _strings(m)))
    )
    assert not untranslated, "strings left empty or fuzzy in messages.po:\n  " + "\n  ".join(untranslated)


def test_no_entry_in_the_catalog_is_empty_or_fuzzy(po):
    bad = sorted(_key(m)[1] for m in po if m.id and (m.fuzzy or not all(s.strip() for s in _strings(m))))
    assert not bad, "empty or fuzzy entries in messages.po:\n  " + "\n  ".join(bad)
    assert not po.fuzzy, "the catalog header is marked fuzzy"


def test_the_compiled_catalog_is_up_to_date_with_the_po(po):
    assert MO.is_file(), f"{MO.relative_to(ROOT)} is missing: run pybabel compile"
    buffer = BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    expected = _translations(read_mo(buffer))
    with MO.open("rb") as f:
        shipped = _translations(read_mo(f))
    stale = sorted(key[1] for key in expected.keys() | shipped.keys() if expected.get(key) != shipped.get(key))
    assert not stale, "messages.mo differs from messages.po (run pybabel compile) for:\n  " + "\n  ".join(stale)


def test_placeholders_are_the_same_in_every_translation(po):
    wrong = []
    for m in po:
        if not m.id:
            continue
        wanted = _placeholders(_ids(m)[-1])
        for text in _strings(m):
            if _placeholders(text) != wanted:
                wrong.append(f"{_ids(m)[0]!r} -> {text!r}")
            # A lone % would break `text % values`.
            if "%" in PLACEHOLDER.sub("", text):
                wrong.append(f"stray % in {text!r}")
    assert not wrong, "\n".join(wrong)


def test_babel_checks_pass(po):
    problems = [(m.id, [str(e) for e in errors]) for m, errors in po.check()]
    assert not problems


def test_babel_finds_the_catalog_for_the_default_locale():
    """Flask-Babel loads `Locale.parse("zh_CN")`, whose name is zh_Hans_CN: a
    catalog in a directory Babel does not look in is silently ignored."""
    from babel import Locale
    from babel.support import NullTranslations, Translations

    from portal.i18n import DEFAULT

    found = Translations.load(str(TRANSLATIONS), [Locale.parse(DEFAULT)])
    assert type(found) is not NullTranslations, f"no catalog found for {DEFAULT} under {TRANSLATIONS}"
    assert found.gettext("Sign in") == "登录"


def test_the_catalog_is_simplified_chinese(po):
    assert str(po.locale).startswith("zh")
    have = _translations(po)
    assert have[(None, "Credit Subject Portal")] == "信用主体权益服务平台"
    assert have[(None, "Sign in")] == "登录"
    assert "20" in have[(None, "objections are answered within 20 days.")]
    assert "五年" in have[(None, "five years after the behaviour ended.")]


# -- choosing the language --------------------------------------------------------
def _html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_pages_are_chinese_by_default(client):
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "登录" in page
    assert "信用主体权益服务平台" in page
    assert "Sign in" not in page
    assert _html_lang(response) == "zh-Hans"


def test_the_language_link_switches_and_remembers(client):
    response = client.get("/language/en?next=/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    assert "lang=en" in response.headers["Set-Cookie"]
    english = client.get("/")
    assert "Sign in" in english.get_data(as_text=True)
    assert "登录" not in english.get_data(as_text=True)
    assert _html_lang(english) == "en"
    assert "Sign in" in client.get("/login").get_data(as_text=True)  # it sticks

    back = client.get("/language/zh_CN?next=/login")
    assert urlsplit(back.headers["Location"]).path == "/login"
    chinese = client.get("/")
    assert "登录" in chinese.get_data(as_text=True)
    assert "Sign in" not in chinese.get_data(as_text=True)
    assert _html_lang(chinese) == "zh-Hans"


def test_an_unknown_language_changes_nothing(client):
    response = client.get("/language/xx?next=/")
    assert response.status_code == 302
    assert "lang=" not in response.headers.get("Set-Cookie", "")
    assert "登录" in client.get("/").get_data(as_text=True)

    client.get("/language/en")
    assert "lang=" not in client.get("/language/xx").headers.get("Set-Cookie", "")
    assert "Sign in" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "http:/evil"])
def test_the_language_link_never_leads_off_site(client, target):
    response = client.get("/language/en", query_string={"next": target})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/"
    assert location.netloc in ("", "localhost")


def test_accept_language_picks_english_without_a_cookie(client):
    response = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in" in response.get_data(as_text=True)
    assert _html_lang(response) == "en"
    chinese = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "登录" in chinese.get_data(as_text=True)
    other = client.get("/", headers={"Accept-Language": "fr-FR"})
    assert "登录" in other.get_data(as_text=True)  # neither offered: the default


def test_the_cookie_wins_over_accept_language(client):
    client.get("/language/zh_CN")
    response = client.get("/", headers={"Accept-Language": "en-US"})
    assert "登录" in response.get_data(as_text=True)


def test_form_labels_and_errors_follow_the_language(client):
    assert "电子邮件地址" in client.get("/login").get_data(as_text=True)
    client.get("/language/en")
    assert "E-mail address" in client.get("/login").get_data(as_text=True)


def test_error_pages_are_translated(client):
    assert "页面不存在" in client.get("/no-such-page").get_data(as_text=True)
    client.get("/language/en")
    assert "Page not found" in client.get("/no-such-page").get_data(as_text=True)


# -- formats ----------------------------------------------------------------------
def _in(app, lang: str):
    return app.test_request_context("/", headers={"Cookie": f"lang={lang}"})


def test_money_is_formatted_for_the_locale(app):
    from portal.i18n import money

    for lang in ("zh_CN", "en"):
        with _in(app, lang):
            text = money("1234.5")
            assert "1,234.50" in text, (lang, text)
            assert "¥" in text, (lang, text)
            assert "1,234.50" in money(Decimal("1234.5"))
            assert money(None) == "—"
            assert money("") == "—"
    with _in(app, "zh_CN"):
        assert money("1234.5") == "¥1,234.50"


def test_dates_are_formatted_for_the_locale(app):
    from portal.i18n import day, moment

    with _in(app, "zh_CN"):
        assert day(date(2026, 3, 14)) == "2026年3月14日"
        assert day("2026-03-14") == "2026年3月14日"
        assert moment(datetime(2026, 3, 14, 9, 5)).startswith("2026年3月14日")
        assert day(None) == "—"
        assert moment(None) == "—"
    with _in(app, "en"):
        assert day(date(2026, 3, 14)) == "Mar 14, 2026"
        assert moment(datetime(2026, 3, 14, 9, 5)).startswith("Mar 14, 2026")


def test_the_filters_are_available_to_templates(app):
    with _in(app, "zh_CN"):
        rendered = app.jinja_env.from_string("{{ d|day }} {{ a|money }}").render(d=date(2026, 3, 14), a="1234.5")
        assert rendered == "2026年3月14日 ¥1,234.50"
    with _in(app, "en"):
        assert app.jinja_env.from_string("{{ d|day }}").render(d=date(2026, 3, 14)) == "Mar 14, 2026"


def test_the_kept_catalogs_follow_the_locale_even_when_forced(app):
    """Catalogs and formatted values are kept per locale: switching the
    locale within one request (as e-mails in the recipient's language do)
    switches both, in code, in templates and in the filters."""
    from flask import render_template_string
    from flask_babel import force_locale

    from portal.i18n import day, lazy, money, translate

    label = lazy("Status")
    template = "{{ _('Status') }} {{ '1234.5'|money }} {{ d|day }}"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert translate("Status") == "Status"
        assert str(label) == "Status"
        english = render_template_string(template, d=date(2026, 3, 1))
        with force_locale("zh_CN"):
            assert translate("Status") == "状态"
            assert str(label) == "状态"
            assert render_template_string(template, d=date(2026, 3, 1)) != english
            assert "状态" in render_template_string(template, d=date(2026, 3, 1))
            assert day(date(2026, 3, 1)) == "2026年3月1日"
        assert translate("Status") == "Status"
        assert render_template_string(template, d=date(2026, 3, 1)) == english
        assert english == f"Status {money('1234.5')} Mar 1, 2026"


def test_the_language_menu_never_links_to_an_address_a_browser_cannot_get(app):
    """A refused form is shown at its POST's address: the language link goes
    there again only when that address answers GET too; otherwise to the
    page the form came from (when the browser said), or the home page. It
    led to a 405 before."""

    from portal.i18n import language_next

    with app.test_request_context("/login?next=%2Faccount", method="POST"):
        assert language_next() == "/login?next=%2Faccount"  # the sign-in page answers GET too
    with app.test_request_context("/logout", method="POST"):
        assert language_next() == "/"
    with app.test_request_context("/logout", method="POST", headers={"Referer": "http://localhost/account?x=1"}):
        assert language_next() == "/account?x=1"
    with app.test_request_context("/logout", method="POST", headers={"Referer": "http://evil.example/account"}):
        assert language_next() == "/"

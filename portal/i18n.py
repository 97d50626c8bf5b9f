"""Languages: Simplified Chinese (the default) and English. The choice is a
cookie set by a link on every page, then the user's saved preference, then
the browser's Accept-Language."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations
from flask import Flask, g, has_request_context, request
from flask_babel import get_locale, get_timezone, get_translations, gettext, to_user_timezone
from flask_babel.speaklater import LazyString
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

LOCALES = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"
COOKIE = "lang"


# -- translating, cheaply ---------------------------------------------------------
# A page says "Status" or formats a date hundreds of times; Flask-Babel finds
# the catalog through several context lookups each time. The catalogs are
# the same for every request of a locale, so they are kept by locale here
# (force_locale, which the e-mails use, switches the locale object, and so
# the catalog with it).
_catalogs: dict[Locale, NullTranslations] = {}


def translations() -> NullTranslations:
    """The catalog of the current locale."""
    try:  # where Flask-Babel keeps the request's (or force_locale's) choice
        locale = g._flask_babel.babel_locale
    except AttributeError:
        locale = None
    if locale is None:
        locale = get_locale()
    if locale is None:  # outside a request or command context
        return get_translations()
    try:
        return _catalogs[locale]
    except KeyError:
        catalog = _catalogs[locale] = get_translations()
        return catalog


def translate(message: str, **params: Any) -> str:
    """`gettext`, through the kept catalog."""
    text = translations().ugettext(message)
    return text % params if params else text


def lazy(message: str, **params: Any) -> LazyString:
    """`lazy_gettext`, through the kept catalog: translated when shown."""
    return LazyString(translate, message, **params)


def N_(message: str) -> str:
    """Marks a message for the catalog where it is written; it is
    translated where it is shown (see `Refusal`)."""
    return message


class Refusal(ValueError):
    """A refusal a person reads. Its message is written in English with
    %(name)s parameters and marked with N_: str() gives the English (logs,
    the API, commands), `translated()` the reader's language (pages)."""

    def __init__(self, message: str = "", **params: Any) -> None:
        self.message, self.params = message, params
        super().__init__(message % params if params else message)

    def translated(self) -> str:
        # Dates read as the reader writes them (str() keeps ISO for logs and the API).
        params = {k: day(v) if isinstance(v, date) else v for k, v in self.params.items()}
        return gettext(self.message, **params) if self.message else ""


def shown(exc: Exception) -> str:
    """An error's message for a page: in the reader's language when it is a Refusal."""
    return exc.translated() if isinstance(exc, Refusal) else str(exc)


def select_locale() -> str:
    if not has_request_context():  # a command, a background job: the default language
        return DEFAULT
    chosen = request.cookies.get(COOKIE)
    if chosen in LOCALES:
        return chosen
    user = getattr(current_user, "user", None)
    if user is not None and user.locale in LOCALES:
        return user.locale
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return "en" if best == "en" else DEFAULT


def language_next() -> str:
    """Where the language menu comes back to: this page, or after a form was
    posted (a refused form is shown at the POST's address, which a link
    cannot GET) the page the form was on."""
    rule = request.url_rule
    if request.method == "GET" or (rule is not None and "GET" in (rule.methods or ())):
        return request.full_path
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and came_from.path.startswith("/"):
        return came_from.path + (f"?{came_from.query}" if came_from.query else "")
    return "/"


def html_lang() -> str:
    return "zh-Hans" if str(get_locale()).startswith("zh") else "en"


def local_name(institution) -> str:
    """An institution's name in the page's language."""
    return institution.name if str(get_locale()).startswith("zh") else institution.name_en


# Formatted values are kept too: the same amounts and dates come back on
# every page of a file, in one of two languages.
@lru_cache(maxsize=16384)
def _money(locale: Locale | None, amount: str, currency: str) -> str:
    return format_currency(Decimal(amount), currency, locale=locale)


@lru_cache(maxsize=16384)
def _day(locale: Locale | None, value: date) -> str:
    return format_date(value, "medium", locale=locale)


@lru_cache(maxsize=16384)
def _moment(locale: Locale | None, zone: tzinfo | None, value: datetime) -> str:
    return format_datetime(value, "medium", tzinfo=zone, locale=locale)


def money(amount: str | Decimal | None, currency: str = "CNY") -> str:
    if amount in (None, ""):
        return "—"
    return _money(get_locale(), str(amount), currency)


def day(value: date | str | None) -> str:
    if not value:
        return "—"
    if isinstance(value, datetime):  # the day where the reader is
        value = to_user_timezone(value).date()
    return _day(get_locale(), date.fromisoformat(value) if isinstance(value, str) else value)


def moment(value: datetime | None) -> str:
    return _moment(get_locale(), get_timezone(), value) if value else "—"


# <time> elements for the pages: Python, not template macros, since a page
# of records shows dozens and a macro call costs more than the formatting.
# What a file is, as a reader names it (not its media type).
FILE_KINDS = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


def file_kind(media_type: str) -> str:
    return FILE_KINDS.get(media_type, media_type)


def file_size(size: int) -> str:
    """Bytes as a reader reads them: in KB (at least 0.1), or MB."""
    if size >= 1024 * 1024:
        return gettext("%(size)s MB", size=format_decimal(round(size / 1024 / 1024, 1), locale=get_locale()))
    return gettext("%(size)s KB", size=format_decimal(max(0.1, round(size / 1024, 1)), locale=get_locale()))


def day_tag(value: date | None) -> Markup:
    if not value:
        return Markup("—")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), day(value))


def moment_tag(value: datetime | None) -> Markup:
    if not value:
        return Markup("—")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), moment(value))


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, message: str, **params: Any) -> str:
    text = translations().ugettext(message)
    if eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704  # our own catalog's text, as Jinja's newstyle gettext does
    return text % params


def register(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    # Replaces Flask-Babel's callables (same behaviour, the kept catalogs).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    # `_()` and `gettext()` in templates, called directly: Jinja's newstyle
    # wrappers go through Context.call and resolve the name on every call,
    # which cost more than the translation. Same result: the text escaped
    # for an autoescaped template, then formatted with its parameters.
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)
    app.jinja_env.globals.update(
        LOCALES=LOCALES, html_lang=html_lang, language_next=language_next, current_locale=lambda: str(get_locale())
    )
    app.jinja_env.globals.update(day_tag=day_tag, moment_tag=moment_tag)
    app.jinja_env.filters.update(
        money=money, day=day, moment=moment, local_name=local_name, file_kind=file_kind, file_size=file_size
    )

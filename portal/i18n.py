"""Languages: Simplified Chinese (the default) and English. The choice is a
cookie set by a link on every page, then the user's saved preference, then
the browser's Accept-Language."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, has_request_context, request
from flask_babel import format_currency, format_date, format_datetime, get_locale, gettext
from flask_login import current_user

LOCALES = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"
COOKIE = "lang"


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
        return gettext(self.message, **self.params) if self.message else ""


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


def html_lang() -> str:
    return "zh-Hans" if str(get_locale()).startswith("zh") else "en"


def local_name(institution) -> str:
    """An institution's name in the page's language."""
    return institution.name if str(get_locale()).startswith("zh") else institution.name_en


def money(amount: str | Decimal | None, currency: str = "CNY") -> str:
    if amount in (None, ""):
        return "—"
    return format_currency(Decimal(str(amount)), currency)


def day(value: date | str | None) -> str:
    if not value:
        return "—"
    return format_date(date.fromisoformat(value) if isinstance(value, str) else value, "medium")


def moment(value: datetime | None) -> str:
    return format_datetime(value, "medium") if value else "—"


def register(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(LOCALES=LOCALES, html_lang=html_lang, current_locale=lambda: str(get_locale()))
    app.jinja_env.filters.update(money=money, day=day, moment=moment, local_name=local_name)

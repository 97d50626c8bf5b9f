"""`?page=N` for the paged pages: anything that is not a page number is a
page not found."""

from __future__ import annotations

import re

from flask import abort, request

PAGE = re.compile(r"[1-9][0-9]{0,5}")


def page_number() -> int:
    raw = request.args.get("page", "1")
    if not PAGE.fullmatch(raw):
        abort(404)
    return int(raw)

"""`/verify`: anyone holding a document of the portal (a report, an outcome
letter) checks that this exact file was issued, when, and whether a newer
one replaced it, by its number or by the file itself. The answer names no
one: a number or a file tells only what the document says already."""

from __future__ import annotations

import hashlib

from flask import render_template, request
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import Length, Optional

from portal.audit.documents import NUMBER, document_signer, status
from portal.extensions import limiter, session
from portal.forms import Form
from portal.i18n import lazy as _l
from portal.site.routes import bp

MAX_FILE = 20 * 1024 * 1024
KINDS = {
    "report": _l("a credit report"),
    "outcome letter": _l("the outcome letter of a dispute"),
    "correction notice": _l("a correction notice sent to an institution"),
}


class VerifyForm(Form):
    number = StringField(_l("Document number"), validators=[Optional(), Length(max=40)])
    file = FileField(_l("Or the PDF file itself"), render_kw={"accept": "application/pdf"})


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def verify():
    form = VerifyForm()
    result, checked = None, None
    number = (request.args.get("number") or "").strip().upper()
    if form.validate_on_submit():
        upload = form.file.data
        if upload and upload.filename:
            body = upload.stream.read(MAX_FILE + 1)
            if len(body) > MAX_FILE:
                form.file.errors = [*form.file.errors, _l("The file is larger than 20 MB: no document of ours is.")]
            else:
                result = status(session(), sha256=hashlib.sha256(body).digest())
                checked = {"file": upload.filename, "signature": document_signer().check(body)}
        elif form.number.data:
            number = form.number.data.strip().upper()
        else:
            form.number.errors = [*form.number.errors, _l("Give the document number, or choose the file.")]
    if number and checked is None and not form.errors:
        if not NUMBER.fullmatch(number):
            form.number.errors = [_l("A document number looks like CSP-XXXX-XXXX-XXXX.")]
        else:
            result, checked = status(session(), number=number), {"number": number}
    return render_template("site/verify.html", form=form, result=result, checked=checked, kinds=KINDS)

"""Closing one's account: a page that says plainly what happens, the
password and a tick to confirm, then a page that says it is done. Its
blueprint is registered with the erasure requests' pages
(`compliance.erasure_routes`). Routes parse and render; the rules are in
`closure`."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask import session as cookie
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, logout_user
from wtforms import BooleanField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from portal.accounts import closure
from portal.accounts.services import MAX_PASSWORD, user_email, verify_password
from portal.accounts.signin import register_failure
from portal.extensions import limiter, session, vault
from portal.forms import Form
from portal.i18n import lazy as _l

bp = Blueprint("closure", __name__)


class CloseAccountForm(Form):
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(message=_l("This field is required.")), Length(max=MAX_PASSWORD)],
        render_kw={"autocomplete": "current-password", "maxlength": MAX_PASSWORD},
    )
    understood = BooleanField(
        _l("I understand that closing my account cannot be undone"),
        validators=[DataRequired(message=_l("Tick the box to confirm that you understand."))],
    )
    submit = SubmitField(_l("Close my account"))


@bp.route("/account/close", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def close_account():
    user = current_user.user
    if not closure.can_close(user):
        abort(404)
    form = CloseAccountForm()
    if form.validate_on_submit():
        if verify_password(user, form.password.data):
            closure.close_account(session(), vault(), user)
            logout_user()
            cookie.clear()
            flash(_("Your account is closed."), "success")
            return redirect(url_for(".closed"))
        register_failure(session(), vault(), user, get_remote_address())
        form.password.errors.append(_("The password is wrong."))
    return render_template("accounts/close.html", form=form, email=user_email(session(), vault(), user))


@bp.get("/account/closed")
def closed():
    return render_template("accounts/closed.html")

"""Getting back into an account: a forgotten password (a link by e-mail)
and a lost second factor (a code to the contact on file of the account's
credit file). Routes parse and render; the rules are in `recovery`."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from portal.accounts import recovery
from portal.accounts.forms import ConfirmForm, ContactCodeForm, ResetForm, ResetRequestForm
from portal.accounts.routes import bp, pending_sign_in, sign_in
from portal.accounts.services import WeakPassword
from portal.extensions import limiter, session, vault
from portal.i18n import select_locale

# Time to read the mail: the code page waits longer than the two-step page.
CODE_SECONDS = int(recovery.SECOND_FACTOR_CODE_TTL.total_seconds())


# -- a forgotten password --------------------------------------------------------
@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def forgot_password():
    form = ResetRequestForm()
    if form.validate_on_submit():
        recovery.ask_for_link(session(), vault(), form.email.data, select_locale())
        return redirect(url_for("accounts.reset_sent"))
    return render_template("accounts/forgot_password.html", form=form, title=_("Forgot your password?"))


@bp.get("/password/reset/sent")
def reset_sent():
    return render_template("accounts/reset_sent.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def reset_password(token: str):
    found = recovery.valid_link(session(), token)
    if found is None:
        return render_template("accounts/reset_invalid.html"), 404
    _reset, user = found
    can_send = recovery.contact_proves_more(session(), vault(), user)
    form = ResetForm()
    if not user.has_second_factor:
        del form.code
    if form.validate_on_submit():
        code = form.code.data if user.has_second_factor else None
        try:
            recovery.reset_password(session(), vault(), token, form.password.data, code, get_remote_address())
        except WeakPassword as exc:
            form.password.errors.append(str(exc))
        except recovery.ResetRefused as exc:
            (form.code if user.has_second_factor else form.password).errors.append(exc.translated())
        else:
            flash(_("Your password was reset and every device signed out. Please sign in."), "success")
            return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/reset_password.html", form=form, title=_("Choose a new password"), token=token, can_send=can_send
    )


@bp.post("/password/reset/<token>/lost")
@limiter.limit("5 per hour")
def reset_lost_second_factor(token: str):
    """Authenticator and recovery codes lost as well: a code to the contact
    on file stands in for them on the reset page."""
    found = recovery.valid_link(session(), token)
    if found is None:
        return render_template("accounts/reset_invalid.html"), 404
    if not recovery.contact_proves_more(session(), vault(), found[1]) or not ConfirmForm().validate_on_submit():
        return redirect(url_for("accounts.reset_password", token=token))
    try:
        recovery.send_second_factor_code(session(), vault(), found[1])
    except recovery.ResetRefused as exc:
        flash(exc.translated(), "error")
    else:
        flash(
            _(
                "A code was sent to the contact address on file for your credit file. Enter it in place of the "
                "authenticator code; two-step sign-in will be turned off."
            ),
            "success",
        )
    return redirect(url_for("accounts.reset_password", token=token))


# -- a lost second factor ------------------------------------------------------------
@bp.route("/login/two-step/lost", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def lost_second_factor():
    user = pending_sign_in()
    if user is None:
        return redirect(url_for("accounts.login"))
    form = ConfirmForm()
    can_send = recovery.second_factor_contact(session(), vault(), user) is not None
    if can_send and form.validate_on_submit():
        try:
            recovery.send_second_factor_code(session(), vault(), user)
        except recovery.ResetRefused as exc:
            flash(exc.translated(), "error")
        else:  # the window is not renewed: the code page closes 30 minutes after the password
            return redirect(url_for("accounts.lost_second_factor_code", next=request.args.get("next")))
    return render_template("accounts/lost_second_factor.html", form=form, can_send=can_send)


@bp.route("/login/two-step/lost/code", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def lost_second_factor_code():
    user = pending_sign_in(CODE_SECONDS)
    if user is None:
        return redirect(url_for("accounts.login"))
    form = ContactCodeForm()
    if form.validate_on_submit():
        try:
            recovery.turn_off_second_factor(session(), vault(), user, form.code.data, get_remote_address())
        except recovery.ResetRefused as exc:
            form.code.errors.append(exc.translated())
        else:
            signed_in = sign_in(user, url_for("accounts.two_factor_setup"))  # a new session: flash after it
            flash(_("Two-step sign-in is off and every other device was signed out. Set it up again now."), "warning")
            return signed_in
    return render_template("accounts/lost_second_factor_code.html", form=form)

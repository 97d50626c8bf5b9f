"""Registration, sign-in, second factor, account security (firm agents are
in `agent_routes`).
Routes parse and render; the rules are in the services."""

from __future__ import annotations

import functools
import time
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from portal.accounts import knowledge, registration, sessions, two_factor
from portal.accounts.forms import (
    ActivateForm,
    AskQuestionsForm,
    CodeForm,
    ConfirmForm,
    EmailForm,
    LoginForm,
    OpenAccountForm,
    PasswordForm,
    QuestionsForm,
    ReauthForm,
    RegisterForm,
    TotpSetupForm,
)
from portal.accounts.models import Role, User
from portal.accounts.services import (
    AccountExists,
    WeakPassword,
    change_email,
    check_password_policy,
    display_name,
    set_password,
    tell_user,
    user_email,
    verify_password,
)
from portal.accounts.signin import authenticate, forgive, password_stamp, pending_user, register_failure
from portal.extensions import limiter, session, vault
from portal.i18n import moment, select_locale
from portal.notifications.services import notify
from portal.records.identifiers import InvalidIdentifier
from portal.records.models import SubjectKind
from portal.redirects import safe_next

bp = Blueprint("accounts", __name__)
# Staff land on their work: officers and supervisors on the case queue,
# administrators on the operator console.
HOMES = {Role.OFFICER: "officer.queue", Role.SUPERVISOR: "officer.queue", Role.ADMINISTRATOR: "admin.home"}
PENDING = "pending_2fa"
PENDING_SECONDS = 300
QUESTIONS = "knowledge"  # the token of this browser's set of questions (the set itself stays on the server)
PREPARING_REFRESH = 2  # seconds, while the worker prepares the questions


# -- helpers ---------------------------------------------------------------
def home_of(user: User) -> str:
    """Where a user lands: staff have no credit file of their own."""
    return url_for(HOMES.get(Role(user.role), "records.dashboard"))


def sign_in(user: User, next_url: str | None):
    cookie.clear()  # a new session at every sign-in
    user.locale = select_locale()  # messages sent to them later (e-mails, alerts) are in this language
    forgive(session(), vault(), user, get_remote_address())
    login_user(sessions.start(session(), user))
    return redirect(safe_next(next_url, home_of(user)))


def pending_sign_in(seconds: int = PENDING_SECONDS) -> User | None:
    """The user who gave the password and owes the second factor, within
    `seconds`; None (with a message to sign in again) otherwise."""
    pending = cookie.get(PENDING)
    if not pending or time.time() - pending["at"] > seconds:
        cookie.pop(PENDING, None)
        flash(_("Please sign in again."), "error")
        return None
    user = pending_user(session(), vault(), pending["user"], pending.get("pw", ""), get_remote_address())
    if user is None:
        cookie.pop(PENDING, None)
        flash(
            _(
                "The e-mail address or password is wrong, or there were too many failed attempts: "
                "wait a few minutes and try again."
            ),
            "error",
        )
    return user


def _is_fresh() -> bool:
    return current_user.is_fresh_within(timedelta(minutes=current_app.config["REAUTH_MINUTES"]))


def _confirm_first():
    # After the password, come back to a page that can be shown: a form
    # posted from the account page returns there to be submitted again.
    back = request.path if request.method == "GET" else url_for("accounts.account")
    return redirect(url_for("accounts.reauthenticate", next=back))


def fresh_required(view):
    """Sensitive changes need the password again within a few minutes."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        return view(*args, **kwargs) if _is_fresh() else _confirm_first()

    return wrapped


def _tell(user: User, title: str, body: str) -> None:
    """A security notice to the user's inbox and e-mail."""
    tell_user(session(), vault(), user, title, body)


# -- registration -------------------------------------------------------------
@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            registration.ask_for_code(
                session(), vault(), SubjectKind(form.kind.data), form.identifier.data, form.name.data, select_locale()
            )
        except InvalidIdentifier as exc:
            form.identifier.errors.append(str(exc))
        else:
            return redirect(url_for("accounts.code_sent"))
    return render_template("accounts/register.html", form=form)


@bp.get("/register/sent")
def code_sent():
    return render_template("accounts/code_sent.html")


@bp.route("/register/activate", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def activate():
    form = ActivateForm()
    if form.validate_on_submit():
        try:
            registration.activate(
                session(),
                vault(),
                SubjectKind(form.kind.data),
                form.identifier.data,
                form.code.data,
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
            )
        except InvalidIdentifier as exc:
            form.identifier.errors.append(str(exc))
        except WeakPassword as exc:
            form.password.errors.append(str(exc))
        except registration.ActivationFailed:
            form.code.errors.append(_("The code is wrong, used up or expired. Check it, or ask for a new one."))
        except AccountExists:
            form.email.errors.append(_("This e-mail address is already used by an account."))
        else:
            flash(_("Your account is ready. Please sign in."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/activate.html", form=form)


def _locked(form: AskQuestionsForm, until) -> tuple[str, int]:
    form.form_errors.append(
        _(
            "There were too many attempts for this credit file or from your connection. "
            "You can try again after %(when)s, or ask for an activation code instead.",
            when=moment(until),
        )
    )
    return render_template("accounts/register_questions.html", form=form), 429


@bp.route("/register/questions", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def ask_questions():
    form = AskQuestionsForm()
    if form.validate_on_submit():
        try:
            cookie[QUESTIONS] = registration.ask_questions(
                session(),
                vault(),
                SubjectKind(form.kind.data),
                form.identifier.data,
                form.name.data,
                get_remote_address(),
            )
        except InvalidIdentifier as exc:
            form.identifier.errors.append(str(exc))
        except knowledge.Locked as exc:
            return _locked(form, exc.until)
        else:
            return redirect(url_for("accounts.answer_questions"))
    return render_template("accounts/register_questions.html", form=form)


@bp.route("/register/questions/answer", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def answer_questions():
    row = knowledge.challenge(session(), cookie.get(QUESTIONS))
    if row is not None and row.prepared_at is None:  # the worker has not prepared them yet
        response = current_app.make_response(render_template("accounts/register_preparing.html"))
        response.headers["Refresh"] = str(PREPARING_REFRESH)
        return response
    if row is not None and row.passed:
        return redirect(url_for("accounts.open_account"))
    if row is None or not knowledge.is_open(row):
        flash(_("These questions have expired or were answered already. Ask for them again."), "error")
        return redirect(url_for("accounts.ask_questions"))
    form = QuestionsForm()
    form.ask(knowledge.shown(session(), row))
    if form.validate_on_submit():
        try:
            passed = knowledge.answer(session(), vault(), row, form.chosen(), get_remote_address())
        except knowledge.Locked as exc:
            return _locked(AskQuestionsForm(formdata=None), exc.until)
        except LookupError:
            return redirect(url_for("accounts.answer_questions"))
        if passed:
            return redirect(url_for("accounts.open_account"))
        return render_template("accounts/register_failed.html")
    return render_template("accounts/register_answer.html", form=form)


@bp.route("/register/questions/account", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def open_account():
    if knowledge.passed_challenge(session(), cookie.get(QUESTIONS)) is None:
        flash(_("Answer the questions about your records first."), "error")
        return redirect(url_for("accounts.ask_questions"))
    form = OpenAccountForm()
    if form.validate_on_submit():
        try:
            registration.open_account_by_knowledge(
                session(),
                vault(),
                cookie.get(QUESTIONS),
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
            )
        except WeakPassword as exc:
            form.password.errors.append(str(exc))
        except AccountExists:
            form.email.errors.append(_("This e-mail address is already used by an account."))
        except registration.FileHasAccount:
            form.form_errors.append(
                _("This credit file already has an account. Sign in, or reset the password if you forgot it.")
            )
        except registration.ActivationFailed:
            return redirect(url_for("accounts.ask_questions"))
        else:
            cookie.pop(QUESTIONS, None)
            flash(_("Your account is ready. Please sign in."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/register_account.html", form=form)


# -- sign in and out --------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 60 per hour", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_of(current_user.user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(session(), vault(), form.email.data, form.password.data, get_remote_address())
        if user is None:
            form.form_errors.append(
                _(
                    "The e-mail address or password is wrong, or there were too many failed attempts: "
                    "wait a few minutes and try again."
                )
            )
        elif user.has_second_factor:
            cookie.clear()
            cookie[PENDING] = {"user": str(user.id), "at": int(time.time()), "pw": password_stamp(user)}
            return redirect(url_for("accounts.second_factor", next=request.args.get("next")))
        else:
            return sign_in(user, request.args.get("next"))
    return render_template("accounts/login.html", form=form)


@bp.route("/login/two-step", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def second_factor():
    user = pending_sign_in()
    if user is None:
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit() and user is not None:
        code = form.code.data.strip()
        if two_factor.verify(session(), vault(), user, code):
            return sign_in(user, request.args.get("next"))
        if two_factor.use_recovery_code(session(), vault(), user, code):
            left = two_factor.recovery_codes_left(session(), user)
            _tell(
                user,
                _("A recovery code was used"),
                _("You signed in with a recovery code. %(n)d codes are left.", n=left),
            )
            flash(_("You signed in with a recovery code; %(n)d are left.", n=left), "warning")
            return sign_in(user, request.args.get("next"))
        register_failure(session(), vault(), user, get_remote_address())
        form.code.errors.append(_("This code is not valid. Codes change every 30 seconds."))
    return render_template("accounts/second_factor.html", form=form)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sessions.revoke(session(), current_user.auth)
    logout_user()
    cookie.clear()
    flash(_("You are signed out."), "success")
    return redirect(url_for("site.index"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    sessions.revoke_all(session(), current_user.user)
    logout_user()
    cookie.clear()
    flash(_("You are signed out on every device."), "success")
    return redirect(url_for("accounts.login"))


# -- account security ---------------------------------------------------------
@bp.get("/account")
@login_required
def account():
    user = current_user.user
    return render_template(
        "accounts/account.html",
        user=user,
        email=user_email(session(), vault(), user),
        name=display_name(session(), vault(), user),
        sessions=sessions.active_sessions(session(), user),
        current=current_user.auth,
        codes_left=two_factor.recovery_codes_left(session(), user),
        form=ConfirmForm(),
    )


@bp.route("/account/confirm", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def reauthenticate():
    form = ReauthForm()
    if form.validate_on_submit():
        if verify_password(current_user.user, form.password.data):
            sessions.mark_reauthenticated(session(), current_user.auth)
            return redirect(safe_next(request.args.get("next"), url_for("accounts.account")))
        register_failure(session(), vault(), current_user.user, get_remote_address())
        form.password.errors.append(_("The password is wrong."))
    return render_template("accounts/reauthenticate.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@fresh_required
def change_password():
    form = PasswordForm()
    user = current_user.user
    if form.validate_on_submit():
        try:
            check_password_policy(form.password.data, user_email(session(), vault(), user))
        except WeakPassword as exc:
            form.password.errors.append(str(exc))
        else:
            set_password(session(), user, form.password.data)
            sessions.revoke_all(session(), user, keep=current_user.auth)
            _tell(
                user,
                _("Your password was changed"),
                _(
                    "The password of your account was changed and other devices were signed out. "
                    "If this was not you, contact us at once."
                ),
            )
            flash(_("Password changed. Other devices were signed out."), "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/form_page.html", form=form, title=_("Change password"))


@bp.route("/account/email", methods=["GET", "POST"])
@login_required
@fresh_required
def change_email_address():
    form = EmailForm()
    user = current_user.user
    if form.validate_on_submit():
        old = user_email(session(), vault(), user)
        try:
            change_email(session(), vault(), user, form.email.data)
        except AccountExists:
            form.email.errors.append(_("This e-mail address is already used by an account."))
        else:
            notify(
                session(),
                vault(),
                key_id=user.data_key_id,
                email=old,
                title=_("Your e-mail address was changed"),
                body=_(
                    "The sign-in address of your account is no longer this one. If this was not you, "
                    "contact us at once."
                ),
            )
            _tell(user, _("Your e-mail address was changed"), _("This is now the sign-in address of your account."))
            flash(_("E-mail address changed."), "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/form_page.html", form=form, title=_("Change e-mail address"))


@bp.route("/account/two-step", methods=["GET", "POST"])
@login_required
def two_factor_setup():
    user = current_user.user
    if user.has_second_factor and not _is_fresh():  # replacing a second factor needs the password again
        return _confirm_first()
    form = TotpSetupForm()
    secret = cookie.get("totp_setup")
    if request.method == "GET" or not secret:
        secret = cookie["totp_setup"] = two_factor.new_secret()
    if form.validate_on_submit():
        step = two_factor.setup_step(secret, form.code.data)
        if step is not None:
            codes = two_factor.enable(session(), vault(), user, secret, step)
            cookie.pop("totp_setup", None)
            _tell(
                user,
                _("Two-step sign-in is on"),
                _("Your account now asks for a code from your authenticator app at sign-in."),
            )
            return render_template("accounts/recovery_codes.html", codes=codes)
        form.code.errors.append(_("This code is not valid. Check the time on your phone and try again."))
    uri = two_factor.provisioning_uri(secret, user_email(session(), vault(), user))
    return render_template(
        "accounts/two_factor_setup.html",
        form=form,
        secret=secret,
        qr=Markup(two_factor.qr_svg(uri)),  # noqa: S704  segno's SVG: the URI is drawn, not text
        required=user.role.needs_second_factor,
    )


@bp.post("/account/two-step/off")
@login_required
@fresh_required
def two_factor_off():
    user = current_user.user
    if user.role.needs_second_factor:
        abort(403)
    if ConfirmForm().validate_on_submit():
        two_factor.disable(session(), vault(), user)
        _tell(user, _("Two-step sign-in is off"), _("Your account no longer asks for a code at sign-in."))
        flash(_("Two-step sign-in is off."), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/recovery-codes")
@login_required
@fresh_required
def recovery_codes():
    user = current_user.user
    if not user.has_second_factor or not ConfirmForm().validate_on_submit():
        return redirect(url_for("accounts.account"))
    codes = two_factor.new_recovery_codes(session(), vault(), user)
    _tell(user, _("New recovery codes"), _("New recovery codes were made; the old ones no longer work."))
    return render_template("accounts/recovery_codes.html", codes=codes)

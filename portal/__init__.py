"""Credit-subject rights portal.

Every `import portal.<anything>` runs this module first, so it imports only
what is light and low (config, db) at the top. The register_* steps of
`create_app` import the extensions, areas and blueprints they wire up
inside their bodies: at the top, importing any submodule would import every
area (and the areas import those low modules, which would be circular)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from portal import config
from portal.db import KEEP_REFUSED, Database

_HERE = Path(__file__).resolve().parent


def _asset_dir(name: str) -> str:
    # Installed wheel: portal/<name>; source checkout: <repo>/<name>.
    inside = _HERE / name
    return str(inside if inside.is_dir() else _HERE.parent / name)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=config.instance_path(),
        instance_relative_config=True,
        template_folder=_asset_dir("templates"),
        static_folder=_asset_dir("static"),
    )
    config.load(app, test_config)
    if app.config["PROXY_COUNT"]:
        # Behind a reverse proxy: trust its X-Forwarded-* headers, so rate
        # limits and the local-only demo outbox see the real client.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["PROXY_COUNT"])
        # Flask's documented way to add WSGI middleware; Flask types wsgi_app as a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    register_observability(app)  # first: its hooks time and log whatever the others do
    register_db(app)
    register_extensions(app)
    register_auth(app)
    register_security_headers(app)
    register_blueprints(app)
    register_errors(app)
    register_cli(app)
    return app


def register_observability(app: Flask) -> None:
    """JSON logs with request ids and access lines, /healthz, /readyz and
    /metrics."""
    from portal.migrations import at_head  # in the step: see the module's note
    from portal.site import health, logs

    logs.register(app)
    health.register(app, at_head)  # readiness asks the migrations, a layer above the site's


def register_db(app: Flask) -> None:
    """One transaction per request, committed once at the end. Rolled back
    instead when the answer is an error (5xx) or a refusal (4xx: nothing a
    refused request did stays, unless a service marked it as the record of
    a refused attempt, `keep_refused_attempt`), and when a flush failed (a
    stale case, say, even when the page then redirects). E-mails go out
    after the commit."""
    from portal.notifications.services import PENDING, deliver_soon  # in the step: see the module's note

    db = Database(app.config["DATABASE_URL"])
    app.extensions["portal.db"] = db

    @app.after_request
    def _commit(response: Response) -> Response:
        session = db.session()
        keep = session.info.pop(KEEP_REFUSED, False)
        status = response.status_code
        if status >= 500 or (status >= 400 and not keep) or not session.is_active:
            session.rollback()
            session.info.pop(PENDING, None)  # those messages were rolled back too
            return response
        session.commit()
        if pending := session.info.pop(PENDING, None):
            deliver_soon(app, pending)
        return response

    @app.teardown_appcontext
    def _remove(_exc: BaseException | None) -> None:
        db.session.remove()  # rolls back whatever was not committed


def register_extensions(app: Flask) -> None:
    # In the step, as in every register_* step: see the module's note.
    from portal import i18n
    from portal.extensions import babel, csrf, limiter

    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_locale=i18n.DEFAULT,
        default_translation_directories=str(_HERE / "translations"),
    )
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.register(app)


def register_auth(app: Flask) -> None:
    from portal.accounts import sessions  # in the step: see the module's note
    from portal.extensions import login_manager, session

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None  # the sign-in page says why on its own
    idle = timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"])
    absolute = timedelta(hours=app.config["ABSOLUTE_TIMEOUT_HOURS"])

    @login_manager.user_loader
    def _load(token: str):
        return sessions.load(session(), token, idle, absolute)

    @app.before_request
    def _require_second_factor():
        """Roles that must use a second factor can do nothing else until
        they have set one up."""
        if (
            current_user.is_authenticated
            and current_user.role.needs_second_factor
            and not current_user.user.has_second_factor
            and request.endpoint
            not in {
                "accounts.two_factor_setup",
                "accounts.reauthenticate",
                "accounts.logout",
                "site.language",
                "static",
            }
        ):
            return redirect(url_for("accounts.two_factor_setup"))
        return None


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        )
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        if app.config["SESSION_COOKIE_SECURE"]:  # served over HTTPS: only ever over HTTPS
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint not in ("static", "tiles.tile") or response.status_code != 200:
            # Pages may hold personal data: never keep them in a cache. (The
            # log's tiles hold hashes only, and never change.)
            h["Cache-Control"] = "no-store"
        return response


def register_blueprints(app: Flask) -> None:
    # In the step: each blueprint imports its whole area (see the module's note).
    from portal.access.routes import bp as access
    from portal.accounts import recovery_routes  # noqa: F401  # its routes join the accounts blueprint
    from portal.accounts.agent_routes import bp as agents
    from portal.accounts.routes import bp as accounts
    from portal.admin.institution_routes import bp as admin_institutions
    from portal.admin.invitation_routes import bp as staff_invitations
    from portal.admin.proposal_routes import bp as admin_proposals
    from portal.admin.routes import bp as admin
    from portal.admin.staff_routes import bp as admin_staff
    from portal.api.routes import bp as api  # the institution API: problem+json errors, no CSRF
    from portal.audit.log_routes import bp as transparency
    from portal.audit.log_routes import tiles, witness_policy
    from portal.compliance.alert_routes import bp as alerts
    from portal.compliance.erasure_routes import bp as erasure  # erasure requests, and closing an account
    from portal.compliance.oversight_routes import bp as oversight
    from portal.compliance.routes import bp as officer
    from portal.compliance.statistics_routes import bp as statistics
    from portal.compliance.supervision_routes import bp as supervision
    from portal.disputes.routes import bp as disputes
    from portal.notifications.routes import bp as notifications
    from portal.repair.routes import bp as repair
    from portal.reports.routes import bp as records
    from portal.site import verify  # noqa: F401  # its page joins the site blueprint
    from portal.site.routes import bp as site

    for bp in (
        site,
        accounts,
        agents,
        records,
        access,
        disputes,
        repair,
        officer,
        statistics,
        alerts,
        oversight,
        supervision,
        erasure,
        admin,
        admin_institutions,
        admin_staff,
        admin_proposals,
        staff_invitations,
        notifications,
        transparency,
        tiles,
        api,
    ):
        app.register_blueprint(bp)
    witness_policy(app)  # a malformed WITNESSES setting stops start-up, saying why


def register_errors(app: Flask) -> None:
    def page(code: int):
        def handler(error):
            g.error = error
            return render_template("errors.html", code=code, error=error), code

        return handler

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, page(code))
    app.register_error_handler(CSRFError, page(400))


def register_cli(app: Flask) -> None:
    from portal.cli import register  # the commands import every area: see the module's note

    register(app)
